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
from typing import Optional

from .estimate import HardwareSpec, choose_backend
from .kb import Catalog
from .memory import Target, estimate_memory
from .requirements import Requirements, license_ok
from .schemas import Model
from .speed import efficiency, estimate_speed
from .weights import quant_weights

# quantizations llama.cpp-family runtimes can make from any supported checkpoint
GGUF_DEFAULT = ("q8_0", "q6_k", "q5_k_m", "q4_k_m", "iq4_xs", "q4_0", "q3_k_m")

TASK_BENCHMARKS = {
    "math": ("MATH", "GSM8K", "AIME", "HiddenMath", "MGSM"),
    "code": ("HumanEval", "MBPP", "LiveCodeBench"),
    "reasoning": ("GPQA", "AIME", "MATH-500", "BigBench", "BBH"),
    "thinking-mode": ("GPQA", "AIME", "MATH-500"),
    "chat": ("MMLU", "IFEval", "GPQA", "Arena"),
}
MULTILINGUAL_BENCHMARKS = ("MMMLU", "Global", "MGSM", "WMT")


@dataclass
class Violation:
    constraint: str
    required: str
    actual: str
    detail: dict = field(default_factory=dict)


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
    notes: list[str] = field(default_factory=list)
    score: float = 0.0

    @property
    def feasible(self) -> bool:
        return not self.violations


def stack_graph(cat: Catalog, hw: HardwareSpec, req: Requirements):
    """networkx DiGraph of the stacks this hardware and platform allow."""
    import networkx as nx

    g = nx.DiGraph()
    hw_node = ("hardware", hw.hardware_id or hw.name)
    g.add_node(hw_node)
    platform = req.platform or hw.platform
    for mid, m in cat.models.items():
        if m.availability == "system-component":
            continue  # no API: never a stack
        if m.availability == "platform-builtin":
            api = m.platform_api
            if api is None:
                continue
            rt = cat.runtimes.get(api.runtime)
            npu_ok = api.min_npu_tops is None or _npu_tops(cat, hw) >= api.min_npu_tops
            if rt is None or platform != "windows" or not npu_ok:
                continue
            quants = [a.quantization for a in m.artifacts] or ["platform"]
        else:
            quants = sorted({a.quantization for a in m.artifacts} | set(GGUF_DEFAULT))
        for q in quants:
            for rid, rt in cat.runtimes.items():
                if q not in rt.quantizations:
                    continue
                if m.availability == "platform-builtin" and rid != m.platform_api.runtime:
                    continue
                if m.availability == "open-weights" and rt.kind == "platform-api":
                    continue
                if req.runtimes and rid not in req.runtimes:
                    continue
                if platform and platform not in rt.platforms:
                    continue
                backend = choose_backend(rt.backends, hw)
                if backend is None:
                    continue
                g.add_edge(("model", mid), ("quant", mid, q))
                g.add_edge(("quant", mid, q), ("runtime", mid, q, rid))
                g.add_edge(("runtime", mid, q, rid), ("backend", mid, q, rid, backend))
                g.add_edge(("backend", mid, q, rid, backend), hw_node)
    return g


def _npu_tops(cat: Catalog, hw: HardwareSpec) -> float:
    if hw.hardware_id and hw.hardware_id in cat.hardware:
        return cat.hardware[hw.hardware_id].npu_tops or 0.0
    return 0.0


def quality_score(m: Model, req: Requirements, cat: Catalog, quant: str) -> tuple[float, str]:
    """Mean of the model's benchmark scores relevant to the tasks, less the quantization's loss."""
    keys: list[str] = []
    for t in req.tasks or ["chat"]:
        keys += TASK_BENCHMARKS.get(t, TASK_BENCHMARKS["chat"])
    if any(x != "en" for x in req.languages):
        keys += MULTILINGUAL_BENCHMARKS
    vals = [b.value for b in m.benchmarks if b.unit == "%" and any(k.lower() in b.name.lower() for k in keys)]
    basis = f"mean of {len(vals)} relevant benchmark scores"
    if not vals:
        vals = [b.value for b in m.benchmarks if b.unit == "%"]
        basis = f"mean of {len(vals)} benchmark scores (none specific to the task)"
    if vals:
        q = statistics.mean(vals)
    else:
        q = 20 + 8 * math.log2(m.params_b + 1)
        basis = "no benchmark in the knowledge base: a prior from the parameter count"
    loss = quant_loss_pct(cat, quant)
    if loss:
        basis += f", less {loss:.1f}% for {quant.upper()}"
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


