"""Decode with several sequences at once: llama-server `-np N` slots, Ollama `OLLAMA_NUM_PARALLEL`,
llama-batched-bench `-npl`. A batched roofline on top of the single-stream estimate of speed.py.

One decode step of B sequences reads the weights once (for a mixture of experts: every expert that one of
the B tokens routes to), reads each sequence's own KV cache, and does B times the matrix FLOPs:

    t(B) = t(1)                                               speed.estimate_speed's step, unchanged
         + (B - 1) x kv_coef   x KV bytes per sequence / bandwidth
         + (B - 1) x flop_coef x decode FLOPs per token / FP32 FLOP/s
         + (experts(B) / experts(1) - 1) x routed-expert bytes x weight coefficient / bandwidth

    aggregate tokens/s = B / t(B); per sequence = 1 / t(B).

experts(B) = E x (1 - (1 - k/E)^B) is the expected number of distinct experts among B tokens routed
uniformly to k of E; its weight coefficient is the single-stream one (no constant of its own). kv_coef and
flop_coef are per backend, fitted on the `train` tables of knowledge/serving/llama-batched-bench.yaml by
benchmarks/bench_llama_batched.py (`--fit` prints them); B = 1 is the existing estimate by construction.
Prefill of B prompts is B x prompt tokens at the single-stream prefill rate (compute-bound).
"""

from __future__ import annotations

from typing import Optional

from .arch import count_params
from .schemas import Architecture, Model, Quantization
from .speed import DEFAULT_DECODE_EFF, Efficiency, TokenCost, estimate_speed

# (kv_coef, flop_coef) per backend: seconds x bandwidth per KV byte of each extra sequence, seconds x FP32
# FLOP/s per decode FLOP of each extra sequence. Fitted on the train tables only (DGX Spark and M2 Ultra runs
# of gemma-3-4b Q4_0 and Qwen2.5-Coder-7B Q8_0) by `python -m benchmarks.bench_llama_batched --fit`;
# not tuned on the score tables.
BATCH_COEF: dict[str, tuple[float, float]] = {
    "cuda": (1.699, 1.3127),
    "metal": (1.7216, 3.2918),
}


def distinct_experts(experts: int, per_token: int, batch: int) -> float:
    """Expected distinct experts used by `batch` tokens that each pick `per_token` of `experts` uniformly."""
    return experts * (1 - (1 - per_token / experts) ** batch)


def _routed_expert_bytes(a: Architecture, c: TokenCost) -> float:
    """Bytes of routed-expert weights one token reads (0 for a dense model), at the file's average bytes per
    parameter read."""
    if not a.experts or not a.experts_per_token or not a.moe_intermediate_size:
        return 0.0
    p = count_params(a)
    read_params = p.active - (0 if a.tie_embeddings else p.embedding)
    mats = 3 if a.mlp == "gated" else 2
    routed = a.layers * a.experts_per_token * mats * a.hidden_size * a.moe_intermediate_size
    return c.weight_bytes * routed / read_params


def batched_decode(m: Model, quant: str, backend: str, *, bandwidth_gbps: float, batch: int,
                   prompt_tokens: int = 512, gen_tokens: int = 128, fp32_tflops: Optional[float] = None,
                   compute_tflops: Optional[float] = None, eff: Optional[Efficiency] = None,
                   q: Quantization | None = None, kv: str = "f16", runtime_id: str = "llama.cpp",
                   coef: Optional[tuple[float, float]] = None) -> dict:
    """Decode speed of `batch` sequences decoding together, each at position prompt + gen / 2 (as
    estimate_speed). `fp32_tflops`: the device's FP32 peak for the per-sequence compute term (left out when
    None); `compute_tflops`: the prefill roofline figure estimate_speed takes. Returns numbers only."""
    if batch < 1:
        raise ValueError("batch must be >= 1")
    one = estimate_speed(m, quant, runtime_id, backend, bandwidth_gbps=bandwidth_gbps, compute_tflops=compute_tflops,
                         prompt_tokens=prompt_tokens, gen_tokens=gen_tokens, kv=kv, eff=eff, q=q)
    out = from_single(one, m, backend, batch=batch, bandwidth_gbps=bandwidth_gbps, fp32_tflops=fp32_tflops, eff=eff,
                      coef=coef)
    out.update(position=prompt_tokens + gen_tokens // 2,
               prefill_s=batch * prompt_tokens / one.prefill_tps if one.prefill_tps else None)
    return out


