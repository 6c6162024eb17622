"""The solver: every allowed stack (advisor.stacks) evaluated (memory, speed, quality: advisor.quality), checked
against the hard constraints (advisor.constraints), ranked (advisor.ranking), and the nearest misses with the
single changes that would lift them, all as data. Words are made in advisor.explain.

The names the rest of the code imports from here (constraints, stacks, quality) are re-exported.
"""

from __future__ import annotations

import math
from typing import Optional

from .artifacts import artifact_for
from .constraints import (CONTEXT, DECODE, DOWNLOAD, LANGUAGE, LICENSE, MEMORY, MODALITY, RUNTIME_MODALITY,  # noqa: F401
                          SPEED_CONSTRAINTS, TASK, TTFT, Candidate, Note, Violation, check, claimed_languages,
                          model_violations, runtime_takes)
from .estimate import HardwareSpec, apply_measured, budget_of, cpu_side_speed, listed_bytes, offload_for
from .kb import Catalog
from .memory import Target, estimate_memory
from .offload import offload_speed
from .quality import (_with_loss, canonical_benchmark, quality_base, quality_score, quant_loss_pct)  # noqa: F401
from .requirements import Requirements
from .speed import efficiency, estimate_speed
from .stacks import (GGUF_DEFAULT, MLX_DERIVED, enumerate_stacks, graph_paths, runtime_loads,  # noqa: F401
                     stack_graph, stack_paths, unreachable)
from .weights import quant_weights

def evaluate(cat: Catalog, hw: HardwareSpec, req: Requirements, profiles=(), *, stats: dict | None = None
             ) -> list[Candidate]:
    """Every allowed stack, evaluated exactly and checked; above SCREEN_THRESHOLD stacks a vectorised
    screen (advisor.screen) first picks the ones worth the exact evaluation."""
    budget_gb = budget_of(req, hw)
    models = dict(cat.models)
    all_profiles = list(cat.profiles.values()) + list(profiles)
    mine = [p for p in all_profiles if hw.fingerprint and p.hardware_fingerprint == hw.fingerprint]  # this machine's
    eff_cache: dict = {}

    from .speed import _runtime_group

    def eff_for(rid, backend, q):
        # on CPUs the fit covers every weight type at once; elsewhere it prefers the same quantization
        key = (_runtime_group(rid), backend) + ((q,) if backend != "cpu" else ())
        if key not in eff_cache:
            eff_cache[key] = efficiency(all_profiles, models, rid, backend, hw.fingerprint, quant=q,
                                        cpu_model=hw.cpu_model, threads=hw.threads, cpu_tflops=hw.cpu_tflops,
                                        memory_kind=hw.memory_kind)
        return eff_cache[key]

    def fp32_for(backend: str) -> Optional[float]:
        """The FP32 peak of the device a backend runs on (the batched model's per-sequence compute term)."""
        if backend == "cpu":
            return hw.cpu_tflops
        acc = cat.accelerators.get(hw.accelerator) if hw.accelerator else None
        dev = acc or (cat.hardware.get(hw.hardware_id) if hw.hardware_id else None)
        return dev.compute.fp32_tflops if dev and dev.compute else None

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
    whole_hw, whole_budget = hw, budget_gb
    from .serving import machine_gpu

    vllm_gpu = machine_gpu(cat, hw)  # a known NVIDIA GPU: vLLM's speed from its fitted serving roofline
    for mid, q, rid, backend in chosen:
        m = cat.models[mid]
        c = Candidate(mid, m, q, rid, backend)
        rt = cat.runtimes[rid]
        # several GPUs: each runtime sees them as it spreads a model over them (its memory, its speed)
        hw = whole_hw.for_runtime(rt.multi_gpu, rt.multi_node) if backend != "cpu" else whole_hw
        budget_gb = hw.memory_gb if (whole_hw.gpus > 1 or whole_hw.nodes > 1) and backend != "cpu" else whole_budget
        if req.max_gpus and rt.multi_gpu == "tensor" and backend != "cpu" and budget_gb:  # --max-gpus of them
            budget_gb = min(budget_gb, whole_hw.memory_gb / (whole_hw.gpus * whole_hw.nodes) * req.max_gpus)
        if m.availability == "open-weights":
            target = target_cache.setdefault((backend, budget_gb), Target(
                cpu_arch=hw.cpu_arch, simd=hw.simd, backend=backend, os=hw.platform, memory_gb=budget_gb))
            ctx = min(req.context, m.architecture.extended_context_length or m.architecture.context_length)
            c.memory = estimate_memory(m, q, rid, ctx, kv=req.kv_cache, rt=rt, target=target,
                                       quantization=cat.quantizations[q],
                                       listed_bytes=listed_bytes(m, q, rt))
            compute = hw.gpu_tflops if backend != "cpu" else hw.cpu_tflops
            if hw.bandwidth_for(backend)[0]:
                skey = (mid, q, _runtime_group(rid), backend)  # Ollama runs llama.cpp: the same speed
                if skey not in speed_cache:
                    bw, bw_src = hw.bandwidth_for(backend)
                    speed_cache[skey] = estimate_speed(
                        m, q, rid, backend, bandwidth_gbps=bw, compute_tflops=compute,
                        prompt_tokens=req.prompt_tokens, kv=req.kv_cache, eff=eff_for(rid, backend, q),
                        q=cat.quantizations[q],
                        bandwidth_source=bw_src, compute_source=hw.compute_source, simd=hw.simd)
                    if (hw.gpus > 1 or hw.nodes > 1) and rt.multi_gpu == "tensor" and not (vllm_gpu and backend == "cuda"):
                        speed_cache[skey] = tensor_parallel(speed_cache[skey], m, hw)
                    # the same basis rule as `estimate`: measured only within this machine's runs of the stack
                    apply_measured(speed_cache[skey], mine, mid, q, rid, backend, hw, ctx, req.prompt_tokens)
                c.speed = speed_cache[skey]
                off = offload_for(m, q, rid, backend, c.memory, hw, req.headroom) if c.speed is not None else None
                if off is not None:
                    ckey = (mid, q, _runtime_group(rid), "cpu-side")
                    if ckey not in speed_cache:
                        speed_cache[ckey] = cpu_side_speed(m, q, rid, hw, eff_for(rid, "cpu", q), cat.quantizations[q],
                                                           req.prompt_tokens, kv=req.kv_cache)
                    if speed_cache[ckey] is not None:
                        c.offload = off
                        c.speed = offload_speed(c.speed, speed_cache[ckey], off, req.prompt_tokens)
            if _runtime_group(rid) == "vllm" and c.backend == "cuda" and c.speed is not None and vllm_gpu is not None:
                _vllm_serving(c, req, hw, vllm_gpu, cat.quantizations[q])
            elif req.concurrent_users > 1 or req.requests_per_s:
                _serve_users(c, req, hw, fp32_for(c.backend), eff_for(rid, c.backend, q))
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
        c.budget_gb = budget_gb
        check(c, req, budget_gb)
        out.append(c)
    rank(out, req)
    return out


