"""vLLM's memory per GPU and its KV cache, as vLLM (V1 engine) computes them at start-up, for a layout of
tensor parallel (TP) x pipeline parallel (PP) ranks.

The rules, from vLLM's source (sources in knowledge/serving/vllm-runs.yaml, `rules`):
- each rank asks for `gpu_memory_utilization` x the device's total memory (not its free memory);
- from that it takes its weights, the activation peak of a profiling forward (`max_num_batched_tokens` tokens,
  and the sampler over `max_num_seqs` rows), and the non-torch memory that grew since start (NCCL and custom
  all-reduce buffers at TP > 1); the rest is its KV cache;
- a KV page holds `block_size` (16) tokens of one layer: 2 x KV heads on the rank x head size x element bytes;
  KV heads on a rank = max(1, KV heads // TP); each PP stage holds only its layers;
- layers are grouped so that every group has the same number of layers (sliding-window and full-attention layers
  in separate groups, padded); blocks = available // (page x layers per group), the least over ranks;
- it logs "GPU KV cache size: N tokens" (blocks // groups x block size) and "Maximum concurrency for M tokens
  per request: X" (blocks / the blocks one request of M tokens takes, summed over its groups).

What is not read from a source is fitted, on runs of models other than those the benchmark scores
(benchmarks/bench_vllm_kv.py prints both): the activation peak and the non-torch memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

from .schemas import Architecture

GiB = 1 << 30
BLOCK_SIZE = 16                 # vllm/platforms/cuda.py: block_size defaults to 16
MAX_NUM_BATCHED_TOKENS = 8192   # `vllm serve` default on data-centre GPUs (logged "Defaulting max_num_batched_tokens
MAX_NUM_SEQS = 1024             # to 8192 for OPENAI_API_SERVER"); max_num_seqs likewise 1024 there
GPU_MEMORY_UTILIZATION = 0.9    # vLLM's default
KV_DTYPE_BYTES = {"auto": 2, "bfloat16": 2, "float16": 2, "fp8": 1, "fp8_e4m3": 1, "fp8_e5m2": 1}

# Fitted on the activation peaks logged for runs of models the benchmark does not score (see the module
# docstring): the peak of the profiling run grows with the vocabulary (the sampler's rows of logits), not with
# TP or the context. GiB = ACT_BASE + ACT_PER_VOCAB x vocabulary size.
ACT_BASE_GIB = 0.313
ACT_PER_VOCAB_GIB = 1.323e-05
# non-torch memory that grows during start-up (median of the same runs): one GPU; TP > 1 (NCCL, custom
# all-reduce); PP > 1 with TP 1
NON_TORCH_GIB = {"single": 0.25, "tp": 2.1, "pp": 0.07}
# the total memory CUDA reports is a little under the nominal size: 79.19 GiB on an 80 GB H100, 79.22 on an 80 GB
# A100, 139.72 on a 141 GB H200, 23.58 on a 24 GB RTX 3090 (logged; knowledge/serving/vllm-runs.yaml)
CUDA_TOTAL_SHARE = 0.99


@dataclass
class VllmRank:
    """One rank's memory (GiB) and its KV cache."""
    stage: int
    layers: int
    requested_gib: float
    weights_gib: float
    activation_gib: float
    non_torch_gib: float
    available_kv_gib: float
    page_bytes: int          # one layer's page of BLOCK_SIZE tokens
    group_size: int          # layers per KV group
    num_blocks: int


@dataclass
class VllmMemory:
    tp: int
    pp: int
    max_model_len: int
    kv_dtype: str
    ranks: list[VllmRank]
    num_blocks: int
    groups: int
    kv_tokens: int               # "GPU KV cache size: N tokens"
    max_concurrency: float       # "Maximum concurrency for max_model_len tokens per request: X"
    blocks_per_request: int
    kv_bytes_per_token: int      # on one rank (the least-memory stage), every group counted
    fits_one_request: bool
    notes: list[str] = field(default_factory=list)


