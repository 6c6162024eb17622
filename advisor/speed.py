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

    @property
    def bytes_per_token(self) -> int:
        return self.weight_bytes + self.kv_bytes


def _kv_row(a: Architecture, kv: str) -> int:
    blk, size = KV_TYPES.get(kv, (1, 2))
    return 2 * (a.kv_heads * a.head_dim // blk * size)


def token_cost(a: Architecture, quant: str, position: int, prompt_tokens: int, *, kv: str = "f16",
               runtime_id: str = "llama.cpp", m: Model | None = None, q: Quantization | None = None) -> TokenCost:
    arch = gguf_arch(a)
    if quant in FILE_TYPES:
        summ = layout_summary(a, quant)
        read, by = summ["read"], summ["read_by_type"]
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
    return TokenCost(read, kv_read, 2 * body + attn_prefill + 2 * head / max(prompt_tokens, 1),
                     2 * body + 2 * head + attn_decode, tuple(sorted(by.items())))


@dataclass(frozen=True)
class Efficiency:
    decode: float                      # share of the bandwidth roofline reached
    decode_range: tuple[float, float]
    prefill: Optional[float]
    prefill_range: Optional[tuple[float, float]]
    n: int
    basis: str      # estimated | calibrated
    source: str
    layer_overhead_s: float = 0.0      # fixed time per layer and token (thread sync, small kernels)


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


def profile_efficiency(p: MeasuredProfile, models: dict[str, Model]) -> tuple[Optional[float], Optional[float]]:
    """(decode, prefill) efficiency of one measured run against its roofline."""
    a = profile_arch(p, models)
    if a is None or not p.bandwidth_gbps:
        return None, None
    pos = p.prompt_tokens + p.gen_tokens // 2
    kv = str(p.settings.get("type_k", "f16")) if p.settings else "f16"
    c = token_cost(a, p.quantization, pos, p.prompt_tokens, kv=kv, runtime_id=p.runtime)
    dec = p.decode_tokens_per_s.median * c.bytes_per_token / (p.bandwidth_gbps * 1e9)
    pre = None
    if p.prefill_tokens_per_s and p.compute_tflops:
        pre = p.prefill_tokens_per_s.median * c.flops_prefill / (p.compute_tflops * 1e12)
    return dec, pre


def _fit_decode(points: list[tuple[float, float, int]]) -> tuple[float, float]:
    """Least squares for t = x / eff + layers * tau over (roofline time x, measured time t, layers).

    Returns (eff, tau). With fewer than two distinct sizes, or a negative tau, tau is 0.
    """
    if len({round(x, 6) for x, _, _ in points}) >= 2:
        sxx = sum(x * x for x, _, _ in points)
        sll = sum(n * n for _, _, n in points)
        sxl = sum(x * n for x, _, n in points)
        sxt = sum(x * t for x, t, _ in points)
        slt = sum(n * t for _, t, n in points)
        det = sxx * sll - sxl * sxl
        if det > 0:
            a = (sxt * sll - sxl * slt) / det
            tau = (sxx * slt - sxl * sxt) / det
            if a > 0 and tau >= 0:
                return 1 / a, tau
    return statistics.median(x / t for x, t, _ in points), 0.0


def efficiency(profiles: Iterable[MeasuredProfile], models: dict[str, Model], runtime_id: str, backend: str,
               fingerprint: str | None = None, quant: str | None = None) -> Optional[Efficiency]:
    """Efficiency of the runtime x backend from measured profiles (same machine first, same quantization first).

    Decode time per token is fitted as bytes / (eff x bandwidth) + layers x tau: on CPUs a fixed
    cost per layer (thread synchronisation, small kernels) matters for small models.
    """
    rel = [p for p in profiles if _runtime_group(p.runtime) == _runtime_group(runtime_id) and p.backend == backend]
    same = [p for p in rel if fingerprint and p.hardware_fingerprint == fingerprint]
    use, basis = (same, "calibrated") if same else (rel, "estimated")

    def by_quant(ps):
        return [p for p in ps if p.quantization == quant] if quant and any(p.quantization == quant for p in ps) else ps

    def point(p):
        """(roofline seconds per token, measured seconds per token, layers), or None."""
        a = profile_arch(p, models)
        if a is None or not p.bandwidth_gbps:
            return None
        c = token_cost(a, p.quantization, p.prompt_tokens + p.gen_tokens // 2, p.prompt_tokens, runtime_id=p.runtime)
        return c.bytes_per_token / (p.bandwidth_gbps * 1e9), 1 / p.decode_tokens_per_s.median, a.layers

    def collect(ps):
        pts, ds, prs = [], [], []
        for p in ps:
            pt = point(p)
            if pt is None:
                continue
            pts.append(pt)
            ds.append(pt[0] / pt[1])  # measured speed over the bandwidth roofline
            if p.prefill_tokens_per_s and p.compute_tflops:
                prs.append(profile_efficiency(p, models)[1])
        return pts, ds, prs

    points, decs, pres = collect(by_quant(use))
    if not points:
        return None
    if backend != "cpu":
        eff, tau = statistics.median(decs), 0.0
    else:
        eff, tau = _fit_decode(points)
        others = [p for p in rel if p not in same]
        if same and others and len({round(x, 6) for x, _, _ in points}) < 2:
            # too few sizes measured here to fit both terms: keep the shape fitted on other machines'
            # profiles and scale it by how much faster or slower this machine ran than that fit predicts
            def prior(qz):
                ps = [p for p in others if p.quantization == qz] or others
                return _fit_decode(collect(ps)[0])

            ks = []
            for p in same:
                pt = point(p)
                if pt is None:
                    continue
                e0, t0 = prior(p.quantization)
                x, t, n = pt
                ks.append((x / e0 + n * t0) / t)  # predicted over measured time
            e0, t0 = prior(quant) if quant else _fit_decode(collect(others)[0])
            if ks:
                k = statistics.median(ks)
                eff, tau = e0 * k, t0 / k
    # spread of the fitted model over its own points, as efficiencies
    ratios = [x / max(t - n * tau, 1e-9) for x, t, n in points]
    where = ("this machine's profiles" if same else f"{len(points)} measured profiles of {runtime_id} on {backend}")
    if tau:
        where += f" (fitted: {tau * 1e3:.2f} ms per layer per token)"
    return Efficiency(
        decode=eff, decode_range=(min(ratios + [eff]), max(ratios + [eff])),
        prefill=statistics.median(pres) if pres else None,
        prefill_range=(min(pres), max(pres)) if pres else None,
        n=len(points), basis=basis, source=where, layer_overhead_s=tau,
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
        eff = Efficiency(DEFAULT_DECODE_EFF, (0.35, 0.8), DEFAULT_PREFILL_EFF.get(backend, DEFAULT_PREFILL_EFF_OTHER),
                         DEFAULT_PREFILL_RANGE.get(backend, (0.1, 0.5)), 0, "estimated",
                         "no measured profile for this runtime and backend: generic efficiencies")
    notes.append(f"decode efficiency {eff.decode:.2f} (range {eff.decode_range[0]:.2f}-{eff.decode_range[1]:.2f}) "
                 f"from {eff.source}")
    t_bw = c.bytes_per_token / (bandwidth_gbps * 1e9)
    fixed = a.layers * eff.layer_overhead_s
    dec = 1 / (t_bw / eff.decode + fixed)
    rng = (1 / (t_bw / eff.decode_range[0] + fixed), 1 / (t_bw / eff.decode_range[1] + fixed))
    if fixed:
        notes.append(f"plus {fixed * 1e3:.1f} ms fixed per token ({a.layers} layers x {eff.layer_overhead_s * 1e3:.2f} ms)")
    if eff.basis == "estimated":  # keep the range honest when it rests on other machines
        rng = (min(rng[0], dec * 0.75), max(rng[1], dec * 1.25))
    pre = ttft = None
    if compute_tflops:
        pe = eff.prefill if eff.prefill is not None else DEFAULT_PREFILL_EFF.get(backend, DEFAULT_PREFILL_EFF_OTHER)
        pre = pe * compute_tflops * 1e12 / c.flops_prefill
        ttft = (prompt_tokens / pre + 1 / dec) * 1000
        notes.append(f"prefill: {c.flops_prefill / 1e9:.2f} GFLOP per prompt token, {compute_tflops:g} TFLOP/s "
                     f"({compute_source or 'hardware profile'}) x efficiency {pe:.2f}")
    else:
        notes.append("no compute figure for this hardware: prefill and TTFT not estimated")
    return SpeedEstimate(dec, rng, pre, ttft, eff.basis, c, notes)
