"""The second runtime: Transformers (PyTorch, CPU) runs against the advisor's estimates.

    python -m benchmarks.bench_transformers [--models qwen3-0.6b,...] [--save DIR] [--replay DIR]

Each model runs in BF16 with random weights and its exact shapes (`from_config`), a 256-token
prompt and 32 decoded tokens x 3 repeats, through the same harness as `advisor profile --runtime
transformers`. Printed per model: memory (predicted total vs measured peak RSS), decode and prefill
tokens/s before calibration (no Transformers run of this machine), then after one calibration run
(the first model) for the others. `--save DIR` stores the runs as profiles; `--replay DIR` recomputes
the table from stored runs without running a model. It needs the transformers extra
(pip install 'advisor[transformers]'); about 3 minutes here.
"""

from __future__ import annotations

import argparse
import statistics

from advisor.estimate import detected_spec, estimate_stack, spec_of_run
from advisor.kb import load_catalog

MODELS = ("qwen3-0.6b", "qwen2.5-0.5b-instruct", "gemma-3-1b-it", "qwen2.5-1.5b-instruct")


def _err(pred, meas) -> str:
    return f"{pred / meas - 1:+.0%}" if (pred and meas) else "-"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--save", default=None, help="store the runs as profiles in this folder")
    ap.add_argument("--replay", default=None, help="a folder of stored Transformers runs instead of running")
    a = ap.parse_args(argv)
    cat = load_catalog()
    spec = detected_spec()
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    if a.replay:
        from advisor.store import load_profiles

        runs = [p for p in load_profiles(a.replay) if p.runtime == "transformers"]
        runs.sort(key=lambda p: models.index(p.model) if p.model in models else len(models))
    else:
        from profiling.measure import RunSettings
        from profiling.profile import profile_stack

        s = RunSettings(context=4096, prompt_tokens=256, gen_tokens=32, repeats=3)
        runs = []
        for mid in models:
            out = profile_stack(cat, mid, "bf16", runtime="transformers", synthetic=True, settings=s,
                                profiles_dir=a.save or _tmp())
            runs.append(out.profile)
            print(f"ran {mid}: decode {out.profile.decode_tokens_per_s.median:.2f} tokens/s", flush=True)
    if not runs:
        print("no Transformers runs")
        return
    # no stored run of this machine (in any folder) informs an estimate: "before calibration" is the generic
    # efficiency, "after" the one calibration run given below
    print(f"\nmachine: {spec.name}; Transformers runs: {runs[0].runtime_version}; BF16, random weights "
          "(each run predicted for its own machine: bandwidth, FLOP/s, threads as recorded)")
    mem_errs, dec_errs, pre_errs = [], [], []
    for p in runs:
        spec = spec_of_run(p)
        spec.fingerprint = "bench-transformers"
        ctx = p.prompt_tokens + p.gen_tokens + 8
        est = estimate_stack(cat, p.model, p.quantization, "transformers", ctx, spec, prompt_tokens=p.prompt_tokens,
                             gen_tokens=p.gen_tokens, exclude_fingerprint=p.hardware_fingerprint)
        sp = est.speed
        mem_errs.append(abs(est.memory.total / p.peak_rss_bytes - 1))
        dec_errs.append(abs(sp.decode_tps / p.decode_tokens_per_s.median - 1))
        pre_errs.append(abs(sp.prefill_tps / p.prefill_tokens_per_s.median - 1) if sp.prefill_tps else float("nan"))
        print(f"{p.model:24s} memory {est.memory.total / 1e9:.2f} vs {p.peak_rss_bytes / 1e9:.2f} GB "
              f"({_err(est.memory.total, p.peak_rss_bytes)})  decode {sp.decode_tps:.1f} vs "
              f"{p.decode_tokens_per_s.median:.1f} ({_err(sp.decode_tps, p.decode_tokens_per_s.median)}) [{sp.basis}]  "
              f"prefill {sp.prefill_tps:.0f} vs {p.prefill_tokens_per_s.median:.0f} "
              f"({_err(sp.prefill_tps, p.prefill_tokens_per_s.median)})")
    cal = runs[0].model_copy(update={"hardware_fingerprint": spec.fingerprint})
    print(f"\ncalibrated with one run: {cal.model} {cal.quantization.upper()}")
    cal_dec, cal_pre = [], []
    for p in runs[1:]:
        spec = spec_of_run(p)
        spec.fingerprint = "bench-transformers"
        ctx = p.prompt_tokens + p.gen_tokens + 8
        sp = estimate_stack(cat, p.model, p.quantization, "transformers", ctx, spec, prompt_tokens=p.prompt_tokens,
                            gen_tokens=p.gen_tokens, extra_profiles=[cal], exclude_fingerprint=p.hardware_fingerprint).speed
        cal_dec.append(abs(sp.decode_tps / p.decode_tokens_per_s.median - 1))
        cal_pre.append(abs(sp.prefill_tps / p.prefill_tokens_per_s.median - 1))
        print(f"{p.model:24s} decode {sp.decode_tps:.1f} vs {p.decode_tokens_per_s.median:.1f} "
              f"({_err(sp.decode_tps, p.decode_tokens_per_s.median)}) [{sp.basis}]  prefill {sp.prefill_tps:.0f} vs "
              f"{p.prefill_tokens_per_s.median:.0f} ({_err(sp.prefill_tps, p.prefill_tokens_per_s.median)})")
    print("\nsummary (absolute errors: largest, median):")
    print(f"  memory, predicted total vs measured peak RSS: {max(mem_errs):.0%}, {statistics.median(mem_errs):.0%}")
    print(f"  decode before calibration: {max(dec_errs):.0%}, {statistics.median(dec_errs):.0%}")
    if cal_dec:
        print(f"  decode after one calibration run: {max(cal_dec):.0%}, {statistics.median(cal_dec):.0%}")
        print(f"  prefill after one calibration run: {max(cal_pre):.0%}, {statistics.median(cal_pre):.0%}")


def _tmp() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="advisor-bench-hf-")


if __name__ == "__main__":
    main()
