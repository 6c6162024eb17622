"""Candidate stacks, hard constraints, ranking and infeasibility causes.

A stack is a path model -> quantization (artifact) -> runtime -> backend -> hardware in a
networkx graph; only edges the knowledge base allows exist (a runtime loads the
quantization, runs on a backend the hardware has, on the hardware's platform; Phi Silica
only through the Windows AI APIs on Copilot+ hardware; Mu has no API and no edge at all).
Every path is evaluated (memory, speed), checked against the hard constraints, and either
ranked or rejected with its violations as data. Words are made in advisor.explain.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

from .estimate import HardwareSpec, apply_measured, choose_backend, cpu_side_speed, listed_bytes, offload_for
from .offload import offload_speed
from .artifacts import artifact_for
from .kb import Catalog
from .lifecycle import offered
from .memory import Target, estimate_memory
from .requirements import Requirements, license_ok
from .schemas import Model
from .speed import efficiency, estimate_speed
from .weights import quant_weights

# quantizations llama.cpp-family runtimes can make from any supported checkpoint
GGUF_DEFAULT = ("q8_0", "q6_k", "q5_k_m", "q4_k_m", "iq4_xs", "q4_0", "q3_k_m")
# quantizations MLX makes when converting a safetensors checkpoint (mlx_lm.convert / mlx_vlm.convert -q)
MLX_DERIVED = ("mlx_4bit", "mlx_8bit")

TASK_BENCHMARKS = {
    "math": ("MATH", "GSM8K", "AIME", "HiddenMath", "MGSM"),
    "code": ("HumanEval", "MBPP", "LiveCodeBench"),
    "reasoning": ("GPQA", "AIME", "MATH-500", "BigBench", "BBH"),
    "thinking-mode": ("GPQA", "AIME", "MATH-500"),
    "chat": ("MMLU", "IFEval", "GPQA", "Arena"),
}
MULTILINGUAL_BENCHMARKS = ("MMMLU", "Global", "MGSM", "WMT")


# constraint ids, as the JSON carries them
MEMORY, LANGUAGE, MODALITY, RUNTIME_MODALITY, TASK, CONTEXT = (
    "memory", "language", "modality", "runtime_modality", "task", "context")
DECODE, TTFT, LICENSE, DOWNLOAD = "decode_tps", "ttft_ms", "license", "download"
SPEED_CONSTRAINTS = (DECODE, TTFT)  # what only a run measures


@dataclass
class Violation:
    """A broken constraint as data: the limit the requirements set, the stack's figure and its unit (numbers
    for quantities, ids for the rest). Sentences are made in advisor.explain."""

    constraint: str
    required: object
    actual: object
    unit: Optional[str] = None
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"constraint": self.constraint, "required": self.required, "actual": self.actual, "unit": self.unit}
        return {**out, **self.detail}


@dataclass
class Note:
    """A constraint met only by a claim or an extension (shown beside the pick), as data."""

    kind: str  # "language_claim" | "context_extension"
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, **self.detail}


@dataclass
class Candidate:
    model_id: str
    model: Model
    quant: str
    runtime: str
    backend: str
    memory: object = None
    speed: object = None
    quality: float = 0.0
    quality_basis: str = ""
    download_gb: float = 0.0
    violations: list[Violation] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    score: float = 0.0
    offload: object = None  # advisor.offload.OffloadPlan: -ngl N when the model fits only VRAM + RAM
    artifact: dict = field(default_factory=dict)  # advisor.artifacts.artifact_for: published or to be made

    @property
    def feasible(self) -> bool:
        return not self.violations


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
                  if runtime_loads(cat.runtimes[s[1]], m, q) is None]
        if stacks:
            out[mid] = stacks
    return out


def runtime_loads(rt, m: Model, q: str) -> Optional[dict]:
    """None when this runtime loads this model in this quantization; otherwise why not, as data. The rules come
    from the runtime's knowledge entry (architectures it does not load, or only in some quantizations), and a
    runtime that loads only published files (LiteRT-LM) needs one of that quantization in its format."""
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


@lru_cache(maxsize=4096)
def canonical_benchmark(name: str) -> str:
    """One key per benchmark however cards spell it: 'GPQA Diamond' = 'GPQA-Diamond', 'AIME'24' = 'AIME 2024'."""
    import re

    n = name.lower()
    n = re.sub(r"\(.*?\)", "", n)
    n = n.replace("'24", " 2024").replace("'25", " 2025")
    n = re.sub(r"[^a-z0-9+]+", "", n)
    for pre, key in (("gpqa", "gpqa"), ("livecodebench", "livecodebench"), ("ifevalstrict", "ifeval"),
                     ("bigbenchhard", "bbh"), ("mmlupro", "mmlupro"), ("mmluredux", "mmluredux"),
                     ("globalmmlu", "globalmmlu"), ("mgsm", "mgsm")):
        if n.startswith(pre):
            return key
    return n


