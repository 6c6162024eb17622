"""Decode, prefill and time-to-first-token estimates: a roofline with measured efficiencies.

- Decode is bound by memory bandwidth: every generated token reads the active
  weights once (for untied embeddings only one row of the input table; for MoE
  only the routed experts) plus the KV cache up to the current position.
  tokens/s = efficiency x bandwidth / bytes per token.
- Prefill is bound by compute: about 2 x active parameters FLOPs per prompt
  token plus the attention products (4 x layers x q_dim x position).
  tokens/s = efficiency x FLOP/s / FLOPs per token.
- TTFT = prompt / prefill rate + one decode step.

Efficiencies are per runtime x backend and come from measured profiles
(knowledge/profiles/ and the user's own store): each profile's measured speed
divided by its roofline speed. Without a profile for the machine the estimate is
`estimated` with the spread of the efficiencies as its range; with profiles from
the same machine it is `calibrated`; the same stack measured on the same machine
is `measured`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from typing import Iterable, Optional

from .arch import count_params
from .gguf import FILE_TYPES, gguf_arch, layout_summary
from .memory import KV_TYPES, kv_layers, sliding_in_runtime
from .schemas import Architecture, MeasuredProfile, Model, Quantization
from .weights import quant_weights


@dataclass(frozen=True)
class TokenCost:
    weight_bytes: int      # weights read per decoded token
    kv_bytes: int          # KV cache read per decoded token at the position
    flops_prefill: float   # FLOPs per prompt token (average over the prompt)
    flops_decode: float
    by_type: tuple[tuple[str, int], ...] = ()  # weight bytes read per token, by ggml type
    prefill_by_type: tuple[tuple[str, float], ...] = ()  # FLOPs per prompt token: layer matrices by type, "other"

    @property
    def bytes_per_token(self) -> int:
        return self.weight_bytes + self.kv_bytes


def _kv_row(a: Architecture, kv: str) -> int:
    blk, size = KV_TYPES.get(kv, (1, 2))
    return 2 * (a.kv_heads * a.head_dim // blk * size)


def token_cost(a: Architecture, quant: str, position: int, prompt_tokens: int, *, kv: str = "f16",
               runtime_id: str = "llama.cpp", m: Model | None = None, q: Quantization | None = None,
               prefill_offset: int = 0) -> TokenCost:
    """`position`: tokens in the KV cache at a decoded token; `prefill_offset`: tokens already in the cache
    when the prompt is processed (llama-bench -d)."""
    arch = gguf_arch(a)
    body_by: dict = {}
    if quant in FILE_TYPES:
        summ = layout_summary(a, quant)
        read, by = summ["read"], summ["read_by_type"]
        body_by = summ.get("body_params_by_type", {})
    else:
        by = {}
        ws = quant_weights(m, quant, q) if (m is not None and q is not None) else None
        total = ws.bytes if ws else count_params(a).total * 2
        p = count_params(a)
        frac = (p.active - (0 if a.tie_embeddings else p.embedding)) / p.total
        read = int(total * frac)
    full, swa = kv_layers(a, arch, sliding_in_runtime(a, arch, runtime_id))
    row = _kv_row(a, kv)
    win = a.sliding_window or position
    kv_read = full * position * row + swa * min(position, win) * row
    p = count_params(a)
    body = p.active - p.embedding - p.output - p.norms - p.per_layer_embeddings - p.encoders
    q_dim = a.attention_heads * a.head_dim
    win_p = a.sliding_window or 10**12
    attn_prefill = 4 * q_dim * (full * (prefill_offset + prompt_tokens / 2)
                                + swa * min(prefill_offset + prompt_tokens / 2, win_p))
    attn_decode = 4 * (full + swa) * q_dim * position
    head = a.vocab_size * a.hidden_size  # the output projection (tied or not)
    # prefill computes logits only for the last prompt token
    flops_prefill = 2 * body + attn_prefill + 2 * head / max(prompt_tokens, 1)
    pre_by = ()
    if body_by:
        mats = {t: 2.0 * n for t, n in body_by.items() if n}
        pre_by = tuple(sorted(mats.items())) + (("other", max(flops_prefill - sum(mats.values()), 0.0)),)
    return TokenCost(read, kv_read, flops_prefill, 2 * body + 2 * head + attn_decode, tuple(sorted(by.items())),
                     pre_by)


@dataclass(frozen=True)
class Efficiency:
    decode: float                      # share of the bandwidth roofline reached (all weight types together)
    decode_range: tuple[float, float]  # spread of measured over fitted speed, as multipliers of the estimate
    prefill: Optional[float]
    prefill_range: Optional[tuple[float, float]]
    n: int
    basis: str      # estimated | calibrated
    source: str
    layer_overhead_s: float = 0.0      # fixed time per layer and token (thread sync, small kernels)
    # seconds x bandwidth per byte read, by ggml type (1 / that type's efficiency); types not fitted use 1 / decode
    type_coef: tuple[tuple[str, float], ...] = ()
    # the same for prefill: seconds x FLOP/s per FLOP of each type's matrices ("other": attention, head)
    prefill_type_coef: tuple[tuple[str, float], ...] = ()
    # CPU compute part of a decoded token: compute_coef x matrix FLOPs / (F32 x int8 ratio of the instruction
    # set) + layers x layer_flops / F32, where F32 is the CPU's float32 FLOP/s (all its threads)
    compute_coef: float = 0.0
    layer_flops: float = 0.0
    own_runs: bool = True  # fitted on runs of this engine (False: borrowed from another engine, or generic)
    # mixture-of-experts layers on a GPU backend: a fixed time per MoE layer and token beside the dense layer's
    # (routing, top-k, gathering and summing the experts' outputs), and the factor on the prefill matrices' time
    # (a prompt batch split among the experts runs small matrix products); fitted on MoE runs (moe_fit)
    moe_layer_s: float = 0.0
    moe_prefill_factor: float = 1.0
    moe_source: str = ""
    moe_prefill_by_gpu: tuple[float, ...] = ()  # each GPU's median factor (what another backend may pool)
    moe_prefill_source: str = ""

    def coef(self, typ: str) -> float:
        for k, v in self.type_coef:
            if k == typ:
                return v
        return 1 / self.decode

    def prefill_coef(self, typ: str, default: float) -> float:
        for k, v in self.prefill_type_coef:
            if k == typ:
                return v
        return 1 / (self.prefill or default)


# Peak int8 operations per cycle of llama.cpp's quantized CPU dot products (weights x 8-bit activations)
# over float32 FLOP per cycle, by instruction set. 256-bit AVX2 FMA: 32 FLOP per cycle (two pipes); int8 on
# plain AVX2 is vpmaddubsw + vpmaddwd (ggml-cpu's mul_sum_us8_pairs_float), 32 products per pair on the
# integer-multiply pipes: 64 ops per cycle where two pipes take them (Zen 3 per LLVM's X86ScheduleZnver3.td,
# Alder Lake-P per X86SchedAlderlakeP.td), so 2; AVX-512 VNNI / AVX-VNNI vpdpbusd does the 32 products in one
# instruction, two per cycle: 128 ops per cycle, 4 (Zen 4 double-pumps 512-bit: the same 128; cpufp measured
# 127 on a Ryzen 7 8845HS); ARM sdot (dotprod) at two per cycle: 64 ops against 16 FLOP on a Cortex-A76
# (cpufp measured 614.0 GOPS vs 153.5 GFLOP/s on a BCM2712), 4; i8mm's smmla is not faster than sdot in
# cpufp's runs (Snapdragon X Elite, Apple M2 Max), 4. Float weights (F16/F32) run at the float32 rate.
# Sources: https://github.com/llvm/llvm-project/blob/main/llvm/lib/Target/X86/X86ScheduleZnver3.td,
# https://github.com/pigirons/cpufp/tree/master/benchmark_result, ggml/src/ggml-cpu/arch/x86/quants.c.
# The ratio scales the measured FP32 rate; the fitted coefficients absorb what the kernels reach of it.
INT8_RATIO = (("avx512_vnni", 4.0), ("avx_vnni", 4.0), ("i8mm", 4.0), ("asimddp", 4.0), ("dotprod", 4.0),
              ("avx2", 2.0), ("asimd", 1.0), ("neon", 1.0))
FLOAT_TYPES = frozenset({"F16", "F32", "BF16"})


def int8_ratio(simd: Iterable[str]) -> float:
    flags = set(simd or ())
    for flag, r in INT8_RATIO:
        if flag in flags:
            return r
    return 1.0


def type_ratio(typ: str, simd: Iterable[str]) -> float:
    """Dot-product throughput of a weight type relative to fp32 FMA on this instruction set."""
    if typ in FLOAT_TYPES:
        return 2.0 if (typ == "BF16" and "avx512_bf16" in set(simd or ())) else 1.0
    return int8_ratio(simd)


def compute_terms(c: "TokenCost", tflops: float, simd: Iterable[str]) -> dict[str, float]:
    """Seconds per decoded token at the CPU's float32 rate: matrix FLOPs by type over F32 x the type's ratio."""
    return {typ: f / (tflops * 1e12 * type_ratio(typ, simd)) for typ, f in c.prefill_by_type
            if typ != "other" and f}


@dataclass
class SpeedEstimate:
    decode_tps: float
    decode_tps_range: tuple[float, float]
    prefill_tps: Optional[float]
    ttft_ms: Optional[float]
    basis: str
    cost: TokenCost
    assumptions: list[str] = field(default_factory=list)
    own_runs: bool = True  # the efficiency rests on runs of this engine, not another's or a generic figure


def profile_arch(p: MeasuredProfile, models: dict[str, Model]) -> Optional[Architecture]:
    if p.model_architecture is not None:
        return p.model_architecture
    m = models.get(p.model)
    return m.architecture if m else None


def _profile_cost(p: MeasuredProfile, a: Architecture) -> TokenCost:
    kv = str(p.settings.get("type_k", "f16")) if p.settings else "f16"
    if p.depth_tokens is not None:  # llama-bench: decode timed from the depth, the prompt processed after it
        return token_cost(a, p.quantization, p.depth_tokens + p.gen_tokens // 2, p.prompt_tokens, kv=kv,
                          runtime_id=p.runtime, prefill_offset=p.depth_tokens)
    return token_cost(a, p.quantization, p.prompt_tokens + p.gen_tokens // 2, p.prompt_tokens, kv=kv,
                      runtime_id=p.runtime)


def profile_efficiency(p: MeasuredProfile, models: dict[str, Model]) -> tuple[Optional[float], Optional[float]]:
    """(decode, prefill) efficiency of one measured run against its roofline."""
    a = profile_arch(p, models)
    if a is None or not p.bandwidth_gbps:
        return None, None
    c = _profile_cost(p, a)
    dec = p.decode_tokens_per_s.median * c.bytes_per_token / (p.bandwidth_gbps * 1e9)
    pre = None
    if p.prefill_tokens_per_s and p.compute_tflops:
        pre = p.prefill_tokens_per_s.median * c.flops_prefill / (p.compute_tflops * 1e12)
    return dec, pre


def _prefill_terms(c: TokenCost, tflops: float, simd: Iterable[str] = ()) -> dict[str, float]:
    """Compute-roof seconds per prompt token, by ggml type of the layer matrices plus the rest. On a CPU
    (`simd`: its kernel-choosing flags) a quantized type's matrices run llama.cpp's int8 dot products, at the
    instruction set's int8 ratio over the float32 rate (type_ratio), as the decode's compute term does; a GPU
    passes no flags (its compute figure is already the matrix peak its kernels run at)."""
    return {typ: f / (tflops * 1e12 * (type_ratio(typ, simd) if typ != "other" else 1.0))
            for typ, f in c.prefill_by_type if f}


def _terms(c: TokenCost, bandwidth_gbps: float) -> dict[str, float]:
    """Roofline seconds per decoded token, by ggml weight type plus the KV cache read."""
    bw = bandwidth_gbps * 1e9
    terms = {typ: b / bw for typ, b in c.by_type if b} or {"weights": c.weight_bytes / bw}
    if c.kv_bytes:
        terms["KV"] = c.kv_bytes / bw
    return terms


@dataclass(frozen=True)
class _Point:
    terms: dict          # roofline seconds by weight type
    layers: int
    t: float             # measured seconds per token
    compute: float = 0.0  # matrix FLOPs over F32 x int8 ratio, seconds (CPU runs with a compute figure)
    layer_s: float = 0.0  # layers over F32, seconds per FLOP-equivalent of per-layer work (x layer_flops)
    machine: str = ""
    isa: str = ""        # x86 | arm: per-type kernel speeds carry only within one
    core: str = ""       # the CPU core named in the run's hardware (cortex-a76, zen4), when it names one

    @property
    def x(self) -> float:
        return sum(self.terms.values())


def _solve(m: list[list[float]], v: list[float]) -> Optional[list[float]]:
    """Gaussian elimination with partial pivoting (tiny systems: one unknown per weight type)."""
    n = len(v)
    a = [row[:] + [v[i]] for i, row in enumerate(m)]
    for c in range(n):
        piv = max(range(c, n), key=lambda r: abs(a[r][c]))
        if abs(a[piv][c]) < 1e-300:
            return None
        a[c], a[piv] = a[piv], a[c]
        for r in range(n):
            if r != c and a[r][c]:
                f = a[r][c] / a[c][c]
                for k in range(c, n + 1):
                    a[r][k] -= f * a[c][k]
    return [a[i][n] / a[i][i] for i in range(n)]


def _fit_decode(points: list[_Point]) -> tuple[float, float]:
    """Least squares for t = x / eff + layers * tau over the points, in relative error.

    Returns (eff, tau). With fewer than two distinct sizes, or a negative tau, tau is 0.
    """
    if len({round(p.x / p.layers, 9) for p in points}) >= 2:
        rows = [[p.x / p.t, p.layers / p.t] for p in points]
        sol = _solve([[sum(r[i] * r[j] for r in rows) for j in range(2)] for i in range(2)],
                     [sum(r[i] for r in rows) for i in range(2)])
        if sol and sol[0] > 0 and sol[1] >= 0:
            return 1 / sol[0], sol[1]
    return statistics.median(p.x / p.t for p in points), 0.0


# How strongly each weight type's coefficient is pulled toward the coefficient fitted over all types
# together (relative-error units): a type seen in few runs stays near the common value.
TYPE_RIDGE = 0.02


def _fit_types(points: list[_Point], eff: float, tau: float, *, fit_tau: bool) -> tuple[dict[str, float], float]:
    """Per-type coefficients (1 / efficiency) and the per-layer time, ridge-regularised toward (1 / eff, tau)."""
    names = sorted({k for p in points for k in p.terms})
    c0 = 1 / eff
    k = len(names) + (1 if fit_tau else 0)
    rows, rhs = [], []
    for p in points:
        r = [p.terms.get(n, 0.0) / p.t for n in names]
        if fit_tau:
            r.append(p.layers / p.t)
        rows.append(r)
        rhs.append(1.0 - (0.0 if fit_tau else p.layers * tau / p.t))
    ata = [[sum(r[i] * r[j] for r in rows) for j in range(k)] for i in range(k)]
    atb = [sum(r[i] * y for r, y in zip(rows, rhs)) for i in range(k)]
    for i in range(len(names)):
        ata[i][i] += TYPE_RIDGE
        atb[i] += TYPE_RIDGE * c0
    sol = _solve(ata, atb)
    if sol is None or (fit_tau and sol[-1] < 0) or any(v <= 0 for v in sol[:len(names)]):
        if fit_tau:
            return _fit_types(points, eff, tau, fit_tau=False)
        return {}, tau
    return dict(zip(names, sol[:len(names)])), (sol[-1] if fit_tau else tau)


# Prior spread between machines of the calibration update's two unknowns (relative to the fit over
# other machines): the bandwidth-time scale (sd 30%) and the per-layer time (sd 0.2 ms per layer), and
# the run-to-run noise of a measured decode speed (5%).
CALIBRATION_PRIOR = {"scale_sd": 0.30, "tau_sd_s": 0.2e-3, "noise_sd": 0.05}


def _one_run_update(pts: list[_Point], coef: dict[str, float], c0: float, tau0: float) -> tuple[float, float]:
    """(bandwidth-time scale, per-layer time) after the runs `pts`, from the prior (1, tau0): a two-unknown
    least squares in relative error with both held to the prior by CALIBRATION_PRIOR (a Gaussian update)."""
    sd_s, sd_t, sd_o = (CALIBRATION_PRIOR[k] for k in ("scale_sd", "tau_sd_s", "noise_sd"))
    a11 = 1 / sd_s ** 2
    a22 = 1 / sd_t ** 2
    a12 = 0.0
    b1, b2 = 1 / sd_s ** 2, tau0 / sd_t ** 2
    for p in pts:
        bw = _model_seconds(p.terms, 0, coef, c0, 0.0) / p.t   # bandwidth time at the prior, relative
        lay = p.layers / p.t
        w = 1 / sd_o ** 2
        a11 += w * bw * bw
        a12 += w * bw * lay
        a22 += w * lay * lay
        b1 += w * bw
        b2 += w * lay
    det = a11 * a22 - a12 * a12
    sc = (b1 * a22 - a12 * b2) / det
    tau = (a11 * b2 - a12 * b1) / det
    if tau < 0:  # the data say the per-layer time is none: scale alone
        tau = 0.0
        sc = sum(_model_seconds(p.terms, 0, coef, c0, 0.0) * p.t for p in pts) / sum(
            _model_seconds(p.terms, 0, coef, c0, 0.0) ** 2 for p in pts)
    return max(sc, 1e-3), tau


def _model_seconds(terms: dict[str, float], layers: int, coef: dict[str, float], c0: float, tau: float) -> float:
    return sum(v * coef.get(k, c0) for k, v in terms.items()) + layers * tau


# ---------------------------------------------------------------------------- CPU decode model
#
# seconds per token = sum over weight types of bytes / read bandwidth x a_type        (memory)
#                   + d x matrix FLOPs / (F32 x int8 ratio of the type)                 (dot products)
#                   + w x layers / F32                                                 (per-layer work)
# F32 is the machine's float32 FLOP/s (numpy matmul for a detected machine, cores x clock x SIMD for a
# catalog CPU), the int8 ratio comes from the instruction set (INT8_RATIO). a, d and w are fitted on the
# runs of other machines (relative least squares); a run of the machine itself then updates them as a
# Gaussian prior (CPU_PRIOR_SD between machines, CPU_NOISE_SD run to run).
CPU_PRIOR_SD = {"bw": 0.30, "compute": 0.40, "layer": 0.50}
# The per-layer work (norms, rope, softmax, thread barriers, and each layer's int8 kernels' fixed costs) has
# no prior pull in the fit over other machines (precision 0). On the shipped runs the fit then puts the whole
# compute share in it and the dot-product coefficient d at 0 (the active set fixes it there): across the
# machines at hand a cost per layer at the int8 rate explains the runs better than one per matrix FLOP
# (`advisor estimate MODEL` shows the fitted terms in its "decode efficiency" and "CPU compute" lines). A
# machine's own runs can still move both (CPU_PRIOR_SD).
LAYER_PREC = 0.0
CPU_NOISE_SD = 0.05


def _cpu_rows(pts: list[_Point], names: list[str]) -> list[list[float]]:
    return [[p.terms.get(n, 0.0) / p.t for n in names] + [p.compute / p.t, p.layer_s / p.t] for p in pts]


def _ridge_ls(rows: list[list[float]], w_obs: float, prior: list[float], prec: list[float],
              weights: Optional[list[float]] = None) -> Optional[list[float]]:
    """argmin sum_i weight_i (row_i.theta - 1)^2 w_obs + sum_j prec_j (theta_j - prior_j)^2 with theta >= 0
    (an active set: a coefficient that comes out negative is fixed at 0 and the rest solved again)."""
    k = len(prior)
    wts = weights or [1.0] * len(rows)
    free = list(range(k))
    theta = list(prior)
    for _ in range(k + 1):
        ata = [[w_obs * sum(wt * r[i] * r[j] for r, wt in zip(rows, wts)) + (prec[i] if i == j else 0.0) for j in free]
               for i in free]
        atb = [w_obs * sum(wt * r[i] for r, wt in zip(rows, wts)) + prec[i] * prior[i] for i in free]
        sol = _solve(ata, atb)
        if sol is None:
            return None
        neg = [free[i] for i, v in enumerate(sol) if v < 0]
        for i, v in zip(free, sol):
            theta[i] = v
        if not neg:
            return theta
        for j in neg:
            theta[j] = 0.0
            free.remove(j)
        if not free:
            return theta
    return theta


def _machine_weights(pts: list[_Point]) -> list[float]:
    """Each machine configuration counts once, however many runs it has."""
    n: dict[str, int] = {}
    for p in pts:
        n[p.machine] = n.get(p.machine, 0) + 1
    return [len(pts) / len(n) / n[p.machine] for p in pts]


def _fit_cpu(pts: list[_Point], isa: str | None = None, core: str | None = None
             ) -> tuple[dict[str, float], float, float, list[_Point]]:
    """Over other machines' runs: one memory coefficient, the dot-product and the per-layer coefficient,
    then a coefficient per weight type held toward the common one (TYPE_RIDGE), from the runs of the
    target's CPU core when there are any, else of its instruction set (x86 and ARM kernels, and their
    repacking rules, differ); with no run of that instruction set every type takes the common coefficient.
    Returns the coefficients and the runs that set the per-type ones."""
    names = sorted({k for p in pts for k in p.terms})
    merged = [_Point({"all": sum(p.terms.values())}, p.layers, p.t, p.compute, p.layer_s) for p in pts]
    wts = _machine_weights(pts)
    rows = _cpu_rows(merged, ["all"])
    first = _ridge_ls(rows, 1.0, [1.0, 1.0, 0.0], [1e-9, 1e-9, LAYER_PREC], wts) or [1.0, 0.0, 0.0]
    a, d, w = first
    a = a or 1.0
    if isa:
        own = [p for p in pts if p.isa == isa]
        same_core = [p for p in own if core and p.core == core]
        own = same_core or own
        if not own:
            return {n: a for n in names}, d, w, []
        pts, wts = own, _machine_weights(own)
    rows = _cpu_rows(pts, names)
    prior = [a] * len(names) + [d, w]
    # d and w stay at the fit over every machine; the same-ISA runs set the per-type memory coefficients
    prec = [TYPE_RIDGE / a ** 2] * len(names) + [1e6 / max(d, 1e-3) ** 2, 1e6 / max(w, 1.0) ** 2]
    theta = _ridge_ls(rows, 1.0, prior, prec, wts) or prior
    coef = {n: (v if v > 0 else a) for n, v in zip(names, theta)}
    return coef, theta[-2], theta[-1], pts


def _update_cpu(pts: list[_Point], coef: dict[str, float], d: float, w: float) -> tuple[dict[str, float], float, float]:
    """The prior (coef, d, w) after this machine's runs: each coefficient held to its prior by how much it
    varies between machines, the runs weighted by their run-to-run noise (a Gaussian update)."""
    names = sorted(set(coef) | {k for p in pts for k in p.terms})
    c0 = statistics.median(coef.values()) if coef else 1.0
    prior = [coef.get(n, c0) for n in names] + [d, w]
    sds = [CPU_PRIOR_SD["bw"]] * len(names) + [CPU_PRIOR_SD["compute"], CPU_PRIOR_SD["layer"]]
    prec = [1 / (sd * max(v, 1e-12)) ** 2 if v > 0 else 1e-9 for sd, v in zip(sds, prior)]
    theta = _ridge_ls(_cpu_rows(pts, names), 1 / CPU_NOISE_SD ** 2, prior, prec) or prior
    return dict(zip(names, theta[:len(names)])), theta[-2], theta[-1]


def _cpu_seconds(p: _Point, coef: dict[str, float], d: float, w: float) -> float:
    c0 = statistics.median(coef.values()) if coef else 1.0
    return sum(v * coef.get(k, c0) for k, v in p.terms.items()) + d * p.compute + w * p.layer_s


_CPU_CORE = None


def cpu_key(text: str | None) -> Optional[str]:
    """The CPU core or model named in a description ('Cortex-A76', 'Zen 4', 'Core i3-1315U', 'Apple M2',
    'EPYC 9654'). A core name wins over a product line wherever it stands ('AMD EPYC KVM VM (Zen 3, ...)' is
    Zen 3), and a product line counts only with a model number ('EPYC KVM' and 'Xeon Processor' name no CPU:
    runs of two different cores must not pass for runs of one)."""
    global _CPU_CORE
    import re

    if not text:
        return None
    if _CPU_CORE is None:
        _CPU_CORE = (re.compile(r"(cortex-[ax]\d+|\bzen ?\d|apple m\d|snapdragon x\w*|core i\d-\d{4,5}\w*|"
                                r"core ultra \d \w+)", re.I),
                     re.compile(r"(epyc \d\w*|"
                                r"xeon (?:platinum |gold |silver |bronze |max |w-?)?[a-z]?\d?-?\d{3,5}\w*)", re.I))
    text = re.sub(r"\((?:r|tm)\)", "", text, flags=re.I)
    for pattern in _CPU_CORE:
        m = pattern.search(text)
        if m:
            return m.group(1).lower().replace(" ", "")
    return None


def cpu_isa(text: str | None) -> Optional[str]:
    """x86 or arm, from a CPU or machine description."""
    if not text:
        return None
    t = text.lower()
    if any(k in t for k in ("cortex", "neoverse", "apple m", "snapdragon", "graviton", "ampere", "arm")):
        return "arm"
    if any(k in t for k in ("intel", "amd", "epyc", "xeon", "ryzen", "core i", "core ultra", "x86")):
        return "x86"
    return None


def _apple_tier(text: str | None) -> Optional[str]:
    """Apple silicon GPUs in two classes: the two-die Ultra chips reach a clearly lower share of their
    bandwidth in llama.cpp's published table than the single-die chips."""
    if not text or "apple" not in text.lower():
        return None
    return "apple-ultra" if "ultra" in text.lower() else "apple-single-die"


