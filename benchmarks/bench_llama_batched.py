"""Aggregate decode speed of B parallel sequences as advisor/batched.py predicts it, against published
llama-batched-bench tables (knowledge/serving/llama-batched-bench.yaml).

    python -m benchmarks.bench_llama_batched        # error table: score rows, then train rows
    python -m benchmarks.bench_llama_batched --fit  # also the fit of BATCH_COEF on the train tables

Fit (train tables only): per backend, (kv_coef, flop_coef) by least squares in relative step-time error on
t(B) - t(1) = (B - 1) x (kv_coef x KV bytes / bandwidth + flop_coef x FLOPs / FP32 FLOP/s), with t(1) as
measured, so that only the batch growth is fitted. Score: each row B > 1 of a `score` table. `ratio` is the
growth S_TG(B) / S_TG(1) predicted against measured; `absolute` is S_TG(B) with t(1) from the existing
single-stream estimator, its efficiency fitted on knowledge/profiles runs of other machines than the table's.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "knowledge" / "serving" / "llama-batched-bench.yaml"


def load() -> dict:
    return yaml.safe_load(DATA.read_text())


def _hardware(cat, h: dict) -> dict:
    acc = cat.accelerators.get(h["accelerator"]) if h.get("accelerator") else None
    bw = h.get("bandwidth_gbps") or (acc.bandwidth_gbps if acc else None)
    fp32 = h.get("fp32_tflops") or (acc.compute.fp32_tflops if acc else None)
    return {"backend": h["backend"], "bandwidth_gbps": bw, "fp32_tflops": fp32, "match": h["match"]}


def _model(cat, data: dict, t: dict):
    from advisor.schemas import Architecture, Model

    if t.get("model"):
        return cat.model(t["model"])
    spec = data["architectures"][t["architecture"]]
    if "from_profile" in spec:
        arch = yaml.safe_load((ROOT / spec["from_profile"]).read_text())["model_architecture"]
    else:
        arch = spec["architecture"]
    return Model.model_construct(architecture=Architecture(**arch))


def _eff(cat, backend: str, quant: str, match: str):
    from advisor.speed import efficiency

    profiles = [p for p in cat.profiles.values() if match not in (p.hardware or "")]
    return efficiency(profiles, dict(cat.models), "llama.cpp", backend, quant=quant)


def predictions(cat, data: dict, split: str, coef: dict | None = None) -> list[dict]:
    """One dict per row with B > 1 of the tables of `split`: measured, predicted (absolute and from the
    measured B = 1), the errors, and the terms the fit uses."""
    from advisor.batched import BATCH_COEF, batched_decode

    coef = coef or BATCH_COEF
    out = []
    for t in data["tables"]:
        if t["split"] != split:
            continue
        hw = _hardware(cat, data["hardware"][t["hardware"]])
        m = _model(cat, data, t)
        q = cat.quantizations.get(t["quant"])
        eff = _eff(cat, hw["backend"], t["quant"], hw["match"])
        rows = [dict(zip(data["columns"], r)) for r in t["rows"]]
        ones = {(r["PP"], r["TG"]): r["S_TG"] for r in rows if r["B"] == 1}
        for r in rows:
            if r["B"] == 1 or (r["PP"], r["TG"]) not in ones:
                continue
            kw = dict(bandwidth_gbps=hw["bandwidth_gbps"], prompt_tokens=r["PP"], gen_tokens=r["TG"],
                      fp32_tflops=hw["fp32_tflops"], eff=eff, q=q, coef=coef[hw["backend"]])
            one = batched_decode(m, t["quant"], hw["backend"], batch=1, **kw)
            pred = batched_decode(m, t["quant"], hw["backend"], batch=r["B"], **kw)
            ratio_pred = pred["aggregate_tok_s"] / one["aggregate_tok_s"]
            ratio_meas = r["S_TG"] / ones[(r["PP"], r["TG"])]
            c = pred["coef"]
            out.append({
                "table": t["id"], "hardware": t["hardware"], "model": t.get("model") or t["architecture"],
                "quant": t["quant"], "PP": r["PP"], "B": r["B"], "measured": r["S_TG"],
                "predicted": pred["aggregate_tok_s"], "err": pred["aggregate_tok_s"] / r["S_TG"] - 1,
                "ratio_err": ratio_pred / ratio_meas - 1,
                "from_measured_one": r["B"] / (1 / ones[(r["PP"], r["TG"])] + (pred["step_ms"] - one["step_ms"]) / 1e3),
                "backend": hw["backend"], "t1_meas": 1 / ones[(r["PP"], r["TG"])], "tB_meas": r["B"] / r["S_TG"],
                # per-extra-sequence seconds at coefficient 1 (the fit's regressors) and the expert term
                "x_kv": pred["terms_ms"]["kv"] / 1e3 / c["kv"] if c["kv"] else _unit(m, t, r, hw, eff, q, "kv"),
                "x_flop": (pred["terms_ms"]["compute"] / 1e3 / c["flop"] if c["flop"] else
                           _unit(m, t, r, hw, eff, q, "flop")),
                "x_exp": pred["terms_ms"]["experts"] / 1e3,
            })
    return out


def _unit(m, t, r, hw, eff, q, which: str) -> float:
    from advisor.batched import batched_decode

    one = batched_decode(m, t["quant"], hw["backend"], bandwidth_gbps=hw["bandwidth_gbps"], batch=r["B"],
                         prompt_tokens=r["PP"], gen_tokens=r["TG"], fp32_tflops=hw["fp32_tflops"], eff=eff, q=q,
                         coef=(1.0, 0.0) if which == "kv" else (0.0, 1.0))
    return one["terms_ms"]["kv" if which == "kv" else "compute"] / 1e3


def fit(rows: list[dict]) -> dict[str, tuple[float, float]]:
    """(kv_coef, flop_coef) per backend: least squares of (t(B) - t(1) - experts) / t(B) on the two regressors
    over t(B), both held >= 0 (a negative one is fixed at 0 and the other refitted)."""
    out = {}
    for be in sorted({r["backend"] for r in rows}):
        rs = [r for r in rows if r["backend"] == be]
        X = [(r["x_kv"] / r["tB_meas"], r["x_flop"] / r["tB_meas"]) for r in rs]
        y = [(r["tB_meas"] - r["t1_meas"] - r["x_exp"]) / r["tB_meas"] for r in rs]
        a11 = sum(x[0] ** 2 for x in X)
        a22 = sum(x[1] ** 2 for x in X)
        a12 = sum(x[0] * x[1] for x in X)
        b1 = sum(x[0] * v for x, v in zip(X, y))
        b2 = sum(x[1] * v for x, v in zip(X, y))
        det = a11 * a22 - a12 * a12
        k, f = (b1 * a22 - a12 * b2) / det, (a11 * b2 - a12 * b1) / det
        if k < 0:
            k, f = 0.0, b2 / a22
        elif f < 0:
            k, f = b1 / a11, 0.0
        out[be] = (round(k, 4), round(f, 4))
    return out


def summary(rows: list[dict], key: str = "err") -> dict:
    e = [abs(r[key]) for r in rows]
    return {"n": len(e), "median": statistics.median(e), "max": max(e), "within_25": sum(x <= 0.25 for x in e)}


def score(cat=None, data: dict | None = None) -> dict:
    """Summaries of the score rows: absolute and ratio error."""
    if cat is None:
        from advisor.kb import load_catalog

        cat = load_catalog()
    rows = predictions(cat, data or load(), "score")
    return {"absolute": summary(rows), "ratio": summary(rows, "ratio_err"), "rows": rows}


def _table(rows: list[dict], label: str) -> None:
    print(f"{label}:")
    print(f"  {'hardware':9} {'model':26} {'quant':7} {'PP':>5} {'B':>3} {'measured':>9} {'predicted':>9} "
          f"{'error':>7} {'ratio err':>9}")
    for r in rows:
        print(f"  {r['hardware']:9} {r['model']:26} {r['quant']:7} {r['PP']:5d} {r['B']:3d} {r['measured']:9.1f} "
              f"{r['predicted']:9.1f} {r['err']:+7.1%} {r['ratio_err']:+9.1%}")
    for key, what in (("err", "absolute S_TG"), ("ratio_err", "growth S_TG(B)/S_TG(1)")):
        s = summary(rows, key)
        print(f"  {label} {what}: {s['n']} rows, median |error| {s['median']:.1%}, max {s['max']:.1%}, "
              f"within 25%: {s['within_25']} of {s['n']}")
    print()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fit", action="store_true", help="print the fit of BATCH_COEF on the train tables")
    args = ap.parse_args()
    from advisor.batched import BATCH_COEF
    from advisor.kb import load_catalog

    cat = load_catalog()
    data = load()
    train = predictions(cat, data, "train")
    if args.fit:
        f = fit(train)
        print(f"fit on {len({r['table'] for r in train})} train tables ({len(train)} rows B > 1), "
              f"(kv_coef, flop_coef) per backend: {f}; advisor.batched.BATCH_COEF = {BATCH_COEF}")
        print()
    _table(predictions(cat, data, "score"), "score")
    _table(train, "train")
    print(f"sources: {DATA.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