@dataclass
class BenchmarkStats:
    """Per benchmark, the mean and spread of the scores of the catalog's models that report it."""

    stats: dict          # canonical name -> (mean, sd, n models)
    size_fit: tuple      # (a, b): expected T-score = a + b x log2(params_b) over the models with scores
    min_models: int = 3


_STATS: dict[int, BenchmarkStats] = {}
SHRINK = 2.0  # pseudo-benchmarks at the size-expected score (see quality_base)


def benchmark_stats(cat: Catalog) -> BenchmarkStats:
    key = id(cat.models)
    hit = _STATS.get(key)
    if hit is not None:
        return hit
    per: dict[str, list[float]] = {}
    for m in cat.models.values():
        best: dict[str, float] = {}
        for b in m.benchmarks:
            if b.unit == "%":
                k = canonical_benchmark(b.name)
                best[k] = max(best.get(k, 0.0), b.value)  # a model's best mode (e.g. thinking) counts
        for k, v in best.items():
            per.setdefault(k, []).append(v)
    stats = {}
    for k, vs in per.items():
        if len(vs) >= 2:
            mu = sum(vs) / len(vs)
            sd = (sum((v - mu) ** 2 for v in vs) / (len(vs) - 1)) ** 0.5
            stats[k] = (mu, max(sd, 1.0), len(vs))
    bs = BenchmarkStats(stats, (50.0, 0.0))
    xs, ys = [], []
    for m in cat.models.values():
        t = _t_score(m, bs, None)
        if t is not None and _text_params_b(m):
            xs.append(math.log2(_text_params_b(m)))
            ys.append(t[0])
    if len(xs) >= 3:
        mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
        sxx = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
        bs.size_fit = (my - slope * mx, slope)
    _STATS[key] = bs
    return bs


def _text_params_b(m: Model) -> Optional[float]:
    """Parameters of the language model (encoders left out), in billions; None where no size is published."""
    if m.architecture is None:
        return m.params_b
    from .arch import count_params

    return count_params(m.architecture).total / 1e9


def _relevant_keys(req: Optional[Requirements]) -> Optional[tuple[str, ...]]:
    if req is None:
        return None
    keys: list[str] = []
    for t in req.tasks or ["chat"]:
        keys += TASK_BENCHMARKS.get(t, TASK_BENCHMARKS["chat"])
    if any(x != "en" for x in req.languages):
        keys += MULTILINGUAL_BENCHMARKS
    return tuple(canonical_benchmark(k) for k in keys)


def _t_score(m: Model, bs: BenchmarkStats, keys: Optional[tuple[str, ...]]) -> Optional[tuple[float, list[str]]]:
    """50 + 10 x the mean z-score of the model's benchmarks (those matching `keys`; all when None)."""
    best: dict[str, float] = {}
    for b in m.benchmarks:
        if b.unit != "%":
            continue
        k = canonical_benchmark(b.name)
        st = bs.stats.get(k)
        if st is None or st[2] < bs.min_models:
            continue
        if keys is not None and not any(k.startswith(x) or x.startswith(k) for x in keys):
            continue
        best[k] = max(best.get(k, 0.0), b.value)
    if not best:
        return None
    zs = [(v - bs.stats[k][0]) / bs.stats[k][1] for k, v in best.items()]
    return 50 + 10 * sum(zs) / len(zs), sorted(best)