def _isa_of(hardware: str, simd) -> str:
    isa = cpu_isa(hardware)
    if isa:
        return isa
    flags = set(simd or ())
    return "arm" if flags & {"asimd", "asimddp", "neon", "dotprod", "i8mm"} else "x86" if flags else ""


def machine_of(p: MeasuredProfile) -> str:
    """Which machine a run belongs to: its fingerprint less the configuration suffix (-threads1,
    -interleaved), or its hardware description."""
    fp = p.hardware_fingerprint or ""
    return fp.split("-")[0] if fp else p.hardware


def profile_simd(p: MeasuredProfile) -> tuple[str, ...]:
    """The run's kernel-choosing SIMD flags: recorded, else read from llama.cpp's system-info line in its
    source note ('AVX512_VNNI = 1'), else the published CPU core (Cortex-A76: dotprod)."""
    if p.cpu_simd:
        return tuple(p.cpu_simd)
    from .hardware import llama_cpu_flags

    out = llama_cpu_flags(" ".join((src.note or "") for src in p.sources.values())) or set()
    if not out:
        core = cpu_key(p.hardware) or ""
        if core.startswith("cortex-a7") or core.startswith("cortex-x") or "apple" in core:
            out = {"asimd", "asimddp"}
        elif cpu_isa(p.hardware) == "x86":
            out = {"avx2", "fma", "f16c"}
    return tuple(sorted(out))