def tensor_parallel(sp, m, hw: HardwareSpec):
    """A single stream's speed at tensor parallelism over the machine's GPUs: the roofline of their summed
    bandwidth and compute, plus two all-reduces per layer (after attention and after the MLP) at the
    interconnect's small-message time (advisor.serving: NVLink 9 us, sglang PR 2904; PCIe 42.56 us,
    NVIDIA/nccl issue 1530)."""
    from dataclasses import replace

    from .serving import FITTED, PCIE_ALLREDUCE_US, PP_HOP_MS

    if sp is None or not sp.decode_tps or m.architecture is None:
        return sp
    us = FITTED.allreduce_us if hw.interconnect == "nvlink" else PCIE_ALLREDUCE_US
    tp = hw.gpus
    extra = (2 * m.architecture.layers * us * 1e-6 if tp > 1 else 0.0) + (hw.nodes - 1) * PP_HOP_MS / 1e3
    dec = 1 / (1 / sp.decode_tps + extra)
    k = dec / sp.decode_tps
    note = (f"tensor parallel over {hw.gpus} GPUs ({hw.interconnect or 'pcie'}): bandwidth and compute of all of them, "
            f"plus 2 all-reduces per layer x {m.architecture.layers} layers x {us:g} us"
            + (f" and {hw.nodes - 1} pipeline hand-offs between nodes x {PP_HOP_MS:g} ms (an assumption)" if hw.nodes > 1 else "")
            + f" = {extra * 1e3:.2f} ms per token")
    ttft = sp.ttft_ms + (1 / dec - 1 / sp.decode_tps) * 1e3 if sp.ttft_ms else sp.ttft_ms
    return replace(sp, decode_tps=dec, decode_tps_range=(sp.decode_tps_range[0] * k, sp.decode_tps_range[1] * k),
                   ttft_ms=ttft, assumptions=list(sp.assumptions) + [note])