def quality_base(m: Model, req: Requirements, cat: Catalog) -> tuple[float, str]:
    """The model's task quality before quantization, comparable across models.

    Cards report different benchmarks, and raw percentages of different benchmarks are not
    comparable (IFEval scores run higher than GPQA's). So each benchmark reported by at least
    three catalog models is standardised over those models, and the score is a T-score:
    50 + 10 x the mean z of the model's task-relevant benchmarks (a model's best mode counts).
    Without a relevant benchmark, the T-score expected for its parameter count (a line fitted
    over the catalog's scored models); a card's benchmarks for other tasks are not used.
    """
    bs = benchmark_stats(cat)
    a, b = bs.size_fit
    size = _text_params_b(m)
    keys = _relevant_keys(req)
    t = _t_score(m, bs, keys)
    if size is None:
        # a built-in whose vendor publishes neither size nor benchmarks: the catalog's average, said so
        if t is None:
            return 50.0, "no published size or benchmark: the catalog's average T-score (50)"
        return t[0], f"T-score {t[0]:.1f} over {len(t[1])} task benchmarks ({', '.join(t[1])}); no published size"
    prior = a + b * math.log2(size)
    what = "task benchmarks"
    if t is None:
        # benchmarks of other tasks say little here (a coder's HumanEval is not chat quality)
        return prior, ("no comparable benchmark for this task in the knowledge base: the T-score expected "
                       f"for {size:.2g} B language-model parameters from the catalog's scored models")
    n = len(t[1])
    # a card that reports few benchmarks may report its best: shrink toward the size-expected score
    score = (n * t[0] + SHRINK * prior) / (n + SHRINK)
    what = what if n > 1 else what[:-1]
    return score, (f"T-score {t[0]:.1f} over {n} {what} compared across the catalog ({', '.join(t[1])}), "
                   f"shrunk toward {prior:.1f} expected at {size:.2g} B")


def quality_score(m: Model, req: Requirements, cat: Catalog, quant: str) -> tuple[float, str]:
    """Task quality (quality_base) less the quantization's loss."""
    return _with_loss(quality_base(m, req, cat), cat, quant, m)


def _with_loss(base: tuple[float, str], cat: Catalog, quant: str, m: Optional[Model] = None) -> tuple[float, str]:
    q, basis = base
    if m is not None and m.quantizations_only and quant in m.quantizations_only:
        return q, basis + f", in its native format {quant} (no loss: the weights are trained at this precision)"
    loss = quant_loss_pct(cat, quant)
    if loss:
        basis += f", less {loss:.1f}% for {cat.quantizations[quant].name if quant in cat.quantizations else quant}"
    return q * (1 - loss / 100), basis


def quant_loss_pct(cat: Catalog, quant: str) -> float:
    """Relative quality loss: 100 x KL divergence vs 16-bit where the knowledge base has it."""
    q = cat.quantizations.get(quant)
    if q is None:
        return 0.0
    klds = [x.value for x in q.quality if x.metric == "kld"]
    if klds:
        return min(30.0, 100 * min(klds))
    bits = q.bits_per_weight
    return 0.0 if bits >= 8 else min(30.0, (8 - bits) ** 2 * 0.25)


