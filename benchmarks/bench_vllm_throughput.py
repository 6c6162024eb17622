"""vLLM decode and first-token times as advisor/serving.py predicts them, against published runs
(knowledge/serving/vllm-throughput.yaml).

    python -m benchmarks.bench_vllm_throughput          # the error table of the score runs (fitted constants)
    python -m benchmarks.bench_vllm_throughput --fit    # the fit on the train runs, then the same table with it

Fit: a grid over the roofline's four constants (bandwidth share, per-step overhead, per-all-reduce time, tensor
efficiency) that least-squares the log of time per output token over the `train` runs alone. Score: each `score`
run predicted from the model's architecture, the GPU's datasheet bandwidth and 16-bit peak, its TP, and its
workload (users, prompt and output tokens), nothing else of the run.
"""

from __future__ import annotations

import argparse
import math
import statistics
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "knowledge" / "serving" / "vllm-throughput.yaml"
V0_MS = 10.5  # the fit's nuisance term for V0-engine train runs (printed by --fit)


def load() -> dict:
    return yaml.safe_load(RUNS.read_text())


def _arch(cat, data: dict, model: str):
    from advisor.schemas import Architecture

    if model in data.get("architectures", {}):
        return Architecture(**{k: v for k, v in data["architectures"][model].items() if k != "config"})
    return cat.model(model).architecture


def predict(cat, data: dict, run: dict, k=None) -> dict:
    from advisor.serving import FITTED, Weights, gpu_of, serve_point

    a = _arch(cat, data, run["model"])
    gpu = gpu_of(run["gpu"], cat.accelerator(run["gpu"]))
    w = Weights(bits=run.get("weight_bits", 16.0))
    return serve_point(a, gpu, tp=run["tp"], pp=run.get("pp", 1), users=run.get("concurrency", 1),
                       prompt_tokens=run.get("prompt_tokens", 1), output_tokens=run["output_tokens"], w=w,
                       batch=run.get("batch"), k=k or FITTED)


GRID = {"eff_bw": [x / 100 for x in range(50, 97, 2)], "overhead_ms": [x / 10 for x in range(0, 41)],
        "mfu": [x / 100 for x in range(20, 81, 5)],
        "v0_ms": [x / 2 for x in range(0, 41)]}


def fit(cat, data: dict):
    """The all-reduce time is not fitted: it is advisor.serving.ALLREDUCE_US, a published measurement.
    Coordinate descent over GRID (each constant in turn on its grid, the others held) until nothing moves.
    `v0_ms` is a nuisance term: the extra per-step time of runs on vLLM's V0 engine (`engine: v0`, before 0.8),
    fitted so that those runs inform the bandwidth, all-reduce and compute terms without lending their engine's
    overhead to today's vLLM, which the prediction is for."""
    from advisor.serving import ALLREDUCE_US, Roofline

    train = data["train"]
    cur = {"eff_bw": 0.8, "overhead_ms": 1.0, "allreduce_us": ALLREDUCE_US, "mfu": 0.5, "v0_ms": 0.0}

    def loss(c: dict) -> float:
        k = Roofline(c["eff_bw"], c["overhead_ms"], c["allreduce_us"], c["mfu"], 0.0)
        return sum(math.log((predict(cat, data, r, k)["tpot_ms"] + (c["v0_ms"] if r.get("engine") == "v0" else 0))
                            / r["tpot_ms"]) ** 2 for r in train)

    best = loss(cur)
    moved = True
    while moved:
        moved = False
        for name, grid in GRID.items():
            for v in grid:
                trial = dict(cur, **{name: v})
                lt = loss(trial)
                if lt < best - 1e-12:
                    best, cur, moved = lt, trial, True
    k = Roofline(cur["eff_bw"], cur["overhead_ms"], cur["allreduce_us"], cur["mfu"], 0.0)
    # the per-request time before the first token: the median of what the train runs' TTFT leaves unexplained
    left = [r["ttft_ms"] - predict(cat, data, r, k)["ttft_ms"] for r in train if r.get("ttft_ms")]
    return Roofline(k.eff_bw, k.overhead_ms, k.allreduce_us, k.mfu, round(statistics.median(left), 1)), cur["v0_ms"]