def evaluate(cat: Catalog, hw: HardwareSpec, req: Requirements, profiles=()) -> list[Candidate]:
    g = stack_graph(cat, hw, req)
    budget_gb = req.vram_gb or req.ram_gb or hw.memory_gb
    models = dict(cat.models)
    all_profiles = list(cat.profiles.values()) + list(profiles)
    eff_cache: dict = {}
    target_cache: dict = {}
    quality_cache: dict = {}
    out: list[Candidate] = []
    for node in g.nodes:
        if node[0] != "backend":
            continue
        _, mid, q, rid, backend = node
        m = cat.models[mid]
        c = Candidate(mid, m, q, rid, backend)
        rt = cat.runtimes[rid]
        if m.availability == "open-weights":
            target = target_cache.setdefault(backend, Target(cpu_arch=hw.cpu_arch, simd=hw.simd, backend=backend,
                                                             memory_gb=budget_gb))
            ctx = min(req.context, m.architecture.extended_context_length or m.architecture.context_length)
            c.memory = estimate_memory(m, q, rid, ctx, rt=rt, target=target, quantization=cat.quantizations[q])
            key = (rid, backend, q)
            if key not in eff_cache:
                eff_cache[key] = efficiency(all_profiles, models, rid, backend, hw.fingerprint, quant=q)
            compute = hw.gpu_tflops if backend != "cpu" else hw.cpu_tflops
            if hw.bandwidth_gbps:
                c.speed = estimate_speed(m, q, rid, backend, bandwidth_gbps=hw.bandwidth_gbps, compute_tflops=compute,
                                         prompt_tokens=req.prompt_tokens, eff=eff_cache[key],
                                         q=cat.quantizations[q], bandwidth_source=hw.bandwidth_source)
            ws = quant_weights(m, q, cat.quantizations[q])
            c.download_gb = (ws.bytes / 1e9) if ws else 0.0
        else:
            c.download_gb = 0.0
        if (mid, q) not in quality_cache:
            quality_cache[(mid, q)] = quality_score(m, req, cat, q)
        c.quality, c.quality_basis = quality_cache[(mid, q)]
        check(c, req, budget_gb)
        out.append(c)
    rank(out, req)
    return out