def evaluate(cat: Catalog, hw: HardwareSpec, req: Requirements, profiles=(), *, stats: dict | None = None
             ) -> list[Candidate]:
    """Every allowed stack, evaluated exactly and checked; above SCREEN_THRESHOLD stacks a vectorised
    screen (advisor.screen) first picks the ones worth the exact evaluation."""
    budget_gb = req.vram_gb or req.ram_gb or hw.memory_gb
    models = dict(cat.models)
    all_profiles = list(cat.profiles.values()) + list(profiles)
    eff_cache: dict = {}

    from .speed import _runtime_group

    def eff_for(rid, backend, q):
        # on CPUs the fit covers every weight type at once; elsewhere it prefers the same quantization
        key = (_runtime_group(rid), backend) + ((q,) if backend != "cpu" else ())
        if key not in eff_cache:
            eff_cache[key] = efficiency(all_profiles, models, rid, backend, hw.fingerprint, quant=q,
                                        cpu_model=hw.cpu_model, threads=hw.threads, cpu_tflops=hw.cpu_tflops)
        return eff_cache[key]

    by_model = enumerate_stacks(cat, hw, req)
    n_stacks = sum(len(v) for v in by_model.values())
    chosen = None
    if n_stacks <= _screen_threshold():
        chosen = stack_paths(cat, hw, req, by_model)
        if stats is not None:
            stats.update(screened=0, passed=n_stacks, refined=n_stacks)
    else:
        from .screen import screen

        open_w = {mid: v for mid, v in by_model.items() if cat.models[mid].availability == "open-weights"}
        res = screen(cat, hw, req, open_w, eff_for, req.top)
        chosen = res.keep + [(mid, *s) for mid, v in by_model.items() if mid not in open_w for s in v]
        if stats is not None:
            stats.update(screened=res.stacks, passed=res.passed, refined=len(chosen))
        chosen = graph_paths(stack_graph(cat, hw, req, chosen))
    target_cache: dict = {}
    quality_cache: dict = {}
    base_cache: dict = {}
    speed_cache: dict = {}
    download_cache: dict = {}
    out: list[Candidate] = []
    for mid, q, rid, backend in chosen:
        m = cat.models[mid]
        c = Candidate(mid, m, q, rid, backend)
        rt = cat.runtimes[rid]
        if m.availability == "open-weights":
            target = target_cache.setdefault(backend, Target(cpu_arch=hw.cpu_arch, simd=hw.simd, backend=backend, os=hw.platform,
                                                             memory_gb=budget_gb))
            ctx = min(req.context, m.architecture.extended_context_length or m.architecture.context_length)
            c.memory = estimate_memory(m, q, rid, ctx, rt=rt, target=target, quantization=cat.quantizations[q],
                                       listed_bytes=listed_bytes(m, q, rt))
            compute = hw.gpu_tflops if backend != "cpu" else hw.cpu_tflops
            if hw.bandwidth_for(backend)[0]:
                skey = (mid, q, _runtime_group(rid), backend)  # Ollama runs llama.cpp: the same speed
                if skey not in speed_cache:
                    bw, bw_src = hw.bandwidth_for(backend)
                    speed_cache[skey] = estimate_speed(
                        m, q, rid, backend, bandwidth_gbps=bw, compute_tflops=compute,
                        prompt_tokens=req.prompt_tokens, eff=eff_for(rid, backend, q), q=cat.quantizations[q],
                        bandwidth_source=bw_src, compute_source=hw.compute_source, simd=hw.simd)
                    # the same basis rule as `estimate`: measured only within this machine's runs of the stack
                    apply_measured(speed_cache[skey], all_profiles, mid, q, rid, backend, hw, ctx, req.prompt_tokens)
                c.speed = speed_cache[skey]
                off = offload_for(m, q, rid, backend, c.memory, hw, req.headroom) if c.speed is not None else None
                if off is not None:
                    ckey = (mid, q, _runtime_group(rid), "cpu-side")
                    if ckey not in speed_cache:
                        speed_cache[ckey] = cpu_side_speed(m, q, rid, hw, eff_for(rid, "cpu", q), cat.quantizations[q],
                                                           req.prompt_tokens)
                    if speed_cache[ckey] is not None:
                        c.offload = off
                        c.speed = offload_speed(c.speed, speed_cache[ckey], off, req.prompt_tokens)
            if (mid, q) not in download_cache:
                ws = quant_weights(m, q, cat.quantizations[q])
                download_cache[(mid, q)] = (ws.bytes / 1e9) if ws else 0.0
            c.download_gb = download_cache[(mid, q)]
        else:
            c.download_gb = 0.0
        if (mid, q) not in quality_cache:
            if mid not in base_cache:
                base_cache[mid] = quality_base(m, req, cat)
            quality_cache[(mid, q)] = _with_loss(base_cache[mid], cat, q, m)
        c.quality, c.quality_basis = quality_cache[(mid, q)]
        c.artifact = artifact_for(cat, m, q, rid, int(c.download_gb * 1e9) if c.download_gb else None)
        check(c, req, budget_gb)
        out.append(c)
    rank(out, req)
    return out


SCREEN_THRESHOLD = 4000  # stacks; below this every stack gets the exact evaluation (advisor.screen)


def _screen_threshold() -> int:
    import os

    return int(os.environ.get("ADVISOR_SCREEN_THRESHOLD", SCREEN_THRESHOLD))