def rows(cat, data: dict, split: str, k=None, v0_ms: float = 0.0) -> list[dict]:
    """One row per run; `v0_ms`: the fit's nuisance term, added to V0-engine runs (train only)."""
    out = []
    for r in data[split]:
        p = predict(cat, data, r, k)
        if r.get("engine") == "v0":
            p["tpot_ms"] = round(p["tpot_ms"] + v0_ms, 2)
        row = {"id": r["id"], "gpu": r["gpu"], "tp": r["tp"],
               "load": f"batch {r['batch']}" if r.get("batch") else f"{r['concurrency']} users "
                                                                     f"{r['prompt_tokens']}/{r['output_tokens']}",
               "tpot": r["tpot_ms"], "pred_tpot": p["tpot_ms"], "tpot_err": p["tpot_ms"] / r["tpot_ms"] - 1,
               "bound": p["step"]["bound"]}
        if r.get("ttft_ms"):
            row.update(ttft=r["ttft_ms"], pred_ttft=p["ttft_ms"], ttft_err=p["ttft_ms"] / r["ttft_ms"] - 1)
        out.append(row)
    return out


def summary(rs: list[dict], key: str) -> dict:
    errs = [abs(r[key]) for r in rs if key in r]
    return {"n": len(errs), "median": statistics.median(errs), "max": max(errs),
            "within_25": sum(e <= 0.25 for e in errs)}


def _print(rs: list[dict], title: str) -> None:
    print(title)
    print(f"{'run':<28} {'gpu':<10} {'TP':>2} {'load':<22} {'TPOT ms':>8} {'pred':>7} {'err':>7}  "
          f"{'TTFT ms':>8} {'pred':>8} {'err':>7}  bound")
    for r in rs:
        tt = (f"{r['ttft']:>8.1f} {r['pred_ttft']:>8.1f} {r['ttft_err']:>+7.1%}" if "ttft" in r else f"{'-':>8} {'-':>8} {'-':>7}")
        print(f"{r['id']:<28} {r['gpu']:<10} {r['tp']:>2} {r['load']:<22} {r['tpot']:>8.2f} {r['pred_tpot']:>7.2f} "
              f"{r['tpot_err']:>+7.1%}  {tt}  {r['bound']}")
    for key, name in (("tpot_err", "time per output token"), ("ttft_err", "time to first token")):
        s = summary(rs, key)
        if s["n"]:
            print(f"  {name}: median |error| {s['median']:.1%}, max {s['max']:.1%}, {s['within_25']} of {s['n']} "
                  f"within 25%")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fit", action="store_true", help="fit the constants on the train runs first")
    args = ap.parse_args()
    from advisor.kb import load_catalog
    from advisor.serving import FITTED

    cat = load_catalog()
    data = load()
    k, v0 = fit(cat, data) if args.fit else (FITTED, V0_MS)
    if args.fit:
        print(f"fit on {len(data['train'])} train runs: eff_bw {k.eff_bw:g}, overhead_ms {k.overhead_ms:g}, "
              f"allreduce_us {k.allreduce_us:g}, mfu {k.mfu:g}, request_ms {k.request_ms:g}")
        print(f"V0-engine runs' extra per-step time (nuisance, train rows only): {v0:g} ms")
        print(f"advisor.serving.FITTED: {FITTED}")
    _print(rows(cat, data, "train", k, v0), f"train runs ({len(data['train'])}; the fit's own, not a check)")
    _print(rows(cat, data, "score", k), f"score runs ({len(data['score'])}; models x GPUs x layouts not in the fit)")


if __name__ == "__main__":
    main()