def efficiency(profiles: Iterable[MeasuredProfile], models: dict[str, Model], runtime_id: str, backend: str,
               fingerprint: str | None = None, quant: str | None = None, cpu_model: str | None = None,
               threads: int | None = None, cpu_tflops: float | None = None,
               pool_moe: bool = True, memory_kind: str | None = None) -> Optional[Efficiency]:
    """Efficiency of the runtime x backend from measured profiles (same machine first).

    `threads` is the CPU thread count of the run being predicted: the per-layer time is work that
    llama.cpp splits across its threads (the same EPYC fits 0.88 ms per layer with one thread, 0.39
    ms with two), so each CPU run of the same instruction set counts its layers x threads / its own
    thread count.

    On CPUs decode time per token is fitted as the sum over weight types of bytes / (bandwidth x
    that type's efficiency), plus layers x tau (a fixed cost per layer: thread synchronisation and
    small kernels, which matters for small models). Each type's kernel has its own speed (a
    repacked Q4_K matrix-vector product is not a Q8_0 or Q5_0 one), so per-type coefficients let
    runs of some models predict others with a different mix of types. Elsewhere (GPUs) the
    efficiency is the median over the profiles, preferring the same quantization.
    """
    profiles = [p for p in profiles if not ollama_go_engine(p, models)]
    rel = [p for p in profiles if _runtime_group(p.runtime) == _runtime_group(runtime_id) and p.backend == backend]
    pooled = borrowed = False
    if backend != "cpu" and not rel and _runtime_group(runtime_id) != "llama.cpp":
        # an engine with no run on this GPU backend: llama.cpp's runs there (the same device limits: its share
        # of the bandwidth and its time per layer), never the bare generic efficiency that has neither
        rel = [p for p in profiles if _runtime_group(p.runtime) == "llama.cpp" and p.backend == backend]
        borrowed = bool(rel)
    if backend != "cpu" and not rel:
        # no run of this GPU backend: the runtime's runs on every other GPU backend, as a wider prior
        rel = [p for p in profiles if _runtime_group(p.runtime) == _runtime_group(runtime_id) and p.backend != "cpu"]
        pooled = bool(rel)
    same = [p for p in rel if fingerprint and p.hardware_fingerprint == fingerprint]
    use, basis = (same, "calibrated") if same else (rel, "estimated")
    kind = cpu_key if backend == "cpu" else _apple_tier if backend == "metal" else None
    key = kind(cpu_model) if kind else None
    similar = [p for p in rel if key and kind(p.hardware) == key] if not same else []
    if similar and any(p.bandwidth_gbps for p in similar):
        use = similar  # published runs on the same CPU core: a better prior than other machines

    def by_quant(ps):
        return [p for p in ps if p.quantization == quant] if quant and any(p.quantization == quant for p in ps) else ps

    target_isa = cpu_isa(cpu_model) if threads else None

    def point(p) -> Optional[_Point]:
        a = profile_arch(p, models)
        if a is None or not p.bandwidth_gbps:
            return None
        layers = a.layers
        if threads and p.threads and backend == "cpu" and target_isa and cpu_isa(p.hardware) == target_isa:
            # the per-layer time is work split across threads: a run with more threads pays less of it
            # (within one instruction set; across them per-core speeds differ more than thread counts)
            layers = a.layers * threads / p.threads
        return _Point(_terms(_profile_cost(p, a), p.bandwidth_gbps), layers, run_decode_seconds(p, models))

    def points_of(ps):
        return [pt for pt in map(point, ps) if pt is not None]

    same_ids = {id(p) for p in same}

    def cpu_point(p) -> Optional[_Point]:
        """A CPU run as memory terms, dot-product seconds at its F32 rate and per-layer seconds per FLOP."""
        a = profile_arch(p, models)
        if a is None or not p.bandwidth_gbps or not p.compute_tflops:
            return None
        c = _profile_cost(p, a)
        simd = profile_simd(p)
        return _Point(_terms(c, p.bandwidth_gbps), a.layers, run_decode_seconds(p, models),
                      compute=sum(compute_terms(c, p.compute_tflops, simd).values()),
                      layer_s=a.layers / (p.compute_tflops * 1e12 * int8_ratio(simd)),
                      machine="same" if id(p) in same_ids else (p.hardware_fingerprint or p.hardware),
                      isa=_isa_of(p.hardware, simd), core=cpu_key(p.hardware) or "")

    def prefills(ps):
        return [e for e in (profile_efficiency(p, models)[1] for p in ps
                            if p.prefill_tokens_per_s and p.compute_tflops) if e is not None]

    def prefill_points(ps) -> list[_Point]:
        return [pt for pt, _ in _prefill_points(ps, models)]

    def fit(pts):
        """(eff, tau, coef) over the points."""
        e, t = _fit_decode(pts)
        sizes = len({round(p.x / p.layers, 9) for p in pts})
        coef, t = _fit_types(pts, e, t, fit_tau=sizes >= 2)
        return e, t, coef

    pcoef: dict[str, float] = {}
    pre_eff: Optional[float] = None
    d = w = 0.0
    moe_runs: list[MeasuredProfile] = []
    dense: list[MeasuredProfile] = []
    from_similar = use is similar
    same_class = ""
    if backend != "cpu" and memory_kind and not same and not from_similar:
        # a discrete card's VRAM and a unified-memory module's LPDDR (Jetson, DGX Spark, Strix Halo) reach
        # different shares of their peaks: runs of the target's memory class where there are any
        want = "unified" if memory_kind == "unified" else "discrete"
        cls = [p for p in use if gpu_memory_class(p.hardware) == want]
        # never at the cost of the dense fit: a class whose only runs are MoE leaves the dense runs of the other
        if cls and len(cls) < len(use) and (any(not _is_moe(p, models) for p in cls)
                                            or all(_is_moe(p, models) for p in use)):
            use, same_class = cls, want
    if backend != "cpu":
        # MoE runs carry a cost a dense layer does not (moe_fit): the dense fit is on dense runs where there are any
        dense = [p for p in use if not _is_moe(p, models)]
        if dense:
            moe_runs = [p for p in rel if _is_moe(p, models)]
            use = dense
        pts = points_of(by_quant(use))
        if not pts:
            return None
        # a fixed time per layer (kernel launches, synchronisation) beside the bandwidth term: at a
        # hundred tokens/s and more it is a large share of a token; the runs' spread of bandwidths at one
        # model size (the scoreboards) makes the two identifiable
        eff, tau = _fit_decode(pts)
        if len({round(sum(v for k, v in p.terms.items() if k != "KV") / p.layers, 9) for p in pts}) < 2:
            # one model size on one device (depths apart) cannot tell the bandwidth share from the time per layer: the time per layer
            # of the runtime's runs on the other GPU backends, and the share fitted beside it
            others = points_of([p for p in profiles if _runtime_group(p.runtime) == _runtime_group(runtime_id)
                                and p.backend not in ("cpu", backend) and not _is_moe(p, models)])
            tau_o = _fit_decode(others)[1] if others else 0.0
            if tau_o > 0 and all(p.t > p.layers * tau_o for p in pts):
                eff, tau = statistics.median(p.x / (p.t - p.layers * tau_o) for p in pts), tau_o
        coef = {}
        pres = prefills(by_quant(use))
        split = _fit_prefill_split(use, models)
        if split:
            # runs at depth: attention at a long context is not the matrices' share of the peak (on ROCm
            # and Vulkan far less), so the two get their own efficiencies
            c_mat, c_attn, pres = split
            pcoef = {"other": c_attn}
            pre_eff = 1 / c_mat
        ratios = [(p.x / eff + p.layers * tau) / p.t for p in pts]
    elif _runtime_group(runtime_id) != "llama.cpp":
        # other CPU runtimes (Transformers): memory terms and a per-layer time; their kernels are not
        # llama.cpp's int8 dot products, so the instruction-set compute term does not apply
        pts = points_of(use)
        if not pts:
            return None
        pres = prefills(by_quant(use))
        others = points_of([p for p in rel if p not in same])
        sizes = len({round(p.x / p.layers, 9) for p in pts})
        if same and others and sizes < 2:
            e0, t0, c_prior = fit(others)
            sc, tau = _one_run_update(pts, {}, 1 / e0, t0)
            eff, coef = e0 / sc, {}
        else:
            eff, tau, coef = fit(pts)
        ratios = [_model_seconds(p.terms, p.layers, coef, 1 / eff, tau) / p.t for p in pts]
    else:
        ppts = prefill_points(use)
        if ppts:
            e_p = statistics.median(p.x / p.t for p in ppts)
            pcoef, _ = _fit_types(ppts, e_p, 0.0, fit_tau=False)
            pres = [e_p]
        else:
            pres = prefills(by_quant(use))
        cpts = [pt for pt in (cpu_point(p) for p in rel) if pt is not None]
        mine = [pt for pt in cpts if pt.machine == "same"]
        others = [pt for pt in cpts if pt.machine != "same"]
        if not others and not mine:
            return None
        target_isa = _isa_of(cpu_model or "", ())
        if others:
            coef, d, w, typed = _fit_cpu(others, target_isa, key)
        else:
            coef, d, w, typed = _fit_cpu(mine)
        typed_core = key if key and typed and all(p.core == key for p in typed) else None
        pts = others
        if mine:
            coef, d, w = _update_cpu(mine, coef, d, w)
            pts = mine
        ratios = [_cpu_seconds(p, coef, d, w) / p.t for p in pts]
        eff = 1 / statistics.median(coef.values()) if coef else DEFAULT_DECODE_EFF
        tau = w / (cpu_tflops * 1e12) if cpu_tflops else 0.0
    c0 = 1 / eff
    where = ("this machine's profiles" if same else
             f"{len(pts)} published runs on the same {'CPU core' if backend == 'cpu' else 'chip class'} ({key})"
             if from_similar and backend != "cpu" else
             f"{len(pts)} measured profiles of {runtime_id} on "
             + (f"other GPU backends (none on {backend})" if pooled else backend)
             + (f" (no run of {runtime_id} on {backend}: llama.cpp's, borrowed)" if borrowed else "")
             + (f", {same_class}-memory GPUs only" if same_class else "")
             + (f" from {len({p.machine for p in pts})} other machines" if backend == "cpu" else ""))
    if backend == "cpu" and _runtime_group(runtime_id) != "llama.cpp":
        where += f" (fitted: {tau * 1e3:.2f} ms per layer per token)" if tau else ""
    elif backend == "cpu":
        parts = []
        if d > 1e-3:
            parts.append(f"dot products at {1 / d:.2f} of the float32 rate x the instruction set's int8 ratio")
        if w:
            parts.append(f"{w / 1e6:.0f} MFLOP-equivalents of per-layer work at that rate")
        parts.append("memory efficiency per weight type "
                     + (f"from {len(typed)} runs of the same CPU core ({typed_core}) " if typed_core and not same else "")
                     + ", ".join(f"{n} {1 / v:.2f}" for n, v in sorted(coef.items()) if v))
        where += " (fitted: " + "; ".join(parts) + ")"
    elif coef:
        where += "; per weight type " + ", ".join(f"{n} {1 / v:.2f}" for n, v in sorted(coef.items()))
    e = Efficiency(
        decode=eff, decode_range=(min(ratios + [1.0]), max(ratios + [1.0])),
        prefill=pre_eff or (statistics.median(pres) if pres else None),
        prefill_range=(min(pres), max(pres)) if pres else None,
        n=len(pts), basis=basis, source=where, layer_overhead_s=tau,
        type_coef=tuple(sorted(coef.items())), prefill_type_coef=tuple(sorted(pcoef.items())),
        compute_coef=d, layer_flops=w, own_runs=not borrowed,
    )
    if backend != "cpu" and dense:
        if same and any(id(p) in same_ids for p in moe_runs):
            moe_runs = [p for p in moe_runs if id(p) in same_ids]  # this machine's own MoE runs first
        pooled: list[float] = []
        if pool_moe and not any(_moe_prefill_run(p) for p in moe_runs):
            # no MoE prefill on this backend: the factors other GPU backends' MoE runs show, each against its
            # own backend's dense prefill
            for b in sorted({p.backend for p in profiles if p.backend not in ("cpu", backend)
                             and _runtime_group(p.runtime) == _runtime_group(runtime_id) and _is_moe(p, models)}):
                eb = efficiency(profiles, models, runtime_id, b, pool_moe=False)
                pooled.extend(eb.moe_prefill_by_gpu if eb else ())
        e = moe_fit(e, moe_runs, models, pooled)
    return e


