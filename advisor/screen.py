"""Vectorised screen of every stack of a large catalog (numpy), before the exact evaluation.

The exact evaluation (advisor.solve.evaluate) builds each stack's GGUF layout and
allocator model; about a quarter of a millisecond per stack. A catalog of 10,000
models x 8 quantizations x 4 runtimes has 320,000 stacks, so above SCREEN_THRESHOLD
stacks the solver first screens them all at once with closed-form estimates:

- weights: parameters x the quantization's bits per weight (whole-model average
  where the knowledge base has it; llama.cpp's CPU repack copy replaces the mapped
  originals in what must fit, see advisor.memory);
- KV cache: full-attention layers x context + sliding-window layers x window,
  K and V at 16 bits (llama.cpp keeps full-size sliding caches when the frontend
  sets swa_full; the exact evaluation knows which);
- buffers: logits of one row plus a micro-batch of feed-forward activations;
  overhead per runtime; image/audio encoders at 16 bits;
- decode: bytes read per token over bandwidth x the runtime's fitted efficiency,
  plus its per-layer time (and for MoE models on a GPU backend the MoE layers' routing time);
- quality: the same task score as the exact path (solve.quality_score's parts).

Hard constraints that need no estimate (language, modality, task, licence, context,
platform, runtime) are applied exactly; memory and speed with a margin
(SCREEN_SLACK), so the screen only discards stacks that are clearly out. The best
screened stacks of the best models, and the nearest misses, then get the exact
evaluation; rankings and explanations come only from exact figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCREEN_SLACK = 0.25       # memory may be this much over budget, speed this much under, and still be refined
REFINE_MODELS = 24        # how many of the best screened models get the exact evaluation (at least 4 x --top)
REFINE_MISSES = 12        # nearest screened misses refined for the "rejected" list and relaxations



@dataclass
class ScreenResult:
    keep: list[tuple[str, str, str, str]]   # (model, quant, runtime, backend) to evaluate exactly
    stacks: int                             # stacks screened
    passed: int                             # stacks within the screen's margins


# bytes per KV element by --kv-cache type (ggml blocks: q8_0 34 bytes per 32, q4_0 18 per 32)
KV_ELEMENT_BYTES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}


def screen(cat, hw, req, stacks_by_model: dict[str, list[tuple[str, str, str]]], eff_for, top: int) -> ScreenResult:
    """Screen the (quant, runtime, backend) stacks of each open-weights model; returns the ones to refine.

    `stacks_by_model` comes from solve.enumerate_stacks (the same edge rules as the graph);
    `eff_for(runtime, backend, quant)` gives the fitted Efficiency (or None).
    """
    from .arch import count_params
    from .memory import kv_layers
    from .memory import process_overhead_bytes
    from .ranking import score as rank_score
    from .constraints import claimed_languages, model_violations, runtime_takes
    from .quality import quality_base, quant_loss_pct
    from .estimate import budget_of

    mids = [mid for mid in stacks_by_model if cat.models[mid].architecture is not None]
    n = len(mids)
    if not n:
        return ScreenResult([], 0, 0)
    budget = budget_of(req, hw) or 0.0
    usable = budget * (1 - req.headroom) * 1e9

    # per model: exact booleans and architecture numbers
    total = np.empty(n)
    active = np.empty(n)
    layers = np.empty(n)
    moe = np.zeros(n)          # 1 for mixture-of-experts models (their layers pay the MoE routing time)
    kv_tok = np.empty(n)      # KV bytes per cached token (the requirement's KV type), full-attention layers
    kv_swa = np.empty(n)      # the same for sliding-window layers
    window = np.empty(n)
    buf = np.empty(n)
    enc = np.empty(n)
    misses = np.zeros(n)
    ctx = np.empty(n)
    qual = np.empty(n)
    claimed = np.empty(n)
    for i, mid in enumerate(mids):
        m = cat.models[mid]
        a = m.architecture
        p = count_params(a)
        total[i] = p.total
        active[i] = p.active - (0 if a.tie_embeddings else p.embedding)
        layers[i] = a.layers
        moe[i] = 1.0 if a.experts else 0.0
        full, swa = kv_layers(a, "")
        row = 2 * a.kv_heads * a.head_dim * KV_ELEMENT_BYTES[req.kv_cache]
        kv_tok[i] = full * row
        kv_swa[i] = swa * row
        window[i] = a.sliding_window or 0
        limit = a.extended_context_length or a.context_length
        ctx[i] = min(req.context, limit)
        buf[i] = a.vocab_size * 4 * 2 + 512 * 4 * 4 * (a.moe_intermediate_size or a.intermediate_size)
        enc[i] = sum(e.params_b for e in m.encoders) * 2e9 if m.modalities_in != ["text"] else 0.0
        misses[i] = len(model_violations(m, req))
        qual[i] = quality_base(m, req, cat)[0]
        claimed[i] = claimed_languages(m, req)
    ok = misses == 0

    # the (quant, runtime, backend) axis: every combination any model has
    combos = sorted({s for mid in mids for s in stacks_by_model[mid]})
    cidx = {c: j for j, c in enumerate(combos)}
    k = len(combos)
    has = np.zeros((n, k), dtype=bool)
    for i, mid in enumerate(mids):
        for s in stacks_by_model[mid]:
            has[i, cidx[s]] = True
    bpw = np.empty(k)
    over = np.empty(k)
    loss = np.empty(k)
    coef = np.empty(k)
    tau = np.empty(k)
    tau_moe = np.zeros(k)
    bw = np.empty(k)
    for j, (q, rid, backend) in enumerate(combos):
        qz = cat.quantizations[q]
        bpw[j] = qz.typical_model_bpw or qz.bits_per_weight
        over[j] = process_overhead_bytes(rid, cat.runtimes.get(rid), backend)
        loss[j] = quant_loss_pct(cat, q)
        bw[j] = (hw.bandwidth_for(backend)[0] or 0.0) * 1e9
        e = eff_for(rid, backend, q)
        coef[j] = 1 / e.decode if e else 1 / 0.55
        tau[j] = e.layer_overhead_s if e else 0.0
        tau_moe[j] = e.moe_layer_s if e else 0.0

    weights = total[:, None] * bpw[None, :] / 8
    kv = kv_tok[:, None] * ctx[:, None] + kv_swa[:, None] * np.minimum(ctx, np.where(window > 0, window, ctx))[:, None]
    kv = kv * req.concurrent_users  # a KV cache of the context per user (advisor.solve._serve_users)
    mem = weights + kv + buf[:, None] + over[None, :] + enc[:, None]
    read = active[:, None] * bpw[None, :] / 8
    pos = req.prompt_tokens + 64
    kv_read = (kv_tok * pos + kv_swa * np.minimum(pos, np.where(window > 0, window, pos)))[:, None]
    tps = 1.0 / ((read + kv_read) * coef[None, :] / np.maximum(bw, 1.0)[None, :] + layers[:, None] * (tau[None, :] + moe[:, None] * tau_moe[None, :]))
    quality = qual[:, None] * (1 - loss[None, :] / 100)
    score = rank_score(quality, tps, mem / 1e9, req.prefer, claimed[:, None], log10=np.log10, maximum=np.maximum)

    # non-text inputs: only on runtimes documented to take them for that model
    nontext = [mod for mod in req.modalities if mod != "text"]
    rt_ok = np.ones((n, k), dtype=bool)
    if nontext:
        for i, mid in enumerate(mids):
            m = cat.models[mid]
            for j, (_, rid, _) in enumerate(combos):
                if has[i, j] and not all(runtime_takes(m, rid, mod) for mod in nontext if mod in m.modalities_in):
                    rt_ok[i, j] = False
    mem_ok = mem <= usable * (1 + SCREEN_SLACK) if budget else np.ones_like(has)
    spd_ok = tps >= req.min_tps * (1 - SCREEN_SLACK) if req.min_tps is not None else np.ones_like(has)
    passed = has & ok[:, None] & rt_ok & mem_ok & spd_ok
    keep: set[tuple[str, str, str, str]] = set()
    # the best models: their best screened stack's score, then all their passing stacks
    best = np.where(passed, score, -np.inf).max(axis=1)
    n_models = max(REFINE_MODELS, 4 * top)
    order = np.argsort(-best, kind="stable")[:n_models]
    for i in order:
        if not np.isfinite(best[i]):
            break
        for j in np.nonzero(passed[i])[0]:
            keep.add((mids[i], *combos[j]))
    # partial offload (advisor.offload): a split stack ranks after every stack that fits VRAM whole, so it
    # matters only when too few models fit whole; then the models that fit VRAM + RAM are refined too
    n_whole = int(np.isfinite(best).sum())
    ram = hw.system_memory_gb if hw.memory_kind == "vram" else None
    if ram and n_whole < n_models:
        from .offload import GPU_BACKENDS, GROUP

        splittable = np.array([rid in GROUP and be in GPU_BACKENDS for _, rid, be in combos], dtype=bool)
        split_ok = (mem <= (usable + ram * (1 - req.headroom) * 1e9) * (1 + SCREEN_SLACK)) & splittable[None, :]
        passed_split = has & ok[:, None] & rt_ok & split_ok & ~passed
        best_split = np.where(passed_split, score, -np.inf).max(axis=1)
        for i in np.argsort(-best_split, kind="stable")[:n_models - n_whole]:
            if not np.isfinite(best_split[i]):
                break
            for j in np.nonzero(passed_split[i])[0]:
                keep.add((mids[i], *combos[j]))
    # nearest misses: fewest exact misses, then the smallest memory overshoot, best score first
    over_ratio = np.where(has, mem / max(usable, 1.0), np.inf)
    nearest = over_ratio.min(axis=1)
    j_near = over_ratio.argmin(axis=1)
    dist = misses + np.maximum(nearest - 1, 0) + np.where(np.isfinite(best), 0, 0.01)
    cand = np.nonzero(~np.isfinite(best) & has.any(axis=1))[0]
    for i in cand[np.lexsort((-qual[cand], dist[cand]))][:REFINE_MISSES]:
        keep.add((mids[i], *combos[j_near[i]]))
    return ScreenResult(sorted(keep), int(has.sum()), int(passed.sum()))