def check(c: Candidate, req: Requirements, budget_gb: Optional[float]) -> None:
    m = c.model
    v = c.violations
    if c.memory is not None and budget_gb and c.offload is None:
        usable = budget_gb * (1 - req.headroom)
        need = c.memory.required / 1e9
        if need > usable:
            v.append(Violation(MEMORY, round(usable, 2), round(need, 2), "GB",
                               {"budget": budget_gb, "headroom": req.headroom}))
    v += model_violations(m, req, c.notes)
    for mod in req.modalities:
        if mod in m.modalities_in and not runtime_takes(m, c.runtime, mod):
            others = sorted({s.runtime for s in m.modality_support if mod in s.modalities})
            v.append(Violation(RUNTIME_MODALITY, mod, c.runtime, None, {"runtimes": others}))
    if req.min_tps is not None:
        if c.speed is None or c.speed.decode_tps < req.min_tps:
            v.append(Violation(DECODE, req.min_tps, round(c.speed.decode_tps, 2) if c.speed else None, "tokens/s"))
    if req.max_ttft_ms is not None:
        if c.speed is None or c.speed.ttft_ms is None or c.speed.ttft_ms > req.max_ttft_ms:
            v.append(Violation(TTFT, req.max_ttft_ms, round(c.speed.ttft_ms) if c.speed and c.speed.ttft_ms else None,
                               "ms"))
    fixed = c.artifact.get("context_length") if c.artifact else None
    if fixed and req.context > fixed:  # the published file is built for a fixed context (LiteRT-LM)
        v.append(Violation(CONTEXT, req.context, fixed, "tokens", {"artifact": c.artifact.get("file")}))
    if req.max_download_gb is not None and c.download_gb > req.max_download_gb:
        v.append(Violation(DOWNLOAD, req.max_download_gb, round(c.download_gb, 2), "GB"))


def model_violations(m: Model, req: Requirements, notes: Optional[list[Note]] = None) -> list[Violation]:
    """The constraints a model meets or breaks whatever its quantization and runtime (languages, inputs,
    tasks, context, licence); `notes` collects what passes only by a claim or an extension."""
    v: list[Violation] = []
    for lang in req.languages:
        if lang in m.languages:
            continue
        if m.languages_claim and req.lang_strict:
            v.append(Violation(LANGUAGE, lang, list(m.languages), None, {"claim": m.languages_claim, "strict": True}))
            continue
        if m.languages_claim:
            if notes is not None:
                notes.append(Note("language_claim", {"language": lang, "claim": m.languages_claim}))
            continue
        v.append(Violation(LANGUAGE, lang, list(m.languages)))
    for mod in req.modalities:
        if mod not in m.modalities_in:
            v.append(Violation(MODALITY, mod, list(m.modalities_in)))
        elif mod in m.modality_languages:  # the card lists the languages this input takes
            for lang in req.languages:
                if lang not in m.modality_languages[mod]:
                    v.append(Violation(LANGUAGE, lang, list(m.modality_languages[mod]), None, {"modality": mod}))
    for task in req.tasks:
        if task not in m.tasks and not (task == "chat" and "instruct" in m.tasks):
            v.append(Violation(TASK, task, list(m.tasks)))
    if m.architecture is not None:
        limit = m.architecture.extended_context_length or m.architecture.context_length
        if req.context > limit:
            v.append(Violation(CONTEXT, req.context, limit, "tokens"))
        elif req.context > m.architecture.context_length and notes is not None:
            notes.append(Note("context_extension", {"context": req.context, "native": m.architecture.context_length,
                                                    "method": m.architecture.extended_context_method}))
    if not license_ok(req, m.license):
        v.append(Violation(LICENSE, list(req.license), m.license))
    return v


def claimed_languages(m: Model, req: Requirements) -> int:
    """How many requested languages the model covers only by a broad claim (not listed by its card)."""
    return sum(1 for lang in req.languages if lang not in m.languages and m.languages_claim)


def runtime_takes(m: Model, runtime: str, modality: str) -> bool:
    """Whether this runtime accepts this input for this model (text always; platform APIs as documented)."""
    if modality == "text" or m.availability != "open-weights":
        return True
    return any(s.runtime == runtime and modality in s.modalities for s in m.modality_support)


def rank(cands: list[Candidate], req: Requirements) -> None:
    from .ranking import score

    for c in cands:
        tps = c.speed.decode_tps if c.speed else 1.0
        mem = c.memory.required / 1e9 if c.memory is not None else 0.0
        c.score = score(c.quality, tps, mem, req.prefer, claimed_languages(c.model, req),
                        to_be_made=c.artifact.get("status") == "to-be-made")
    # a split stack (partial offload) ranks after every stack that fits VRAM whole: its speed rests on the CPU;
    # then a stack whose speed rests on runs of its own engine before one whose figure is borrowed or generic
    cands.sort(key=lambda c: (c.offload is not None, bool(c.speed) and not c.speed.own_runs, -c.score,
                              c.model_id, c.quant, c.runtime))