UNIFIED_MEMORY_GPUS = ("jetson", "orin", "gb10", "dgx spark", "strix", "8060s", "gfx1151", "ryzen ai max", "apple")


def gpu_memory_class(hardware: str | None) -> str:
    """'unified' for a GPU that shares LPDDR with its CPU (named in the run's hardware text), else 'discrete'."""
    h = (hardware or "").lower()
    return "unified" if any(k in h for k in UNIFIED_MEMORY_GPUS) else "discrete"


def _is_moe(p: MeasuredProfile, models: dict[str, Model]) -> bool:
    a = profile_arch(p, models)
    return bool(a and a.experts)


def gpu_machine(p: MeasuredProfile) -> tuple:
    """One GPU device for the MoE fit's per-device median: its bandwidth and compute (runs of one chip share
    them, whatever their hardware text or backend)."""
    return round(p.bandwidth_gbps or 0), round(p.compute_tflops or 0, 1)


def _prefill_parts(c: TokenCost, tflops: float, eff: Efficiency, pe: float, simd: Iterable[str] = ()
                   ) -> tuple[float, float]:
    """Seconds per prompt token of the layer matrices and of the rest (attention, output head), at the efficiency's
    shares of the compute peak."""
    terms = _prefill_terms(c, tflops, simd) if c.prefill_by_type else {"matrices": c.flops_prefill / (tflops * 1e12)}
    mats = sum(v * eff.prefill_coef(k, pe) for k, v in terms.items() if k != "other")
    return mats, terms.get("other", 0.0) * eff.prefill_coef("other", pe)


