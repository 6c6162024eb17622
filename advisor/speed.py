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
from dataclasses import dataclass, field
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
               runtime_id: str = "llama.cpp", m: Model | None = None, q: Quantization | None = None) -> TokenCost:
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
    attn_prefill = 4 * (full + swa) * q_dim * (prompt_tokens / 2)
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


@dataclass
class SpeedEstimate:
    decode_tps: float
    decode_tps_range: tuple[float, float]
    prefill_tps: Optional[float]
    ttft_ms: Optional[float]
    basis: str
    cost: TokenCost
    assumptions: list[str] = field(default_factory=list)


def profile_arch(p: MeasuredProfile, models: dict[str, Model]) -> Optional[Architecture]:
    if p.model_architecture is not None:
        return p.model_architecture
    m = models.get(p.model)
    return m.architecture if m else None


def _profile_cost(p: MeasuredProfile, a: Architecture) -> TokenCost:
    kv = str(p.settings.get("type_k", "f16")) if p.settings else "f16"
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


def _prefill_terms(c: TokenCost, tflops: float) -> dict[str, float]:
    """Compute-roof seconds per prompt token, by ggml type of the layer matrices plus the rest."""
    return {typ: f / (tflops * 1e12) for typ, f in c.prefill_by_type if f}


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


_CPU_CORE = None


def cpu_key(text: str | None) -> Optional[str]:
    """The CPU core or family named in a description ('Cortex-A76', 'Zen 4', 'Core i3-1315U', 'Apple M2')."""
    global _CPU_CORE
    import re

    if not text:
        return None
    if _CPU_CORE is None:
        _CPU_CORE = re.compile(r"(cortex-[ax]\d+|zen ?\d|apple m\d|snapdragon x\w*|core i\d-\d{4,5}\w*|"
                               r"core ultra \d \w+|epyc \w+|xeon \w+)", re.I)
    m = _CPU_CORE.search(text)
    return m.group(1).lower().replace(" ", "") if m else None


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


def efficiency(profiles: Iterable[MeasuredProfile], models: dict[str, Model], runtime_id: str, backend: str,
               fingerprint: str | None = None, quant: str | None = None, cpu_model: str | None = None,
               threads: int | None = None) -> Optional[Efficiency]:
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
    rel = [p for p in profiles if _runtime_group(p.runtime) == _runtime_group(runtime_id) and p.backend == backend]
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
        return _Point(_terms(_profile_cost(p, a), p.bandwidth_gbps), layers, 1 / p.decode_tokens_per_s.median)

    def points_of(ps):
        return [pt for pt in map(point, ps) if pt is not None]

    def prefills(ps):
        return [e for e in (profile_efficiency(p, models)[1] for p in ps
                            if p.prefill_tokens_per_s and p.compute_tflops) if e is not None]

    def prefill_points(ps) -> list[_Point]:
        out = []
        for p in ps:
            a = profile_arch(p, models)
            if a is None or not p.prefill_tokens_per_s or not p.compute_tflops:
                continue
            c = _profile_cost(p, a)
            if c.prefill_by_type:
                out.append(_Point(_prefill_terms(c, p.compute_tflops), a.layers, 1 / p.prefill_tokens_per_s.median))
        return out

    def fit(pts):
        """(eff, tau, coef) over the points."""
        e, t = _fit_decode(pts)
        sizes = len({round(p.x / p.layers, 9) for p in pts})
        coef, t = _fit_types(pts, e, t, fit_tau=sizes >= 2)
        return e, t, coef

    pcoef: dict[str, float] = {}
    if backend != "cpu":
        pts = points_of(by_quant(use))
        if not pts:
            return None
        eff, tau, coef = statistics.median(p.x / p.t for p in pts), 0.0, {}
        pres = prefills(by_quant(use))
    else:
        pts = points_of(use)
        if not pts:
            return None
        ppts = prefill_points(use)
        if ppts:
            e_p = statistics.median(p.x / p.t for p in ppts)
            pcoef, _ = _fit_types(ppts, e_p, 0.0, fit_tau=False)
            pres = [e_p]
        else:
            pres = prefills(by_quant(use))
        others = points_of([p for p in rel if p not in same])
        sizes = len({round(p.x / p.layers, 9) for p in pts})
        if same and others and sizes < 2:
            # too few sizes measured here to fit both terms: start from the fit over other machines'
            # profiles and update its bandwidth scale and per-layer time together, each held to its prior
            # by how much it varies between machines (CALIBRATION_PRIOR): a run of a small model mostly
            # moves the per-layer time, a run of a large one the bandwidth scale
            # per-type kernel speeds belong to an instruction set (x86 or ARM kernels, repacking rules): they
            # carry from other machines of the same one; otherwise only the common efficiency does
            isa = cpu_isa(cpu_model)
            same_isa = [p for p in rel if p not in same and isa and cpu_isa(p.hardware) == isa]
            prior_pts = points_of(same_isa)
            e0, t0, c_prior = fit(prior_pts or others)
            if not prior_pts:
                c_prior = {}
            sc, tau = _one_run_update(pts, c_prior, 1 / e0, t0)
            eff, coef = e0 / sc, {n: v * sc for n, v in c_prior.items()}
        else:
            eff, tau, coef = fit(pts)
    c0 = 1 / eff
    # spread of the fitted model over its own points, as multipliers of the estimated speed
    ratios = [_model_seconds(p.terms, p.layers, coef, c0, tau) / p.t for p in pts]
    where = ("this machine's profiles" if same else
             f"{len(pts)} published runs on the same {'CPU core' if backend == 'cpu' else 'chip class'} ({key})"
             if use is similar else
             f"{len(pts)} measured profiles of {runtime_id} on {backend}")
    if tau:
        where += f" (fitted: {tau * 1e3:.2f} ms per layer per token" + (f" at {threads} threads)" if threads else ")")
    if coef:
        where += "; per weight type " + ", ".join(f"{n} {1 / v:.2f}" for n, v in sorted(coef.items()))
    return Efficiency(
        decode=eff, decode_range=(min(ratios + [1.0]), max(ratios + [1.0])),
        prefill=statistics.median(pres) if pres else None,
        prefill_range=(min(pres), max(pres)) if pres else None,
        n=len(pts), basis=basis, source=where, layer_overhead_s=tau,
        type_coef=tuple(sorted(coef.items())), prefill_type_coef=tuple(sorted(pcoef.items())),
    )