def best_per_model(cands: list[Candidate], n: int) -> list[Candidate]:
    """The top feasible stacks, at most one per model (its best quantization x runtime)."""
    seen, out = set(), []
    for c in cands:
        if c.feasible and c.model_id not in seen:
            seen.add(c.model_id)
            out.append(c)
        if len(out) == n:
            break
    return out


def _distance(c: Candidate) -> float:
    """How far a rejected stack is from feasible: the memory overshoot ratio, else 1 per violation."""
    d = 0.0
    for v in c.violations:
        if v.constraint == MEMORY:
            d += v.actual / max(v.required, 1e-9) - 1
        elif v.constraint == RUNTIME_MODALITY:
            d += 0.5  # the model takes the input; another runtime would pass it
        else:
            d += 1.0
    return d


def nearest_misses(cands: list[Candidate], n: int = 5) -> list[Candidate]:
    seen, out = set(), []
    for c in sorted((c for c in cands if not c.feasible),
                    key=lambda c: (len(c.violations), _distance(c), -c.score, c.model_id)):
        if c.model_id in seen:
            continue
        seen.add(c.model_id)
        out.append(c)
        if len(out) == n:
            break
    return out


def change_for(v: Violation, c: Candidate, req: Requirements) -> Optional[dict]:
    """The one change to the requirements that lifts this violation, as data: the flag and its new value
    (`value` + `unit`), or the value to drop from it (`drop`). advisor.explain writes it as a flag."""
    if v.constraint == MEMORY:
        need = v.actual / (1 - req.headroom)
        return {"flag": "--vram" if req.vram_gb else "--ram", "value": math.ceil(need), "unit": "GB"}
    if v.constraint in (LANGUAGE, MODALITY, TASK):
        return {"flag": "--" + ("lang" if v.constraint == LANGUAGE else v.constraint), "drop": v.required}
    if v.constraint == RUNTIME_MODALITY:
        return None  # the stacks on runtimes that pass the input are candidates of their own
    if v.constraint == CONTEXT:
        return {"flag": "--context", "value": v.actual, "unit": "tokens"}
    if v.constraint == DECODE and v.actual:
        return {"flag": "--min-tps", "value": math.floor(v.actual * 10) / 10, "unit": "tokens/s"}
    if v.constraint == TTFT and v.actual:
        return {"flag": "--max-ttft-ms", "value": math.ceil(v.actual), "unit": "ms"}
    if v.constraint == DOWNLOAD:
        return {"flag": "--max-download-gb", "value": math.ceil(v.actual), "unit": "GB"}
    if v.constraint == LICENSE:
        return {"flag": "--license", "value": c.model.license, "unit": None}
    return None


def relaxations(cands: list[Candidate], req: Requirements, budget_gb: Optional[float], n: int = 5) -> list[dict]:
    """Single changes to the requirements that would make a rejected stack feasible, as data."""
    best: dict[tuple, tuple[dict, Candidate]] = {}
    top = max((c.score for c in cands if c.feasible), default=None)
    # only changes that unlock something better than today's best; the smallest change first
    single = [c for c in cands if len(c.violations) == 1 and (top is None or c.score > top)]
    for c in sorted(single, key=lambda c: (_distance(c), -c.score, c.model_id)):
        change = change_for(c.violations[0], c, req)
        if change is None or (c.violations[0].constraint == MEMORY and not budget_gb):
            continue
        key = tuple(sorted((k, str(v)) for k, v in change.items()))
        if key not in best:
            best[key] = (change, c)
    ordered = list(best.values())[:n]
    return [{**change, "unlocks": {"model": c.model_id, "quantization": c.quant, "runtime": c.runtime}}
            for change, c in ordered]


def unreachable(cat: Catalog, hw: HardwareSpec, req: Requirements, m: Model) -> list[dict]:
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
    loaders = [r for r in runtimes if any(runtime_loads(cat.runtimes[r], m, q) is None
                                          for q in cat.runtimes[r].quantizations)]
    if runtimes and not loaders:
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
