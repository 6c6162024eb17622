"""vLLM's KV cache as advisor/vllm.py predicts it, against published vLLM start-up logs
(knowledge/serving/vllm-runs.yaml).

    python -m benchmarks.bench_vllm_kv            # the fit (train runs) and the error table (score runs)
    python -m benchmarks.bench_vllm_kv --markdown # the same as Markdown tables

Fit: the activation peak (a line in the vocabulary size) and the non-torch memory (the median per kind of
layout) from the `train` runs, all of models the table does not score. Score: each `score` run of a catalog
model predicted from its architecture, its 16-bit weights, the GPU's logged total memory and the run's
utilisation, TP, PP, context and KV type, nothing else of the run; then the block rule alone, started from the
run's logged "Available KV cache memory".
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "knowledge" / "serving" / "vllm-runs.yaml"


def load() -> dict:
    return yaml.safe_load(RUNS.read_text())


def fit(train: list[dict]) -> dict:
    """(activation base GiB, GiB per vocabulary entry) by least squares; the non-torch medians by layout kind."""
    xs = [r["vocab_size"] for r in train]
    ys = [r["activation_gib"] for r in train]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    kind = {"single": [], "tp": [], "pp": []}
    for r in train:
        kind["tp" if r["tp"] > 1 else "pp" if r["pp"] > 1 else "single"].append(r["non_torch_gib"])
    return {"act_base_gib": round(my - slope * mx, 3), "act_per_vocab_gib": float(f"{slope:.4g}"),
            "non_torch_gib": {k: round(statistics.median(v), 2) for k, v in kind.items() if v}}


def predict(cat, run: dict, *, from_logged: bool = False):
    from advisor.vllm import for_model

    return for_model(cat.model(run["model"]), run.get("total_gib") or 0.0, tp=run["tp"], pp=run["pp"],
                     max_model_len=run["max_model_len"] or 8192, kv_dtype=run["kv_dtype"],
                     util=run.get("util") or 0.9,
                     available_gib=run["available_kv_gib"] if from_logged else None)


def rows(cat, data: dict) -> list[dict]:
    out = []
    for r in data["score"]:
        row = {"model": r["model"], "layout": f"TP{r['tp']} PP{r['pp']}", "context": r["max_model_len"],
               "kv": r["kv_dtype"], "logged_tokens": r["kv_tokens"], "logged_avail": r["available_kv_gib"],
               "logged_conc": r["max_concurrency"], "source": r["source"]}
        if r.get("util") and r.get("total_gib"):
            est = predict(cat, r)
            row.update(pred_tokens=est.kv_tokens, pred_avail=round(est.ranks[-1].available_kv_gib, 2),
                       pred_weights=round(max(x.weights_gib for x in est.ranks), 2), logged_weights=r.get("weights_gib"),
                       pred_conc=est.max_concurrency, err=(est.kv_tokens - r["kv_tokens"]) / r["kv_tokens"])
        rule = predict(cat, r, from_logged=True)
        row.update(rule_tokens=rule.kv_tokens, rule_err=(rule.kv_tokens - r["kv_tokens"]) / r["kv_tokens"],
                   rule_conc=rule.max_concurrency if r["max_model_len"] else None)
        out.append(row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    from advisor.kb import load_catalog

    data = load()
    f = fit(data["train"])
    print(f"fit on {len(data['train'])} train runs (models not scored below): activation GiB = "
          f"{f['act_base_gib']} + {f['act_per_vocab_gib']:.4g} x vocabulary; non-torch GiB: {f['non_torch_gib']}")
    cat = load_catalog()
    rs = rows(cat, data)
    bar = "|" if args.markdown else " "
    head = ["model", "layout", "context", "kv", "weights GiB pred/logged", "available GiB pred/logged",
            "KV tokens predicted", "logged", "error", "from logged available", "error", "concurrency pred/logged"]
    print()
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    else:
        print("  ".join(head))
    for r in rs:
        cells = [r["model"], r["layout"], str(r["context"]), r["kv"],
                 f"{r['pred_weights']}/{r['logged_weights']}" if "pred_tokens" in r else "-",
                 f"{r['pred_avail']}/{r['logged_avail']}" if "pred_tokens" in r else f"-/{r['logged_avail']}",
                 f"{r['pred_tokens']:,}" if "pred_tokens" in r else "-", f"{r['logged_tokens']:,}",
                 f"{r['err']:+.1%}" if "pred_tokens" in r else "-", f"{r['rule_tokens']:,}", f"{r['rule_err']:+.2%}",
                 (f"{r['pred_conc'] if 'pred_conc' in r else '-'}/{r['logged_conc']}" if r["logged_conc"] else "-")]
        print(("| " + " | ".join(cells) + " |") if args.markdown else "  ".join(cells))
    full = [abs(r["err"]) for r in rs if "err" in r]
    rule = [abs(r["rule_err"]) for r in rs]
    print()
    print(f"predicted from the architecture and the run's settings: {len(full)} runs, median |error| "
          f"{statistics.median(full):.1%}, max {max(full):.1%}; within 5%: {sum(e <= 0.05 for e in full)} of {len(full)}")
    print(f"block rule from the logged available memory: {len(rule)} runs, median |error| {statistics.median(rule):.2%}, "
          f"max {max(rule):.2%}")
    cases = {(r["model"], r["layout"]) for r in rs}
    print(f"{len(cases)} model x layout cases on H100 80GB; sources in {RUNS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