def _runtime_group(r: str) -> str:
    return "llama.cpp" if r in ("llama.cpp", "ollama", "llama-cpp-python") else r


# Fallbacks when no profile covers a runtime x backend (basis stays `estimated`, wide range).
# CPU prefill is measured against numpy's float32 matmul rate, which llama.cpp's int8 kernels exceed.
DEFAULT_DECODE_EFF = 0.55
DEFAULT_PREFILL_EFF = {"cpu": 0.5}
DEFAULT_PREFILL_EFF_OTHER = 0.25
DEFAULT_PREFILL_RANGE = {"cpu": (0.25, 1.0)}


def estimate_speed(m: Model, quant: str, runtime_id: str, backend: str, *, bandwidth_gbps: float,
                   compute_tflops: Optional[float], prompt_tokens: int = 512, gen_tokens: int = 128,
                   kv: str = "f16", eff: Optional[Efficiency] = None, q: Quantization | None = None,
                   bandwidth_source: str = "", compute_source: str = "") -> SpeedEstimate:
    a = m.architecture
    pos = prompt_tokens + gen_tokens // 2
    c = token_cost(a, quant, pos, prompt_tokens, kv=kv, runtime_id=runtime_id, m=m, q=q)
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
                         "no measured profile for this runtime and backend: generic efficiencies")
    notes.append(f"decode efficiency {eff.decode:.2f} (measured/fitted spread {eff.decode_range[0]:.2f}-"
                 f"{eff.decode_range[1]:.2f}) from {eff.source}")
    terms = _terms(c, bandwidth_gbps)
    t_bw = sum(v * eff.coef(k) for k, v in terms.items())
    fixed = a.layers * eff.layer_overhead_s
    dec = 1 / (t_bw + fixed)
    rng = (dec * eff.decode_range[0], dec * eff.decode_range[1])
    if fixed:
        notes.append(f"plus {fixed * 1e3:.1f} ms fixed per token ({a.layers} layers x {eff.layer_overhead_s * 1e3:.2f} ms)")
    if eff.basis == "estimated":  # keep the range honest when it rests on other machines
        rng = (min(rng[0], dec * 0.75), max(rng[1], dec * 1.25))
    pre = ttft = None
    if compute_tflops:
        pe = eff.prefill if eff.prefill is not None else DEFAULT_PREFILL_EFF.get(backend, DEFAULT_PREFILL_EFF_OTHER)
        if c.prefill_by_type and eff.prefill_type_coef:
            pre = 1 / sum(v * eff.prefill_coef(k, pe) for k, v in _prefill_terms(c, compute_tflops).items())
        else:
            pre = pe * compute_tflops * 1e12 / c.flops_prefill
        ttft = (prompt_tokens / pre + 1 / dec) * 1000
        pe_used = c.flops_prefill / (compute_tflops * 1e12) * pre
        notes.append(f"prefill: {c.flops_prefill / 1e9:.2f} GFLOP per prompt token, {compute_tflops:g} TFLOP/s "
                     f"({compute_source or 'hardware profile'}) x efficiency {pe_used:.2f}"
                     + (" (per weight type: " + ", ".join(f"{k} {1 / v:.2f}" for k, v in eff.prefill_type_coef) + ")"
                        if eff.prefill_type_coef and c.prefill_by_type else ""))
    else:
        notes.append("no compute figure for this hardware: prefill and TTFT not estimated")
    return SpeedEstimate(dec, rng, pre, ttft, eff.basis, c, notes)