def forced_kernels(p: MeasuredProfile) -> list[str]:
    """Build options of the run that force a non-default matrix path (GGML_CUDA_FORCE_CUBLAS, ..._FORCE_MMQ):
    its batched products are not what a default llama.cpp build runs."""
    return [k for k, v in (p.settings or {}).items()
            if k.upper().startswith("GGML_") and "FORCE" in k.upper() and str(v).lower() in ("yes", "1", "true", "on")]


def _moe_prefill_run(p: MeasuredProfile) -> bool:
    """A run that can give the MoE prefill factor: a prefill figure and a compute peak, at depth 0, default build."""
    return bool(p.prefill_tokens_per_s and p.compute_tflops and not p.depth_tokens and not forced_kernels(p))


def moe_fit(e: Efficiency, runs: list[MeasuredProfile], models: dict[str, Model],
            pooled_factors: Iterable[float] = ()) -> Efficiency:
    """The MoE terms of a GPU efficiency fitted on dense runs, from MoE runs (each GPU's median, then the median
    over GPUs, so a GPU with many runs counts once):
    - decode: (measured seconds per token - the dense model's) / layers, at least 0;
    - prefill, runs at depth 0 of a default build (forced_kernels: none): (measured - the dense model's
      attention and rest) / its matrix seconds. Where the backend has no such run, the median of
      `pooled_factors`, other backends' GPUs' factors (each relative to its own backend's dense prefill)."""
    per_layer: dict[tuple, list[float]] = {}
    factor: dict[tuple, list[float]] = {}
    for p in runs:
        a = profile_arch(p, models)
        if a is None or not p.bandwidth_gbps:
            continue
        c = _profile_cost(p, a)
        t_dense = _model_seconds(_terms(c, p.bandwidth_gbps), a.layers, dict(e.type_coef), 1 / e.decode,
                                 e.layer_overhead_s)
        per_layer.setdefault(gpu_machine(p), []).append((run_decode_seconds(p, models) - t_dense) / a.layers)
        if _moe_prefill_run(p):
            mats, other = _prefill_parts(c, p.compute_tflops, e, e.prefill or DEFAULT_PREFILL_EFF_OTHER)
            if mats > 0:
                factor.setdefault(gpu_machine(p), []).append((1 / p.prefill_tokens_per_s.median - other) / mats)
    pooled = [f for f in pooled_factors if f > 0]
    if not per_layer and not pooled:
        return e
    tau_moe = max(statistics.median(statistics.median(v) for v in per_layer.values()), 0.0) if per_layer else 0.0
    by_gpu = tuple(statistics.median(v) for v in factor.values())
    f = statistics.median(by_gpu) if by_gpu else statistics.median(pooled) if pooled else 1.0
    f = f if f > 0 else 1.0
    dec_src = (f"{tau_moe * 1e6:.0f} us more per MoE layer and token than a dense layer, from "
               f"{sum(map(len, per_layer.values()))} MoE runs on {len(per_layer)} GPUs" if per_layer else "")
    pre_src = (f"from {sum(map(len, factor.values()))} MoE runs on {len(by_gpu)} GPUs" if by_gpu else
               f"the median of {len(pooled)} GPUs on other backends (no MoE prefill run of a default build on this "
               f"one)" if pooled else "")
    return replace(e, moe_layer_s=tau_moe, moe_prefill_factor=f, moe_source=dec_src, moe_prefill_source=pre_src,
                   moe_prefill_by_gpu=by_gpu)


