"""Serving capacity beyond one stream on vLLM: the time of a decode step as the batch grows (a batched
roofline), time to first token under load, and the layouts (TP x PP, replicas) that serve N users at T tok/s
each with the fewest GPUs. Memory and KV capacity come from advisor/vllm.py; this module adds time.

A decode step on one rank reads its share of the weights once (for a mixture of experts, the experts the batch
routes to) and every sequence's KV cache, and does 2 x active parameters FLOPs per token for each sequence in
the batch plus the prompt tokens that chunked prefill mixes into the step:

    t_step = max(bytes / (bandwidth x EFF_BW), flops / (peak x MFU)) + STEP_OVERHEAD + TP all-reduces

Time to first token: the prompt's prefill at the same roofline (its FLOPs against the weights read once) plus
one decode step. With PP stages a token passes every stage in turn; the batch is split over the stages.

The constants are fitted on published vLLM runs of models and GPUs the check does not score
(knowledge/serving/vllm-throughput.yaml, `train`); `python -m benchmarks.bench_vllm_throughput --fit` prints
the fit and the error table of the `score` runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from .schemas import Architecture


@dataclass(frozen=True)
class Roofline:
    eff_bw: float          # share of the datasheet memory bandwidth a decode step's reads reach
    overhead_ms: float     # per step: scheduler, sampler, kernel launches between CUDA graphs
    allreduce_us: float    # per all-reduce at TP > 1 (two per layer), NVLink
    mfu: float             # share of the dense 16-bit tensor peak a step's matrix products reach
    request_ms: float      # per request before its first token: HTTP, tokenizer, scheduling


# Not fitted: vLLM's own all-reduce on H100 NVLink takes 8.5-9.5 us for the 0.5-32 KB a decode step sends
# (TP 2/4/8, without CUDA graphs): https://github.com/sgl-project/sglang/pull/2904 ("vllm" table)
ALLREDUCE_US = 9.0
# ... and over PCIe (no NVLink; custom all-reduce off): NCCL's all_reduce_perf on 8 bytes takes 42.56 us across
# 8 RTX 4090s (https://github.com/NVIDIA/nccl/issues/1530, TREE) and 54.18 us across 8 RTX 3090s
# (https://github.com/NVIDIA/nccl/issues/1439); the first is taken. Not fitted: no TP throughput run over PCIe found.
PCIE_ALLREDUCE_US = 42.56
# Fitted on the `train` runs of knowledge/serving/vllm-throughput.yaml (bench_vllm_throughput --fit):
FITTED = Roofline(eff_bw=0.88, overhead_ms=1.4, allreduce_us=ALLREDUCE_US, mfu=0.3, request_ms=6.9)
# Not fitted (no published PP throughput run was found): the hand-off between two PP stages, an assumption.
PP_HOP_MS = 0.2


@dataclass(frozen=True)
class Gpu:
    """The figures of one GPU the roofline reads (a catalog accelerator's datasheet values)."""
    id: str
    bandwidth_gbps: float
    tflops: float            # dense 16-bit tensor peak
    memory_gb: float
    interconnect: str = "nvlink"  # between the GPUs of a node: nvlink (SXM/HGX boards) or pcie


def interconnect_of(text: str) -> str:
    """NVLink where the text names it or an SXM/HGX board (catalog names say so), PCIe otherwise (the slower,
    safer figure where the fabric is not known)."""
    t = (text or "").lower()
    return "nvlink" if any(k in t for k in ("nvlink", "sxm", "hgx")) else "pcie"


def gpu_of(acc_id: str, acc, interconnect: Optional[str] = None) -> Gpu:
    """`interconnect` None: from the card's name (interconnect_of)."""
    c = acc.compute
    tflops = (c.bf16_tflops or c.fp16_tflops) if c else None
    link = interconnect or interconnect_of(acc.name)
    return Gpu(acc_id, acc.bandwidth_gbps, tflops or 0.0, acc.memory_gb, link)


def machine_gpu(cat, hw) -> Optional[tuple[str, Gpu, int]]:
    """(catalog id, Gpu, how many) of the NVIDIA GPUs a hardware spec plans on: its accelerator (--gpu, --vram's
    typical card, NVML), or a hardware profile's GPU model found in the catalog; None for any other machine."""
    acc_id, count = getattr(hw, "accelerator", None), getattr(hw, "gpus", 1) or 1
    h = cat.hardware.get(hw.hardware_id) if getattr(hw, "hardware_id", None) else None
    if acc_id is None and h is not None and h.gpu is not None:
        hit = cat.accelerator_named(h.gpu.model)
        acc_id, count = (hit[0], h.gpu.count) if hit else (None, 1)
    if acc_id is None or acc_id not in cat.accelerators:
        return None
    acc = cat.accelerators[acc_id]
    if "cuda" not in acc.backends:
        return None
    return acc_id, gpu_of(acc_id, acc, getattr(hw, "interconnect", "") or None), count


def largest_tp(a: Architecture, gpus: int) -> int:
    """The largest tensor-parallel size up to `gpus` that vLLM accepts for this model (a power of two whose
    attention and KV heads divide, advisor.vllm.valid_tp)."""
    from .vllm import valid_tp

    tp, best = 1, 1
    while tp <= gpus:
        if valid_tp(a, tp) is None:
            best = tp
        tp *= 2
    return best


@dataclass(frozen=True)
class Weights:
    """Bytes a model's weights take: the linear layers at `bits` per weight, embeddings and the output head at
    `embed_bits` (AWQ/GPTQ checkpoints keep those in 16 bits)."""
    bits: float = 16.0
    embed_bits: float = 16.0


def _shapes(a: Architecture):
    from .arch import count_params
    return count_params(a)


def step_terms(a: Architecture, gpu: Gpu, *, tp: int = 1, pp: int = 1, batch: int = 1, position: int = 512,
               prefill_tokens: float = 0.0, kv_bytes: int = 2, w: Weights = Weights(), k: Roofline = FITTED) -> dict:
    """One decode step of `batch` sequences at mean `position` on one PP stage of a TP x PP replica (the batch
    split over the stages), with `prefill_tokens` of other requests' prompts in the same step. Milliseconds and
    the terms they come from, as data."""
    from .memory import kv_layers

    p = _shapes(a)
    per = w.bits / 8
    layers_stage = a.layers / pp
    b = max(1, math.ceil(batch / pp))
    # the linear layers of this stage: attention and dense MLP always; a MoE layer reads the experts its batch
    # routes to (uniform routing: each of E experts is touched with probability 1 - (1 - k/E)^tokens)
    if a.experts:
        expert = p.mlp / a.layers / a.experts  # one expert of one layer, with the router's share
        shared = p.experts_active / a.layers - a.experts_per_token * expert
        touched = a.experts * (1 - (1 - a.experts_per_token / a.experts) ** b)
        mlp_layer = touched * expert + shared
    else:
        mlp_layer = p.mlp / a.layers
    linear = (p.attention / a.layers + mlp_layer + p.norms / a.layers) * layers_stage * per
    # the output head (the embedding matrix when tied) sits on the last stage; a token's time sums the stages
    head = a.vocab_size * a.hidden_size * w.embed_bits / 8 / pp
    weight_bytes = (linear + head) / tp
    full, swa = kv_layers(a, "")
    kv_tok = 2 * max(1, a.kv_heads // tp) * a.head_dim * kv_bytes
    win = a.sliding_window or position
    kv_read = b * kv_tok * (full * position + swa * min(position, win)) / (full + swa) * layers_stage
    flops_tok = 2 * p.active / pp / tp
    attn_flops = 4 * a.attention_heads * a.head_dim * position * layers_stage / tp
    flops = b * (flops_tok + attn_flops)
    rate = gpu.tflops * 1e12 * k.mfu
    t_mem = (weight_bytes + kv_read) / (gpu.bandwidth_gbps * 1e9 * k.eff_bw) * 1e3
    t_flop = flops / rate * 1e3 if gpu.tflops else 0.0
    per_ar = k.allreduce_us if gpu.interconnect == "nvlink" else PCIE_ALLREDUCE_US
    t_ar = 2 * layers_stage * per_ar / 1e3 if tp > 1 else 0.0
    # prompt tokens that chunked prefill puts into decode steps: their compute, spread over the steps (a chunk of
    # many tokens is compute-bound; the weights it reads are the step's own)
    t_mixed = prefill_tokens / pp * (flops_tok + attn_flops) / rate * 1e3 if gpu.tflops else 0.0
    stage = max(t_mem, t_flop) + t_mixed + k.overhead_ms + t_ar
    return {"weights_mb": round(weight_bytes / 1e6, 1), "kv_mb": round(kv_read / 1e6, 1),
            "gflop": round(flops / 1e9, 2), "mem_ms": round(t_mem, 3), "compute_ms": round(t_flop, 3),
            "mixed_prefill_ms": round(t_mixed, 3),
            "allreduce_ms": round(t_ar, 3), "overhead_ms": k.overhead_ms,
            "bound": "compute" if t_flop > t_mem else "memory", "stage_ms": stage,
            "step_ms": pp * stage + (pp - 1) * PP_HOP_MS}


def prefill_ms(a: Architecture, gpu: Gpu, prompt_tokens: int, *, tp: int = 1, pp: int = 1, w: Weights = Weights(),
               k: Roofline = FITTED) -> float:
    """The prompt's forward pass as one step of `prompt_tokens` tokens (the experts they route to read once, their
    FLOPs), through every PP stage in turn, plus the causal attention over the prompt."""
    one = step_terms(a, gpu, tp=tp, pp=pp, batch=prompt_tokens * pp, position=1, w=w, k=k)
    attn = 2 * a.attention_heads * a.head_dim * prompt_tokens ** 2 * a.layers / tp
    return one["step_ms"] + (attn / (gpu.tflops * 1e12 * k.mfu) * 1e3 if gpu.tflops else 0.0)


def serve_point(a: Architecture, gpu: Gpu, *, tp: int = 1, pp: int = 1, users: int = 1, prompt_tokens: int = 512,
                output_tokens: int = 256, kv_bytes: int = 2, w: Weights = Weights(), batch: Optional[int] = None,
                k: Roofline = FITTED) -> dict:
    """`users` closed-loop users on one replica (each sends its next request when the last one ends): the time
    per output token each sees, aggregate output tok/s, and the time to first token. `batch`: a fixed batch
    with no prompts in flight (vLLM's benchmark_latency) instead of users."""
    fixed = batch is not None
    b = batch if fixed else users
    # in the steady state each other user's prompt enters once per `output_tokens` steps (a user's own prompt
    # runs before its first token, not during its decode)
    mixed = 0.0 if fixed else (b - 1) * prompt_tokens / max(1, output_tokens)
    pos = prompt_tokens + output_tokens // 2
    step = step_terms(a, gpu, tp=tp, pp=pp, batch=b, position=pos, prefill_tokens=mixed, kv_bytes=kv_bytes, w=w, k=k)
    tpot = step["step_ms"]
    ttft = prefill_ms(a, gpu, prompt_tokens, tp=tp, pp=pp, w=w, k=k) + k.request_ms + (tpot if b > 1 else 0.0)
    return {"tp": tp, "pp": pp, "users": b, "tpot_ms": round(tpot, 2), "per_user_tok_s": round(1000 / tpot, 1),
            "aggregate_tok_s": round(b * 1000 / tpot, 1), "ttft_ms": round(ttft, 1), "step": step,
            "prefill_tokens_per_step": round(mixed, 1)}


MAX_NUM_SEQS = 1024  # vLLM's default --max-num-seqs on data-centre GPUs (advisor/vllm.py)


def _layouts(a: Architecture, gpus_per_node: int, max_gpus: int) -> list[tuple[int, int, Optional[str]]]:
    """(TP, PP, why refused): TP a power of two within one node (heads must divide, advisor.vllm.valid_tp); PP
    across nodes only, with every GPU of each node a TP rank (tensor parallelism stays on the node's NVLink)."""
    from .vllm import valid_tp

    out = []
    tp = 1
    while tp <= min(gpus_per_node, max_gpus):
        out.append((tp, 1, valid_tp(a, tp)))
        tp *= 2
    full = gpus_per_node if gpus_per_node & (gpus_per_node - 1) == 0 else None
    pp = 2
    while full and full * pp <= max_gpus and pp <= a.layers and valid_tp(a, full) is None:
        out.append((full, pp, None))
        pp *= 2
    return out


def plan_layouts(m, gpu: Gpu, *, users: int, prompt_tokens: int, output_tokens: int,
                 target_tps: Optional[float] = None, gpus_per_node: int = 8, max_gpus: int = 64,
                 max_model_len: Optional[int] = None, kv_dtype: str = "auto", util: float = 0.9,
                 bits: float = 16.0) -> dict:
    """Every layout of one replica and what N users at T tok/s each take with it: vLLM's KV cache and
    concurrency (advisor.vllm), the users one replica can carry at the target (the largest batch whose time per
    output token meets it and whose requests fit the KV cache), the replicas and GPUs, and the time per output
    token, aggregate tok/s and time to first token at that load. `chosen`: the fewest GPUs (ties: the faster
    per user); `fastest`: the best time per output token within `max_gpus`."""
    from .vllm import KV_DTYPE_BYTES, blocks_per_request, cuda_total_gib, for_model
    from .memory import kv_layers

    a = m.architecture
    per_req = prompt_tokens + output_tokens
    ctx = max_model_len or per_req
    kvb = KV_DTYPE_BYTES[kv_dtype]
    w = Weights(bits=bits)
    rows = []
    for tp, pp, why in _layouts(a, gpus_per_node, max_gpus):
        row = {"tp": tp, "pp": pp, "gpus": tp * pp, "nodes_per_replica": math.ceil(tp * pp / gpus_per_node),
               "refused": why, "expert_parallel": bool(a.experts) and tp * pp > 1}
        rows.append(row)
        if why:
            continue
        mem = for_model(m, cuda_total_gib(gpu.memory_gb), tp=tp, pp=pp, max_model_len=ctx, kv_dtype=kv_dtype,
                        util=util, bits_per_weight=bits)
        f, s = kv_layers(a, "")
        fl = round(f * mem.ranks[0].layers / a.layers) if f else 0
        need = blocks_per_request(a, per_req, (fl, mem.ranks[0].layers - fl))
        kv_users = min(mem.num_blocks // need if need else 0, MAX_NUM_SEQS)
        row.update(weights_gib=round(max(r.weights_gib for r in mem.ranks), 2),
                   available_kv_gib=round(min(r.available_kv_gib for r in mem.ranks), 2), kv_tokens=mem.kv_tokens,
                   max_concurrency=mem.max_concurrency, kv_users=kv_users)
        if not mem.fits_one_request or kv_users < 1:
            row["refused"] = (f"the KV cache ({mem.kv_tokens:,} tokens) does not hold one request of {ctx:,} tokens"
                              if row["available_kv_gib"] > 0 else
                              f"the weights ({row['weights_gib']:g} GiB per GPU) leave no room for a KV cache in "
                              f"{mem.ranks[0].requested_gib:.1f} GiB (--gpu-memory-utilization {util:g})")
            continue
        point = lambda b: serve_point(a, gpu, tp=tp, pp=pp, users=b, prompt_tokens=prompt_tokens,  # noqa: E731
                                      output_tokens=output_tokens, kv_bytes=kvb, w=w)
        cap = kv_users
        alone = point(1)
        if target_tps and alone["per_user_tok_s"] < target_tps:
            row.update(refused=f"{alone['per_user_tok_s']:g} tok/s for one user, under the {target_tps:g} asked",
                       single=alone)
            continue
        if target_tps:  # the largest batch that still meets the target (time per token grows with the batch)
            lo, hi = 1, cap
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if point(mid)["per_user_tok_s"] >= target_tps else (lo, mid - 1)
            cap = lo
        replicas = math.ceil(users / cap)  # cap: the most users one replica carries (KV cache, target)
        load = math.ceil(users / replicas)
        p = point(load)
        row.update(users_per_replica=load, max_users_per_replica=cap, replicas=replicas,
                   total_gpus=replicas * tp * pp, tpot_ms=p["tpot_ms"], per_user_tok_s=p["per_user_tok_s"],
                   aggregate_tok_s=round(p["per_user_tok_s"] * users, 1),
                   ttft_ms=p["ttft_ms"], bound=p["step"]["bound"], step=p["step"],
                   kv_utilisation=round(load / kv_users, 2))
    ok = [r for r in rows if not r["refused"] and r["total_gpus"] <= max_gpus]
    chosen = min(ok, key=lambda r: (r["total_gpus"], r["tpot_ms"])) if ok else None
    fastest = min(ok, key=lambda r: (r["tpot_ms"], r["total_gpus"])) if ok else None
    return {"gpu": gpu.id, "interconnect": gpu.interconnect, "users": users, "target_tps": target_tps,
            "prompt_tokens": prompt_tokens, "output_tokens": output_tokens, "max_model_len": ctx,
            "gpus_per_node": gpus_per_node, "max_gpus": max_gpus, "kv_cache_dtype": kv_dtype,
            "gpu_memory_utilization": util, "layouts": rows, "chosen": chosen, "fastest": fastest,
            "roofline": {"eff_bw": FITTED.eff_bw, "overhead_ms": FITTED.overhead_ms,
                         "allreduce_us": FITTED.allreduce_us, "pcie_allreduce_us": PCIE_ALLREDUCE_US, "mfu": FITTED.mfu, "request_ms": FITTED.request_ms,
                         "check": "python -m benchmarks.bench_vllm_throughput"}}


def users_for_rate(requests_per_s: float, one_user: dict, output_tokens: int) -> int:
    """Little's law: requests in flight = arrival rate x time each spends (first token, then every output token)."""
    return max(1, math.ceil(requests_per_s * (one_user["ttft_ms"] + output_tokens * one_user["tpot_ms"]) / 1000))