def from_single(one, m: Model, backend: str, *, batch: int, bandwidth_gbps: float,
                fp32_tflops: Optional[float] = None, eff: Optional[Efficiency] = None,
                coef: Optional[tuple[float, float]] = None) -> dict:
    """`batch` sequences decoding together, from a single-stream speed.SpeedEstimate `one` (its step and its
    token cost): the step grows by each extra sequence's KV reads and FLOPs and the extra experts routed to."""
    if batch < 1:
        raise ValueError("batch must be >= 1")
    c = one.cost
    a = m.architecture
    kv_coef, flop_coef = coef if coef is not None else BATCH_COEF.get(backend, BATCH_COEF["cuda"])
    bw = bandwidth_gbps * 1e9
    t1 = 1 / one.decode_tps
    t_kv = t_flop = t_exp = 0.0
    if backend == "cpu":
        # CPU: no gain from batching is assumed, every sequence costs a whole single-stream step (the aggregate
        # stays at one stream's). Chosen after measuring llama-server slots on a 2-vCPU EPYC, where the aggregate
        # stayed near one stream's: 27.8 / 15.1 / 7.6 tok/s per request at 1 / 2 / 4 slots (python -m
        # benchmarks.bench_llama_slots, in the README);
        # the GPU coefficients predicted +44% / +104% there. A many-core CPU whose single stream is memory-bound
        # may do better than this.
        t_flop = (batch - 1) * t1
    else:
        t_kv = (batch - 1) * kv_coef * c.kv_bytes / bw
        t_flop = (batch - 1) * flop_coef * c.flops_decode / (fp32_tflops * 1e12) if fp32_tflops else 0.0
        routed = _routed_expert_bytes(a, c)
        if routed and batch > 1:
            def wc(typ: str) -> float:
                return eff.coef(typ) if eff else 1 / DEFAULT_DECODE_EFF

            by = c.by_type or (("weights", c.weight_bytes),)
            w_coef = sum(b * wc(t) for t, b in by) / sum(b for _, b in by)
            extra = distinct_experts(a.experts, a.experts_per_token, batch) / a.experts_per_token - 1
            t_exp = extra * routed * w_coef / bw
    step = t1 + t_kv + t_flop + t_exp
    return {
        "batch": batch,
        "per_seq_tok_s": 1 / step,
        "aggregate_tok_s": batch / step,
        "step_ms": step * 1e3,
        "terms_ms": {"single_stream": t1 * 1e3, "kv": t_kv * 1e3, "compute": t_flop * 1e3, "experts": t_exp * 1e3},
        "single_stream_tok_s": one.decode_tps,
        "prefill_tok_s": one.prefill_tps,
        "coef": {"kv": kv_coef, "flop": flop_coef},
        "coef_backend": backend if backend in BATCH_COEF else ("cpu: no batching gain assumed" if backend == "cpu"
                                                               else "cuda"),
    }


def slots_for(users: int, min_tok_s: float, m: Model, quant: str, backend: str, **kw) -> dict:
    """The largest number of parallel slots (1..users) whose per-sequence speed stays at or above `min_tok_s`,
    with that slot count's figures; slots 0 when even one sequence is slower."""
    best = 0
    fig = None
    for b in range(1, max(users, 1) + 1):
        r = batched_decode(m, quant, backend, batch=b, **kw)
        if r["per_seq_tok_s"] < min_tok_s:
            break
        best, fig = b, r
    return {"slots": best, "users": users, "min_tok_s": min_tok_s, "at_slots": fig}