def _prefill_points(profiles: Iterable[MeasuredProfile], models: dict[str, Model]) -> list[tuple[_Point, bool]]:
    """Each run with a prefill figure and a compute peak as compute-roof seconds per prompt token by weight type
    (advisor.speed._prefill_terms) against its measured seconds, and whether it was at depth (llama-bench -d)."""
    out = []
    for p in profiles:
        a = profile_arch(p, models)
        if a is None or not p.prefill_tokens_per_s or not p.compute_tflops:
            continue
        c = _profile_cost(p, a)
        if c.prefill_by_type:
            simd = profile_simd(p) if p.backend == "cpu" else ()
            pt = _Point(_prefill_terms(c, p.compute_tflops, simd), a.layers, 1 / p.prefill_tokens_per_s.median)
            out.append((pt, bool(p.depth_tokens)))
    return out


def _fit_prefill_split(profiles: list[MeasuredProfile], models: dict[str, Model]
                       ) -> Optional[tuple[float, float, list[float]]]:
    """GPU prefill as matrix FLOPs / (peak x e_mat) + attention and the rest / (peak x e_attn), fitted in
    relative error on runs with a prefill figure, when some of them are at depth (llama-bench -d): only
    those separate the two. Returns (1 / e_mat, 1 / e_attn, each run's matrix efficiency implied by the
    fit, for the range), or None."""
    rows = [(sum(v for k, v in pt.terms.items() if k != "other") / pt.t, pt.terms.get("other", 0.0) / pt.t, deep)
            for pt, deep in _prefill_points(profiles, models)]
    if not any(deep for *_, deep in rows) or all(deep for *_, deep in rows):
        return None
    ata = [[sum(r[i] * r[j] for r in rows) for j in range(2)] for i in range(2)]
    sol = _solve(ata, [sum(r[i] for r in rows) for i in range(2)])
    if not sol or min(sol) <= 0:
        return None
    c_mat, c_attn = sol
    # each run's ratio of measured to fitted speed, as a matrix efficiency (the range of the estimate)
    pres = [(1 / c_mat) * (m * c_mat + o * c_attn) for m, o, _ in rows]
    return c_mat, c_attn, pres