def valid_tp(a: Architecture, tp: int) -> Optional[str]:
    """Why vLLM refuses this TP for the model (None when it takes it): attention heads must divide by TP;
    KV heads divide by TP or TP by them (replicated)."""
    if a.attention_heads % tp:
        return f"{a.attention_heads} attention heads do not divide by TP {tp}"
    if a.kv_heads % tp and tp % a.kv_heads:
        return f"{a.kv_heads} KV heads and TP {tp}: neither divides the other"
    return None


def cuda_total_gib(memory_gb: float) -> float:
    """The total CUDA reports for a card sold as `memory_gb` (GB of the spec sheet, which are GiB for HBM cards)."""
    return memory_gb * CUDA_TOTAL_SHARE


def activation_gib(a: Architecture) -> float:
    return ACT_BASE_GIB + ACT_PER_VOCAB_GIB * a.vocab_size


def non_torch_gib(tp: int, pp: int) -> float:
    return NON_TORCH_GIB["tp"] if tp > 1 else NON_TORCH_GIB["pp"] if pp > 1 else NON_TORCH_GIB["single"]


def _groups(full: int, swa: int) -> tuple[int, int, int]:
    """(layers per group, full-attention groups, sliding-window groups): vLLM's uniform-page grouping."""
    kinds = [n for n in (full, swa) if n]
    lo, hi = min(kinds), max(kinds)
    size = hi if hi < lo * 1.5 else lo
    return size, math.ceil(full / size) if full else 0, math.ceil(swa / size) if swa else 0


def blocks_per_request(a: Architecture, tokens: int, layers: tuple[int, int],
                       max_num_batched_tokens: int = MAX_NUM_BATCHED_TOKENS) -> int:
    """The blocks one request of `tokens` takes, summed over the groups (a sliding-window group holds at most
    the window less one plus a batch of new tokens, and one block more)."""
    size, gf, gs = _groups(*layers)
    need = gf * math.ceil(tokens / BLOCK_SIZE)
    if gs:
        win = min(a.sliding_window - 1 + max_num_batched_tokens, tokens)
        need += gs * (math.ceil(win / BLOCK_SIZE) + 1)
    return need


def _stage_layers(n: int, pp: int) -> list[int]:
    """Layers of each PP stage (vLLM's get_pp_indices: an even split, the remainder to the last stages)."""
    base, extra = divmod(n, pp)
    return [base + (1 if i >= pp - extra else 0) for i in range(pp)]


