"""How well the CPU speed model transfers, from the measured CPU profiles in the knowledge base.

Two checks over the shipped runs (no model is run; it takes seconds):
- leave one model out: fit on the other models' runs of the same machine, predict the left-out model;
- one calibration run on a "new" machine: the other models' runs stand in for other machines'
  profiles (prior), plus one run of qwen3-0.6b Q4_K_M at 4096 tokens on the machine itself.

    python -m profiling.bench_calibration
"""

from __future__ import annotations

from advisor.kb import load_catalog
from advisor.speed import efficiency, estimate_speed

CALIBRATION = ("qwen3-0.6b", "q4_k_m", 4096)


def main() -> None:
    cat = load_catalog()
    models = dict(cat.models)
    cpu = [p for p in cat.profiles.values() if p.backend == "cpu"]
    if not cpu:
        print("no CPU profiles in the knowledge base")
        return
    cal = next(p for p in cpu if (p.model, p.quantization, p.context) == CALIBRATION)
    for mode in ("leave one model out", "one calibration run"):
        rows = []
        for p in cpu:
            if mode == "leave one model out":
                train = [o for o in cpu if o.model != p.model]
            else:
                if p.model == cal.model:
                    continue
                train = [o.model_copy(update={"hardware_fingerprint": "another-machine"})
                         for o in cpu if o.model not in (p.model, cal.model)] + [cal]
            eff = efficiency(train, models, "llama.cpp", "cpu", p.hardware_fingerprint, quant=p.quantization)
            s = estimate_speed(cat.model(p.model), p.quantization, "llama.cpp", "cpu", bandwidth_gbps=p.bandwidth_gbps,
                               compute_tflops=p.compute_tflops, prompt_tokens=p.prompt_tokens,
                               gen_tokens=p.gen_tokens, eff=eff)
            rows.append((p.model, p.quantization, p.context, s.decode_tps, p.decode_tokens_per_s.median))
        print(f"\n{mode}:")
        for m, q, c, pred, meas in rows:
            print(f"  {m:22s} {q:7s} ctx {c:6d}  predicted {pred:6.1f}  measured {meas:6.1f}  {pred / meas - 1:+.0%}")
        errs = sorted(abs(pred / meas - 1) for *_, pred, meas in rows)
        print(f"  largest error {errs[-1]:.0%}, median {errs[len(errs) // 2]:.0%}, "
              f"within 10%: {sum(e <= 0.10 for e in errs)} of {len(errs)}, within 25%: {sum(e <= 0.25 for e in errs)}")


if __name__ == "__main__":
    main()