def _runtime_group(r: str) -> str:
    return "llama.cpp" if r in ("llama.cpp", "ollama", "llama-cpp-python") else r


# Ollama served these GGUF architectures with its own Go engine (ollamarunner), not llama.cpp's runner, from the
# date given until v0.30.0 (PR #16031, 2026-05-29: "use llama-server exclusively for GGML models"); since then
# every GGUF runs on upstream llama-server. Dates are the commits that added each architecture to
# fs/ggml/ggml.go OllamaEngineRequired (ab39e08 gemma3 2025-03-11, a417ac9 qwen3 2025-09-17, 2e742544 qwen3moe
# 2025-09-24; gemma3n by 2025-06-26, 3944602); knowledge/runtimes/ollama.yaml records the sources.
OLLAMA_GO_ENGINE = {"gemma3": "2025-03-11", "gemma3n": "2025-06-26", "qwen3": "2025-09-17", "qwen3moe": "2025-09-24"}
OLLAMA_GO_ENGINE_UNTIL = "2026-05-29"


def ollama_go_engine(p: MeasuredProfile, models: dict[str, Model]) -> bool:
    """A run of Ollama's former Go engine: Ollama, an architecture that engine served, measured in its window
    (a run with no date counts as one when the architecture was ever served by it). Such a run is not evidence
    of llama.cpp's kernels, which is what Ollama runs today, so it informs no fit."""
    if p.runtime != "ollama":
        return False
    a = profile_arch(p, models)
    since = OLLAMA_GO_ENGINE.get(gguf_arch(a)) if a is not None else None
    when = (p.measured_at or "")[:10]
    return bool(since) and (not when or since <= when < OLLAMA_GO_ENGINE_UNTIL)


# The CPU time per generated token a server's figure includes for sampling, per vocabulary entry (the sampler
# visits every candidate on the CPU; llama-bench and this project's runner time decode without it). Measured
# by `python -m benchmarks.bench_sampler` (llama.cpp's sampler of llama-cpp-python 0.3.36 on the 2-vCPU AMD
# EPYC Zen 4 VM, least-squares slope over vocabularies of 32K-262K): Ollama's default chain up to v0.32.10,
# whose repeat_penalty 1.1 makes llama_sampler_penalties_apply look up every candidate in a hash map, 3.79 ns;
# the chain without a penalty (llama-server's defaults, Ollama's since v0.32.10 for a model that sets none)
# 0.54 ns. The default moved to 1.0 in commit 6a261db7d (2026-08-11, released in v0.32.10);
# knowledge/runtimes/ollama.yaml records the sources.
SAMPLER_NS_PER_VOCAB_ENTRY = {"penalty": 3.79, "plain": 0.54}
OLLAMA_PENALTY_DEFAULT_UNTIL = "2026-08-11"


