"""Task quality of a model, comparable across the catalog (T-scores of standardised benchmarks, shrunk toward
the size-expected score), less the quantization's measured loss."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

from .kb import Catalog
from .requirements import Requirements
from .schemas import Model

TASK_BENCHMARKS = {
    "math": ("MATH", "GSM8K", "AIME", "HiddenMath", "MGSM"),
    "code": ("HumanEval", "MBPP", "LiveCodeBench"),
    "reasoning": ("GPQA", "AIME", "MATH-500", "BigBench", "BBH"),
    "thinking-mode": ("GPQA", "AIME", "MATH-500"),
    "chat": ("MMLU", "IFEval", "GPQA", "Arena"),
}
MULTILINGUAL_BENCHMARKS = ("MMMLU", "Global", "MGSM", "WMT")


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
