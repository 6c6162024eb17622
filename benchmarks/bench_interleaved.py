"""One calibration run on a machine whose speed drifts: measure the stacks interleaved, then calibrate.

    python -m benchmarks.bench_interleaved [--rounds 4] [--save DIR]    # runs llama.cpp, about 10 minutes
    python -m benchmarks.bench_interleaved --replay knowledge/profiles/measured

A shared VM's speed drifts by 10-25% over hours, so runs recorded one after another over an
afternoon disagree by more than the speed model's error. Here every stack (4 models x Q4_K_M,
Q8_0; synthetic GGUFs, context 512, 256-token prompt, 64 generated tokens x 2 repeats) is run once
per round, round after round, so drift reaches every stack alike; a stack's figure is the median
over all its rounds. Then each stack in turn is the one calibration run and the other models are
predicted from it, with the prior from other machines (runs of this machine with the same thread
count are left out). The runs are stored with the fingerprint suffix `-interleaved` (a protocol,
so they never calibrate the product's own estimates on this machine).
"""

from __future__ import annotations

import argparse
import statistics

MODELS = ("qwen3-0.6b", "qwen3-1.7b", "gemma-3-1b-it", "qwen2.5-1.5b-instruct")
QUANTS = ("q4_k_m", "q8_0")
SUFFIX = "-interleaved"


def measure(cat, rounds: int):
    from advisor.estimate import detected_spec
    from profiling.measure import RunSettings, _spread, run_gguf, to_profile
    from profiling.synth import build

    spec = detected_spec()
    s = RunSettings(context=512, prompt_tokens=256, gen_tokens=64, repeats=2)
    stacks = [(m, q, build(cat.model(m).architecture, q)) for m in MODELS for q in QUANTS]
    raws: dict = {(m, q): [] for m, q, _ in stacks}
    for r in range(rounds):
        for m, q, path in stacks:
            raws[(m, q)].append(run_gguf(str(path), s))
            print(f"round {r + 1}/{rounds}: {m} {q}", flush=True)
    out = []
    for m, q, path in stacks:
        rs = raws[(m, q)]
        runs = [x for raw in rs for x in raw["runs"]]
        p = to_profile(rs[0], model=m, quantization=q, hardware_name=spec.name + ", interleaved rounds",
                       fingerprint=(spec.fingerprint or "unknown") + SUFFIX, bandwidth_gbps=spec.bandwidth_gbps,
                       bandwidth_basis=spec.bandwidth_source, compute_tflops=spec.cpu_tflops, synthetic=True, s=s,
                       artifact=str(path))
        settings = dict(p.settings, rounds=rounds)
        out.append(p.model_copy(update={
            "decode_tokens_per_s": _spread([statistics.median(x["decode_tps"] for x in raw["runs"]) for raw in rs]),
            "prefill_tokens_per_s": _spread([x["prefill_tps"] for x in runs]),
            "ttft_ms": _spread([x["ttft_ms"] for x in runs]),
            "peak_rss_bytes": max(raw["rss"]["peak"] for raw in rs), "settings": settings}))
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--save", default=None, help="store the aggregated runs in this folder")
    ap.add_argument("--replay", default=None, help="a folder of stored interleaved runs instead of running")
    a = ap.parse_args(argv)
    from advisor.kb import load_catalog
    from benchmarks.bench_calibration import print_sweep, prior_runs, sweep

    cat = load_catalog()
    if a.replay:
        from advisor.store import load_profiles

        runs = [p for p in load_profiles(a.replay) if (p.hardware_fingerprint or "").endswith(SUFFIX)]
    else:
        runs = measure(cat, a.rounds)
        if a.save:
            from advisor.store import save_profile

            for p in runs:
                save_profile(p, a.save)
    if not runs:
        print("no interleaved runs")
        return
    fp = runs[0].hardware_fingerprint
    print(f"{len(runs)} stacks, {runs[0].settings.get('rounds')} interleaved rounds each, on {runs[0].hardware}")
    for p in runs:
        d = p.decode_tokens_per_s
        print(f"  {p.model:24s} {p.quantization:7s} decode median over rounds {d.median:6.2f} "
              f"(rounds {d.min:.2f}-{d.max:.2f}, spread {d.max / d.min - 1:.0%})")
    others = prior_runs([p for p in cat.profiles.values() if p.backend == "cpu" and p.runtime == "llama.cpp"], runs[0])
    results = sweep(cat, runs, others, fp)
    print("\none calibration run (each stack in turn), the other models predicted:")
    for cal, errs in results:
        print(f"  {cal.model:24s} {cal.quantization:7s} median {statistics.median(abs(e) for e in errs):.0%}, "
              f"largest {max(abs(e) for e in errs):.0%}")
    print()
    print_sweep(results)


if __name__ == "__main__":
    main()