def vllm_memory(a: Architecture, weights_bytes: int, total_gib: float, *, tp: int = 1, pp: int = 1,
                max_model_len: int = 8192, kv_dtype: str = "auto", util: float = GPU_MEMORY_UTILIZATION,
                embedding_bytes: int = 0, available_gib: Optional[float] = None) -> VllmMemory:
    """vLLM's start-up arithmetic on every rank of one TP x PP replica. `weights_bytes`: the checkpoint as
    loaded (all ranks together); `embedding_bytes`: the input embedding and the output head of it (they sit on
    the first and last PP stage); `available_gib`: a logged "Available KV cache memory" to start from instead
    of the estimate (checks the block rule alone)."""
    from .memory import kv_layers

    full, swa = kv_layers(a, "")
    n = full + swa
    dtype_bytes = KV_DTYPE_BYTES[kv_dtype]
    heads = max(1, a.kv_heads // tp)
    page = 2 * BLOCK_SIZE * heads * a.head_dim * dtype_bytes
    requested = total_gib * util
    body = (weights_bytes - embedding_bytes) / tp
    ranks = []
    stages = _stage_layers(n, pp)
    for s, layers in enumerate(stages):
        # the stage's share of the layers (full and sliding in the model's proportion), its weights
        f_s = round(full * layers / n) if full else 0
        sw_s = layers - f_s
        w = body * layers / n
        if pp == 1:
            w += embedding_bytes / tp
        elif s == 0 or s == pp - 1:
            w += embedding_bytes / 2 / tp
        # the sampler runs on the last stage only; an earlier stage's peak is taken as half the vocabulary part
        # (tuned: Llama-3.1-8B PP2/PP4 logs give 1.05-1.1 GiB there against 2.01 on the last stage, llm-d-planner
        # v0.19.0 logs cited in knowledge/serving/vllm-runs.yaml; no PP run of a catalog model is scored)
        act = activation_gib(a) if s == pp - 1 else ACT_BASE_GIB + 0.5 * (activation_gib(a) - ACT_BASE_GIB)
        nt = non_torch_gib(tp, pp)
        avail = (available_gib if available_gib is not None else requested - w / GiB - act - nt)
        size = _groups(f_s, sw_s)[0]
        blocks = max(0, int(avail * GiB // page // size))
        ranks.append(VllmRank(s, layers, requested, w / GiB, act, nt, avail, page, size, blocks))
        if available_gib is not None:
            break  # a logged figure is rank 0's
    least = min(ranks, key=lambda r: r.num_blocks)
    f0 = round(full * least.layers / n) if full else 0
    lay = (f0, least.layers - f0)
    size, gf, gs = _groups(*lay)
    groups = gf + gs
    need = blocks_per_request(a, max_model_len, lay)
    tokens = least.num_blocks // groups * BLOCK_SIZE
    out = VllmMemory(tp, pp, max_model_len, kv_dtype, ranks, least.num_blocks, groups, tokens,
                     round(least.num_blocks / need, 2), need, page // BLOCK_SIZE * size * groups,
                     least.num_blocks >= need)
    if a.kv_heads < tp:
        out.notes.append(f"TP {tp} is more than the {a.kv_heads} KV heads: each rank keeps one (replicated)")
    return out


def for_model(m, total_gib: float, *, bits_per_weight: float = 16.0, **kw) -> VllmMemory:
    """vllm_memory for a catalog model loaded at `bits_per_weight` (16: the BF16 checkpoint vLLM loads by
    default; its vision or audio encoders included, as vLLM loads them)."""
    from .arch import count_params

    p = count_params(m.architecture, sum(e.params_b for e in m.encoders))
    per = bits_per_weight / 8
    return vllm_memory(m.architecture, int(p.total * per), total_gib, embedding_bytes=int((p.embedding + p.output) * per),
                       **kw)


def capacity(m, total_gib: float, gpus: int, *, max_model_len: int, kv_dtype: str = "auto",
             util: float = GPU_MEMORY_UTILIZATION, bits_per_weight: float = 16.0,
             users: Optional[int] = None) -> list[dict]:
    """Every TP layout of one node with up to `gpus` GPUs (powers of two vLLM accepts for the model), as data:
    per-rank memory, KV tokens and the concurrency vLLM would log for `max_model_len`, or why it is refused.
    With `users`: the replicas of each layout whose KV caches hold that many requests of `max_model_len` at
    once, and the GPUs they take (KV capacity only: no throughput is modelled here)."""
    out = []
    tp = 1
    while tp <= gpus:
        why = valid_tp(m.architecture, tp)
        row = {"tp": tp, "pp": 1, "gpus": tp, "refused": why}
        if why is None:
            est = for_model(m, total_gib, tp=tp, max_model_len=max_model_len, kv_dtype=kv_dtype, util=util,
                            bits_per_weight=bits_per_weight)
            r = est.ranks[0]
            row.update(requested_gib=round(r.requested_gib, 2), weights_gib=round(r.weights_gib, 2),
                       activation_gib=round(r.activation_gib, 2), non_torch_gib=r.non_torch_gib,
                       available_kv_gib=round(r.available_kv_gib, 2), num_blocks=est.num_blocks,
                       kv_tokens=est.kv_tokens, max_concurrency=est.max_concurrency,
                       starts=est.fits_one_request, notes=est.notes)
            if users:
                reps = math.ceil(users / est.max_concurrency) if est.fits_one_request else None
                row.update(replicas=reps, total_gpus=reps * tp if reps else None)
        out.append(row)
        tp *= 2
    return out


def fewest_gpus(rows: list[dict]) -> Optional[dict]:
    """The layout whose replicas hold the users with the fewest GPUs (ties: the larger TP, more KV headroom)."""
    ok = [r for r in rows if r.get("total_gpus")]
    return min(ok, key=lambda r: (r["total_gpus"], -r["tp"])) if ok else None
