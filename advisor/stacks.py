"""Candidate stacks: a path model -> quantization (artifact) -> runtime -> backend -> hardware in a networkx
graph; only the edges the knowledge base allows exist (a runtime loads the quantization and the architecture, runs
on a backend the hardware has, on the hardware's platform; built-ins only through their platform API on Copilot+
hardware and on the dates they are offered; Mu has no API and no edge at all). Also why a model has no stack at
all (`unreachable`), as data."""

from __future__ import annotations

from typing import Optional

from .estimate import HardwareSpec, choose_backend
from .kb import Catalog
from .lifecycle import offered
from .requirements import Requirements
from .schemas import Model

# quantizations llama.cpp-family runtimes can make from any supported checkpoint
GGUF_DEFAULT = ("q8_0", "q6_k", "q5_k_m", "q4_k_m", "iq4_xs", "q4_0", "q3_k_m")
# quantizations MLX makes when converting a safetensors checkpoint (mlx_lm.convert / mlx_vlm.convert -q)
MLX_DERIVED = ("mlx_4bit", "mlx_8bit")


def enumerate_stacks(cat: Catalog, hw: HardwareSpec, req: Requirements) -> dict[str, list[tuple[str, str, str]]]:
    """model -> its (quantization, runtime, backend) stacks that this hardware and platform allow."""
    platform = req.platform or hw.platform
    out: dict[str, list[tuple[str, str, str]]] = {}
    backend_of: dict[str, Optional[str]] = {}
    per_quant: dict[tuple[str, str], list[tuple[str, str, str]]] = {}

    def allowed(q: str, availability: str, api_runtime: Optional[str]) -> list[tuple[str, str, str]]:
        """(q, runtime, backend) for one quantization: the same for every model of that availability."""
        key = (q, api_runtime or availability)
        hit = per_quant.get(key)
        if hit is not None:
            return hit
        hit = []
        for rid, rt in cat.runtimes.items():
            if q not in rt.quantizations:
                continue
            if availability == "platform-builtin" and rid != api_runtime:
                continue
            if availability == "open-weights" and rt.kind == "platform-api":
                continue
            if req.runtimes and rid not in req.runtimes:
                continue
            if platform and platform not in rt.platforms:
                continue
            if q in rt.quantization_cpu_arch and hw.cpu_arch and hw.cpu_arch not in rt.quantization_cpu_arch[q]:
                continue  # no kernels for this CPU (bitnet.cpp: TL1 on ARM, TL2 on x86)
            if rid not in backend_of:
                backend_of[rid] = choose_backend(rt.backends, hw)
            if backend_of[rid] is not None:
                hit.append((q, rid, backend_of[rid]))
        per_quant[key] = hit
        return hit

    default = sorted(GGUF_DEFAULT)
    on = req.on
    for mid, m in cat.models.items():
        api_rt = None
        if m.availability == "system-component":
            continue  # no API: never a stack
        if offered(m, on) is not None:
            continue  # not offered on that date (not yet released, or retired)
        if m.availability == "platform-builtin":
            api = m.platform_api
            if api is None:
                continue
            rt = cat.runtimes.get(api.runtime)
            npu_ok = api.min_npu_tops is None or _npu_tops(cat, hw) >= api.min_npu_tops
            if rt is None or platform != "windows" or not npu_ok:
                continue
            quants = [a.quantization for a in m.artifacts] or ["platform"]
            api_rt = api.runtime
        elif m.artifacts:
            quants = {a.quantization for a in m.artifacts} | set(GGUF_DEFAULT)
            if any(a.format == "safetensors" for a in m.artifacts):
                quants |= set(MLX_DERIVED)
            quants = sorted(quants)
        else:
            quants = default
        if m.quantizations_only is not None:  # its own formats only (BitNet)
            quants = sorted(set(m.quantizations_only))
        stacks = [s for q in quants for s in allowed(q, m.availability, api_rt)
                  if runtime_loads(cat.runtimes[s[1]], m, q, mid) is None]
        if stacks:
            out[mid] = stacks
    return out


def runtime_loads(rt, m: Model, q: str, model_id: Optional[str] = None) -> Optional[dict]:
    """None when this runtime loads this model in this quantization; otherwise why not, as data. The rules come
    from the runtime's knowledge entry (architectures it does not load, or only in some quantizations), and a
    runtime that loads only published files (LiteRT-LM) needs one of that quantization in its format."""
    if rt.catalog and model_id is not None and model_id not in rt.catalog:
        return {"cause": "not-in-runtime-catalog", "model": model_id}
    if rt.published_only and not any(a.quantization == q and a.format in rt.formats for a in m.artifacts):
        return {"cause": "no-published-file", "quantization": q, "formats": list(rt.formats)}
    hf_class = m.architecture.hf_class if m.architecture is not None else None
    for rule in rt.architecture_rules:
        if rule.hf_class != hf_class:
            continue
        if not rule.loads:
            return {"cause": "architecture", "hf_class": hf_class, "note": rule.note}
        if rule.quantizations is not None and q not in rule.quantizations:
            return {"cause": "architecture-quantization", "hf_class": hf_class, "quantizations": list(rule.quantizations)}
    return None


def stack_graph(cat: Catalog, hw: HardwareSpec, req: Requirements, stacks=None):
    """networkx DiGraph of the stacks this hardware and platform allow (or of the given stacks)."""
    import networkx as nx

    g = nx.DiGraph()
    hw_node = ("hardware", hw.hardware_id or hw.name)
    g.add_node(hw_node)
    if stacks is None:
        stacks = [(mid, *s) for mid, ss in enumerate_stacks(cat, hw, req).items() for s in ss]
    for mid, q, rid, backend in stacks:
        g.add_edge(("model", mid), ("quant", mid, q))
        g.add_edge(("quant", mid, q), ("runtime", mid, q, rid))
        g.add_edge(("runtime", mid, q, rid), ("backend", mid, q, rid, backend))
        g.add_edge(("backend", mid, q, rid, backend), hw_node)
    return g