def check(c: Candidate, req: Requirements, budget_gb: Optional[float]) -> None:
    m = c.model
    v = c.violations
    if c.memory is not None and budget_gb:
        usable = budget_gb * (1 - req.headroom)
        need = c.memory.total / 1e9
        if need > usable:
            v.append(Violation("memory", f"{usable:.1f} GB ({budget_gb:g} GB less {req.headroom:.0%} headroom)",
                               f"{need:.1f} GB", {"need_gb": need, "headroom": req.headroom}))
    for lang in req.languages:
        if lang in m.languages:
            continue
        if m.languages_claim:
            c.notes.append(f"{lang}: not listed by the card, covered only by its claim of {m.languages_claim}")
            continue
        v.append(Violation("language", lang, ", ".join(m.languages) or "none listed", {"lang": lang}))
    for mod in req.modalities:
        if mod not in m.modalities_in:
            v.append(Violation("modality", mod, ", ".join(m.modalities_in), {"modality": mod}))
    for task in req.tasks:
        if task not in m.tasks and not (task == "chat" and "instruct" in m.tasks):
            v.append(Violation("task", task, ", ".join(m.tasks), {"task": task}))
    if m.architecture is not None:
        limit = m.architecture.extended_context_length or m.architecture.context_length
        if req.context > limit:
            v.append(Violation("context", f"{req.context} tokens", f"{limit} tokens", {"limit": limit}))
        elif req.context > m.architecture.context_length:
            c.notes.append(f"context {req.context} needs {m.architecture.extended_context_method or 'the documented extension'} "
                           f"(native {m.architecture.context_length})")
    if req.min_tps is not None:
        if c.speed is None or c.speed.decode_tps < req.min_tps:
            v.append(Violation("decode speed", f"{req.min_tps:g} tokens/s",
                               f"{c.speed.decode_tps:.1f} tokens/s" if c.speed else "unknown",
                               {"tps": c.speed.decode_tps if c.speed else None}))
    if req.max_ttft_ms is not None:
        if c.speed is None or c.speed.ttft_ms is None or c.speed.ttft_ms > req.max_ttft_ms:
            v.append(Violation("time to first token", f"{req.max_ttft_ms:g} ms",
                               f"{c.speed.ttft_ms:.0f} ms" if c.speed and c.speed.ttft_ms else "unknown", {}))
    if not license_ok(req, m.license):
        v.append(Violation("licence", ", ".join(req.license), m.license, {}))
    if req.max_download_gb is not None and c.download_gb > req.max_download_gb:
        v.append(Violation("download", f"{req.max_download_gb:g} GB", f"{c.download_gb:.1f} GB",
                           {"download_gb": c.download_gb}))


def rank(cands: list[Candidate], req: Requirements) -> None:
    for c in cands:
        tps = c.speed.decode_tps if c.speed else 1.0
        mem = c.memory.total / 1e9 if c.memory is not None else 0.0
        if req.prefer == "quality":
            c.score = c.quality + 2 * math.log10(max(tps, 0.1))
        elif req.prefer == "speed":
            c.score = 20 * math.log10(max(tps, 0.1)) + 0.2 * c.quality
        else:
            c.score = -10 * mem + 0.2 * c.quality
    cands.sort(key=lambda c: (-c.score, c.model_id, c.quant, c.runtime))


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
        if v.constraint == "memory":
            d += v.detail["need_gb"] / max(float(v.required.split()[0]), 1e-9) - 1
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


def relaxations(cands: list[Candidate], req: Requirements, budget_gb: Optional[float], n: int = 5) -> list[dict]:
    """Single changes to the requirements that would make a rejected stack feasible."""
    best: dict[str, Candidate] = {}
    top = max((c.score for c in cands if c.feasible), default=None)
    # only changes that unlock something better than today's best; the smallest change first
    single = [c for c in cands if len(c.violations) == 1 and (top is None or c.score > top)]
    for c in sorted(single, key=lambda c: (_distance(c), -c.score, c.model_id)):
        v = c.violations[0]
        if v.constraint == "memory" and budget_gb:
            need = v.detail["need_gb"] / (1 - req.headroom)
            change = f"--{'vram' if req.vram_gb else 'ram'} {math.ceil(need)}GB"
        elif v.constraint == "language":
            change = f"drop --lang {v.detail['lang']}"
        elif v.constraint == "modality":
            change = f"drop --modality {v.detail['modality']}"
        elif v.constraint == "task":
            change = f"drop --task {v.detail['task']}"
        elif v.constraint == "context":
            change = f"--context {v.detail['limit']}"
        elif v.constraint == "decode speed" and v.detail.get("tps"):
            change = f"--min-tps {math.floor(v.detail['tps'] * 10) / 10:g}"
        elif v.constraint == "download":
            change = f"--max-download-gb {math.ceil(v.detail['download_gb'])}"
        elif v.constraint == "licence":
            change = f"--license {c.model.license}"
        else:
            continue
        if change not in best:
            best[change] = c
    ordered = list(best.items())[:n]
    return [{"change": k, "unlocks": f"{c.model_id} {c.quant.upper()} on {c.runtime}"} for k, c in ordered]