def run_sampler_seconds(p: MeasuredProfile, models: dict[str, Model]) -> float:
    """Seconds per generated token of sampling inside a run's decode figure: an Ollama run's eval rate includes
    llama.cpp's sampler over the whole vocabulary (with the repetition penalty that was Ollama's default before
    v0.32.10, unless the run's settings give repeat_penalty 1); a run of llama-bench or of this project's runner
    samples nothing. Runs of Ollama's former Go engine (another sampler) are left at 0: they inform no fit."""
    if p.runtime != "ollama" or ollama_go_engine(p, models):
        return 0.0
    a = profile_arch(p, models)
    if a is None:
        return 0.0
    rp = (p.settings or {}).get("repeat_penalty")
    penalty = float(rp) != 1.0 if rp is not None else (p.measured_at or "")[:10] < OLLAMA_PENALTY_DEFAULT_UNTIL
    return a.vocab_size * SAMPLER_NS_PER_VOCAB_ENTRY["penalty" if penalty else "plain"] * 1e-9


def run_decode_seconds(p: MeasuredProfile, models: dict[str, Model]) -> float:
    """A run's seconds per decoded token as the fits take it: its median, less the sampling it includes."""
    return 1 / p.decode_tokens_per_s.median - run_sampler_seconds(p, models)


# Fallbacks when no profile covers a runtime x backend (basis stays `estimated`, wide range).
# CPU prefill is measured against numpy's float32 matmul rate, which llama.cpp's int8 kernels exceed.
DEFAULT_DECODE_EFF = 0.55
DEFAULT_PREFILL_EFF = {"cpu": 0.5}
DEFAULT_PREFILL_EFF_OTHER = 0.25
DEFAULT_PREFILL_RANGE = {"cpu": (0.25, 1.0)}


def estimate_speed(m: Model, quant: str, runtime_id: str, backend: str, *, bandwidth_gbps: float,
                   compute_tflops: Optional[float], prompt_tokens: int = 512, gen_tokens: int = 128,
                   kv: str = "f16", eff: Optional[Efficiency] = None, q: Quantization | None = None,
                   bandwidth_source: str = "", compute_source: str = "", simd: Iterable[str] = (),
                   depth: Optional[int] = None, sampler_s: float = 0.0) -> SpeedEstimate:
    """`depth`: tokens already in the context (decode from there, the prompt processed after them).
    `sampler_s`: seconds per token of sampling the figure is to include (a published server run's own,
    advisor.speed.run_sampler_seconds); 0 is decode as llama-bench times it."""
    a = m.architecture
    pos = (depth if depth is not None else prompt_tokens) + gen_tokens // 2
    c = token_cost(a, quant, pos, prompt_tokens, kv=kv, runtime_id=runtime_id, m=m, q=q, prefill_offset=depth or 0)
    notes = [
        f"bytes read per token {c.bytes_per_token / 1e6:.0f} MB (weights {c.weight_bytes / 1e6:.0f} MB"
        + (", routed experts only" if a.experts else "")
        + f" + KV {c.kv_bytes / 1e6:.1f} MB at position {pos})",
        f"bandwidth {bandwidth_gbps:g} GB/s ({bandwidth_source or 'hardware profile'})",
    ]
    if eff is None:
        eff = Efficiency(DEFAULT_DECODE_EFF, (0.35 / DEFAULT_DECODE_EFF, 0.8 / DEFAULT_DECODE_EFF),
                         DEFAULT_PREFILL_EFF.get(backend, DEFAULT_PREFILL_EFF_OTHER),
                         DEFAULT_PREFILL_RANGE.get(backend, (0.1, 0.5)), 0, "estimated",
                         "no measured profile for this runtime and backend: generic efficiencies", own_runs=False)
    notes.append(f"decode efficiency {eff.decode:.2f} (measured/fitted spread {eff.decode_range[0]:.2f}-"
                 f"{eff.decode_range[1]:.2f}) from {eff.source}")
    terms = _terms(c, bandwidth_gbps)
    t_bw = sum(v * eff.coef(k) for k, v in terms.items())
    if backend == "cpu" and compute_tflops and (eff.compute_coef or eff.layer_flops):
        dots = eff.compute_coef * sum(compute_terms(c, compute_tflops, simd).values())
        fixed = a.layers * eff.layer_flops / (compute_tflops * 1e12 * int8_ratio(simd))
        # a term the fit left at zero is not shown: "0.0 ms of dot products" reads as a claim about the kernels
        work = [f"{v * 1e3:.1f} ms {what}" for v, what, k in ((dots, "of dot products", eff.compute_coef),
                                                             (fixed, "of per-layer work", eff.layer_flops)) if k]
        notes.append(f"CPU compute {compute_tflops * 1e3:.0f} GFLOP/s float32 ({compute_source or 'hardware profile'}), "
                     f"int8 dot products at {int8_ratio(simd):g}x that rate ({', '.join(sorted(set(simd) & {f for f, _ in INT8_RATIO})) or 'no SIMD flags known'}): "
                     f"{' + '.join(work)} per token, beside {t_bw * 1e3:.1f} ms of memory reads")
        fixed += dots
    else:
        fixed = a.layers * eff.layer_overhead_s
        if fixed:
            notes.append(f"plus {fixed * 1e3:.1f} ms fixed per token ({a.layers} layers x {eff.layer_overhead_s * 1e3:.2f} ms)")
        if a.experts and eff.moe_layer_s:
            fixed += a.layers * eff.moe_layer_s
            notes.append(f"plus {a.layers * eff.moe_layer_s * 1e3:.1f} ms per token for the MoE layers' routing "
                         f"({eff.moe_source})")
    if sampler_s:
        fixed += sampler_s
        notes.append(f"plus {sampler_s * 1e3:.2f} ms per token of sampling on the CPU over the {a.vocab_size}-entry "
                     f"vocabulary (advisor.speed.run_sampler_seconds)")
    dec = 1 / (t_bw + fixed)
    rng = (dec * eff.decode_range[0], dec * eff.decode_range[1])
    if eff.basis == "estimated":  # keep the range honest when it rests on other machines
        rng = (min(rng[0], dec * 0.75), max(rng[1], dec * 1.25))
    pre = ttft = None
    if compute_tflops:
        pe = eff.prefill if eff.prefill is not None else DEFAULT_PREFILL_EFF.get(backend, DEFAULT_PREFILL_EFF_OTHER)
        mats, other = _prefill_parts(c, compute_tflops, eff, pe, simd if backend == "cpu" else ())
        pre = 1 / (mats * (eff.moe_prefill_factor if a.experts else 1.0) + other)
        ttft = (prompt_tokens / pre + 1 / dec) * 1000
        pe_used = c.flops_prefill / (compute_tflops * 1e12) * pre
        if a.experts and eff.moe_prefill_factor != 1.0:
            notes.append(f"MoE prefill: the matrices' time x {eff.moe_prefill_factor:.2f} ({eff.moe_prefill_source})")
        notes.append(f"prefill: {c.flops_prefill / 1e9:.2f} GFLOP per prompt token, {compute_tflops:g} TFLOP/s "
                     f"({compute_source or 'hardware profile'}) x efficiency {pe_used:.2f}"
                     + (" (per weight type: " + ", ".join(f"{k} {1 / v:.2f}" for k, v in eff.prefill_type_coef) + ")"
                        if eff.prefill_type_coef and c.prefill_by_type else ""))
    else:
        notes.append("no compute figure for this hardware: prefill and TTFT not estimated")
    return SpeedEstimate(dec, rng, pre, ttft, eff.basis, c, notes, own_runs=eff.own_runs)