def vllm_speed(sp, m, hw: HardwareSpec, gpu, quant, *, users: int = 1, prompt_tokens: int = 512,
               output_tokens: int = 256, kv: str = "f16", requests_per_s: Optional[float] = None,
               context: Optional[int] = None, target_tps: Optional[float] = None, max_gpus: Optional[int] = None):
    """vLLM on a known NVIDIA GPU: each user's speed and the time to first token from advisor.serving's batched
    roofline (fitted on published vLLM runs, python -m benchmarks.bench_vllm_throughput), with `users` in one
    batch; a request rate becomes users in flight by Little's law. On one GPU that is TP 1; with several GPUs
    or nodes, the layout `advisor plan` deploys (advisor.serving.plan_layouts: the fewest GPUs that hold the
    users at the target, in replicas of TP within a node x PP across nodes), or, where none does, one replica
    over every GPU. Returns (speed, the point, one user's point, users)."""
    from dataclasses import replace

    from .serving import FITTED, Weights, largest_tp, plan_layouts, prefill_ms, serve_point, users_for_rate

    a = m.architecture
    _, g, count = gpu
    count = min(count, hw.gpus) if hw.gpus > 1 else count
    nodes = max(1, hw.nodes)
    limit = min(count * nodes, max_gpus or count * nodes)
    kvb = 2 if kv == "f16" else 1  # --kv-cache q8_0/q4_0 -> vLLM fp8
    bits = quant.bits_per_weight or 16.0
    w = Weights(bits=bits)
    out = max(1, output_tokens)
    ctx = context or (prompt_tokens + out)

    def layout(k: int) -> tuple[int, int, int, int]:
        """(tp, pp, replicas, users per replica) for k users."""
        if limit > 1:
            r = plan_layouts(m, g, users=k, prompt_tokens=min(prompt_tokens, ctx - 1),
                             output_tokens=max(1, min(out, ctx - prompt_tokens)), target_tps=target_tps,
                             gpus_per_node=count, max_gpus=limit, max_model_len=ctx,
                             kv_dtype="auto" if kv == "f16" else "fp8", bits=bits)
            ch = r["chosen"]
            if ch:
                return ch["tp"], ch["pp"], ch["replicas"], ch["users_per_replica"]
        return largest_tp(a, min(count, limit)), min(nodes, max(1, limit // count), a.layers), 1, k

    def at(k: int) -> dict:
        tp, pp, reps, load = layout(k)
        pt = serve_point(a, g, tp=tp, pp=pp, users=load, prompt_tokens=prompt_tokens, output_tokens=out,
                         kv_bytes=kvb, w=w)
        return {**pt, "replicas": reps, "users": k, "aggregate_tok_s": round(pt["per_user_tok_s"] * k, 1)}

    n = users
    p = at(n)
    for _ in range(30 if requests_per_s else 0):
        need = users_for_rate(requests_per_s, p, out)
        if need <= n or n >= MAX_USERS:
            break
        n = min(need, MAX_USERS)
        p = at(n)
    tp, pp = p["tp"], p["pp"]
    dec = p["per_user_tok_s"]
    link = f", {g.interconnect}" if tp > 1 else ""
    pre_ms = prefill_ms(a, g, prompt_tokens, tp=tp, pp=pp, w=w)
    note = (f"in place of the decode and prefill figures above, vLLM's batched roofline on {g.id} (advisor.serving, fitted on published vLLM runs: "
            f"python -m benchmarks.bench_vllm_throughput): TP {tp}{link}" + (f" x PP {pp} (a stage per node)" if pp > 1 else "")
            + (f", {p['replicas']} replicas" if p["replicas"] > 1 else "") + f", {n} user{'s' if n > 1 else ''}, "
            f"{p['tpot_ms']:g} ms per output token ({p['step']['bound']}-bound), "
            f"first token {p['ttft_ms']:g} ms for a {prompt_tokens}-token prompt; "
            f"bandwidth share {FITTED.eff_bw}, {FITTED.overhead_ms} ms per step, MFU {FITTED.mfu}")
    out_sp = replace(sp, decode_tps=dec, decode_tps_range=(dec * 0.75, dec * 1.25), ttft_ms=p["ttft_ms"],
                     prefill_tps=prompt_tokens / (pre_ms / 1e3) if pre_ms > 0 else sp.prefill_tps,
                     own_runs=True, assumptions=list(sp.assumptions) + [note])
    one = p if n == 1 else serve_point(a, g, tp=tp, pp=pp, users=1, prompt_tokens=prompt_tokens, output_tokens=out,
                                       kv_bytes=kvb, w=w)
    return out_sp, p, one, n


def _vllm_serving(c: Candidate, req: Requirements, hw: HardwareSpec, gpu, quant) -> None:
    """vllm_speed for a candidate; with users, a KV cache of the context for each and the serving record."""
    from dataclasses import replace

    ctx = min(req.context, c.model.architecture.extended_context_length or c.model.architecture.context_length)
    c.speed, p, one, n = vllm_speed(c.speed, c.model, hw, gpu, quant, users=req.concurrent_users,
                                    prompt_tokens=req.prompt_tokens, output_tokens=req.output_tokens,
                                    kv=req.kv_cache, requests_per_s=req.requests_per_s, context=ctx,
                                    target_tps=req.min_tps, max_gpus=req.max_gpus)
    if c.memory is not None and n > 1:
        c.memory = replace(c.memory, kv_cache=c.memory.kv_cache * n, settings={**c.memory.settings, "slots": n},
                           assumptions=c.memory.assumptions + [f"{n} sequences, each with its own KV cache of the context"])
    if n > 1 or req.requests_per_s or hw.gpus > 1 or hw.nodes > 1:  # users, or a layout to name
        c.serving = {"users": n, "per_user_tok_s": round(p["per_user_tok_s"], 2),
                     "aggregate_tok_s": round(p["aggregate_tok_s"], 2),
                     "single_stream_tok_s": round(one["per_user_tok_s"], 2), "coef_backend": "vllm", "tp": p["tp"],
                     "pp": p["pp"], "replicas": p["replicas"]}
        if req.requests_per_s:
            c.serving["requests_per_s"] = req.requests_per_s


def _serve_users(c: Candidate, req: Requirements, hw: HardwareSpec, fp32: Optional[float], eff) -> None:
    """N users at once on one machine (llama-server -np N, OLLAMA_NUM_PARALLEL, vLLM --max-num-seqs): a KV cache
    of the context for each, and the speed each user sees when N sequences decode together (advisor.batched).
    With a request rate, N is the requests in flight by Little's law (rate x the time each takes: first token,
    then its output tokens at the batched speed), found by iterating from --concurrent-users."""
    from dataclasses import replace

    from .batched import from_single

    one = c.speed
    n = req.concurrent_users
    b = None
    if one is not None and one.decode_tps:
        bw = hw.bandwidth_for(c.backend)[0]

        def at(k: int) -> tuple[dict, Optional[float]]:
            x = from_single(one, c.model, c.backend, batch=k, bandwidth_gbps=bw, fp32_tflops=fp32, eff=eff)
            return x, ((req.prompt_tokens / one.prefill_tps + x["step_ms"] / 1e3) * 1e3 if one.prefill_tps else None)

        b, ttft = at(n)
        for _ in range(30 if req.requests_per_s else 0):
            need = math.ceil(req.requests_per_s * ((ttft or 0) / 1e3 + req.output_tokens / b["per_seq_tok_s"]))
            if need <= n or n >= MAX_USERS:
                break
            n = min(need, MAX_USERS)
            b, ttft = at(n)
    if c.memory is not None:
        c.memory = replace(c.memory, kv_cache=c.memory.kv_cache * n,
                           settings={**c.memory.settings, "slots": n},
                           assumptions=c.memory.assumptions + [f"{n} slots, each with its own KV cache of the context"])
    if b is None:
        return
    f = b["per_seq_tok_s"] / one.decode_tps
    lo, hi = one.decode_tps_range
    c.speed = replace(one, decode_tps=b["per_seq_tok_s"], decode_tps_range=(lo * f, hi * f), ttft_ms=ttft,
                      assumptions=one.assumptions + [
                          f"{n} users decoding together: {b['per_seq_tok_s']:.1f} tokens/s each, "
                          f"{b['aggregate_tok_s']:.1f} in all (one stream {one.decode_tps:.1f}; "
                          + ("on a CPU no batching gain is assumed, as measured by python -m benchmarks.bench_llama_slots"
                             if c.backend == "cpu" else
                             f"batched growth fitted on llama-batched-bench tables, {b['coef_backend']} coefficients; "
                             "python -m benchmarks.bench_llama_batched") + ")"])
    c.serving = {"users": n, "per_user_tok_s": round(b["per_seq_tok_s"], 2),
                 "aggregate_tok_s": round(b["aggregate_tok_s"], 2), "single_stream_tok_s": round(one.decode_tps, 2),
                 "coef_backend": b["coef_backend"]}
    if req.requests_per_s:
        c.serving["requests_per_s"] = req.requests_per_s


MAX_USERS = 4096  # the most users --concurrent-users takes (advisor.requirements)


SCREEN_THRESHOLD = 4000  # stacks; below this every stack gets the exact evaluation (advisor.screen)


def _screen_threshold() -> int:
    import os

    return int(os.environ.get("ADVISOR_SCREEN_THRESHOLD", SCREEN_THRESHOLD))


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
        out = {"flag": "--vram" if req.vram_gb else "--ram", "value": math.ceil(need), "unit": "GB"}
        return {**out, "instead_of": "--hardware"} if req.hardware else out
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