def graph_paths(g) -> list[tuple[str, str, str, str]]:
    """(model, quantization, runtime, backend) of every model -> ... -> hardware path of a stack graph."""
    import networkx as nx

    hw_nodes = [n for n in g.nodes if n[0] == "hardware"]
    out = []
    for n in g.nodes:
        if n[0] != "model":
            continue
        for hw_node in hw_nodes:
            for path in nx.all_simple_paths(g, n, hw_node):
                _, mid, q, rid, backend = path[-2]
                out.append((mid, q, rid, backend))
    return out


def stack_paths(cat: Catalog, hw: HardwareSpec, req: Requirements,
                by_model: Optional[dict[str, list[tuple[str, str, str]]]] = None) -> list[tuple[str, str, str, str]]:
    """The paths of stack_graph (of `by_model`, enumerate_stacks' result, when given), cached per knowledge
    tree and hardware class.

    The graph's paths depend only on the catalog, the platform, the runtimes allowed, the backend
    each runtime gets on this hardware and the NPU's TOPS, so they are computed once per such class
    (in the user's cache folder, next to the catalog; ADVISOR_NO_CACHE turns it off) and a later
    run with the same class reads them instead of rebuilding the graph.
    """
    import os
    import pickle

    from .kb import cache_dir, write_cache

    platform = req.platform or hw.platform
    backends = tuple((rid, choose_backend(rt.backends, hw)) for rid, rt in cat.runtimes.items()) + (hw.cpu_arch,)
    st = os.stat(__file__)  # the edge rules live in this module
    on = req.on
    absent = tuple(sorted(mid for mid, m in cat.models.items() if offered(m, on) is not None))
    cls = (platform, backends, _npu_tops(cat, hw), tuple(req.runtimes or ()), absent, st.st_size, st.st_mtime_ns)
    d = cache_dir() if cat.key else None
    path = d / f"stacks-{cat.key}.pickle" if d is not None else None
    table: dict = {}
    if path is not None and path.exists():
        try:
            with open(path, "rb") as f:
                table = pickle.load(f)
            hit = table.get(cls)
            if hit is not None:
                return hit
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt
            table = {}
    stacks = None if by_model is None else [(mid, *rest) for mid, v in by_model.items() for rest in v]
    paths = graph_paths(stack_graph(cat, hw, req, stacks))
    if path is not None:
        table[cls] = paths
        write_cache(path, table, "stacks-*.pickle")
    return paths


def _npu_tops(cat: Catalog, hw: HardwareSpec) -> float:
    if hw.hardware_id and hw.hardware_id in cat.hardware:
        return cat.hardware[hw.hardware_id].npu_tops or 0.0
    return 0.0


def unreachable(cat: Catalog, hw: HardwareSpec, req: Requirements, m: Model, model_id: Optional[str] = None
                ) -> list[dict]:
    """Why a model has no stack at all on this hardware and platform, as data (cause + details)."""
    platform = req.platform or hw.platform
    if m.availability == "system-component":
        return [{"cause": "no-api", "detail": m.availability}]
    gone = offered(m, req.on)
    if gone is not None:
        return [{**gone, "as_of": req.on.isoformat()}]
    if m.availability == "platform-builtin":
        api = m.platform_api
        if api is None:
            return [{"cause": "no-api", "detail": m.availability}]
        out = []
        if platform != "windows":
            out.append({"cause": "platform", "required": "windows", "actual": platform, "runtime": api.runtime})
        if api.min_npu_tops is not None and _npu_tops(cat, hw) < api.min_npu_tops:
            out.append({"cause": "npu", "required": api.min_npu_tops, "actual": _npu_tops(cat, hw), "unit": "TOPS",
                        "runtime": api.runtime})
        if req.runtimes and api.runtime not in req.runtimes:
            out.append({"cause": "runtime", "required": [api.runtime], "actual": list(req.runtimes)})
        return out
    out = []
    runtimes = [rid for rid, rt in cat.runtimes.items() if rt.kind != "platform-api"]
    if req.runtimes:
        allowed = [r for r in runtimes if r in req.runtimes]
        if not allowed:
            out.append({"cause": "runtime", "required": list(runtimes), "actual": list(req.runtimes)})
        runtimes = allowed
    loaders = [r for r in runtimes if any(runtime_loads(cat.runtimes[r], m, q, model_id) is None
                                          for q in cat.runtimes[r].quantizations)]
    if runtimes and not loaders:
        reasons = [runtime_loads(cat.runtimes[r], m, cat.runtimes[r].quantizations[0], model_id) for r in runtimes]
        if all(x and x["cause"] == "not-in-runtime-catalog" for x in reasons):
            out.append({"cause": "runtime-catalog", "actual": list(runtimes)})
        else:
            out.append({"cause": "architecture", "hf_class": m.architecture.hf_class if m.architecture else None,
                        "actual": list(runtimes)})
    runtimes = loaders
    on_platform = [r for r in runtimes if not platform or platform in cat.runtimes[r].platforms]
    if runtimes and not on_platform:
        out.append({"cause": "platform", "required": platform, "actual": list(runtimes)})
    if on_platform and not any(choose_backend(cat.runtimes[r].backends, hw) for r in on_platform):
        out.append({"cause": "backend", "required": sorted({b for r in on_platform for b in cat.runtimes[r].backends}),
                    "actual": list(hw.backends)})
    return out or [{"cause": "no-stack"}]
