"""Predicted vs measured: memory, decode and prefill of real llama.cpp runs on this machine.

For each model x quantization x context it builds a GGUF with random weights and
the model's exact shapes (cached), runs it with llama.cpp (llama-cpp-python) in a
fresh process, and prints the advisor's prediction beside the measurement with
the error of each. Then each run of a machine configuration (its full fingerprint:
a restricted build's or a thread count's runs are another machine) stands in turn
as the one calibration run, and the configuration's other runs are predicted again
(basis `calibrated`). The summary gives the errors per configuration and the bytes
each configuration's decode streams per second against its read test. Where
llmfit is installed its predictions are printed beside ours.

    python -m benchmarks.bench_estimates                     # full table (about 30 minutes here)
    python -m benchmarks.bench_estimates --quick             # two stacks, two contexts
    python -m benchmarks.bench_estimates --json out.json     # also write the rows
    python -m benchmarks.bench_estimates --replay DIR        # the table again from runs stored in DIR
    python -m benchmarks.bench_estimates --replay knowledge/profiles/measured   # from the shipped runs

Run it alone: other work on the machine distorts the timings.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import json
import shutil
import subprocess
from pathlib import Path

from advisor.estimate import detected_spec, estimate_stack, spec_of_run, threads_view
from advisor.speed import machine_of
from advisor.kb import load_catalog

from profiling.measure import RunSettings, run_gguf, to_profile
from profiling.synth import build

MODELS = ["qwen3-0.6b", "qwen3-1.7b", "gemma-3-1b-it", "qwen2.5-1.5b-instruct"]
QUANTS = ["q4_k_m", "q8_0"]
CONTEXTS = [512, 4096, 16384]


def llmfit_predict(exe: str, hf_repo: str, quant: str, context: int) -> tuple[float | None, float | None]:
    """(memory GB, decode tokens/s) from `llmfit plan`, CPU-only path."""
    try:
        r = subprocess.run([exe, "plan", hf_repo, "--context", str(context), "--quant", quant.upper(), "--json"],
                           capture_output=True, text=True, timeout=60)
        d = json.loads(r.stdout)
    except (OSError, ValueError, subprocess.SubprocessError):
        return None, None
    for p in d.get("run_paths", []):
        if p.get("path") == "cpu_only":
            return p["minimum"].get("ram_gb"), p.get("estimated_tps")
    return None, None


def pct(pred, meas) -> str:
    if pred is None or meas in (None, 0):
        return "-"
    return f"{pred / meas - 1:+.0%}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("--contexts", nargs="*", type=int, default=None)
    ap.add_argument("--json", dest="json_out", default=None)
    ap.add_argument("--quants", nargs="*", default=None, help=f"quantizations (default {' '.join(QUANTS)})")
    ap.add_argument("--fill", action="store_true", help="fill every run's context (slow for large contexts)")
    ap.add_argument("--gen-tokens", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--save-profiles", default=None, help="also keep the measured profiles in this folder")
    ap.add_argument("--replay", default=None, help="recompute the table from runs stored in this folder")
    ap.add_argument("--threads", type=int, default=None,
                    help="with --replay: only runs with this thread count; otherwise run llama.cpp on this many "
                         "threads, a configuration of this machine (their read test, their share of its FLOP/s, "
                         "fingerprint suffix -threadsN: advisor.estimate.threads_view)")
    ap.add_argument("--fingerprint", default=None,
                    help="record the runs under this fingerprint: MACHINE-SUFFIX records them as a configuration "
                         "of MACHINE, whose every run is then left out of their estimate before calibration "
                         "(default: this machine's)")
    ap.add_argument("--hardware-name", default=None, help="describe the machine in the stored runs")
    ap.add_argument("--note", action="append", default=[], help="a note kept with every stored run")
    a = ap.parse_args(argv)
    models = a.models or (MODELS[:2] if a.quick else MODELS)
    contexts = a.contexts or ([512, 4096] if a.quick else CONTEXTS)
    quants = a.quants or (QUANTS[:1] if a.quick else QUANTS)

    cat = load_catalog()
    spec = detected_spec()
    if a.threads and not a.replay:
        spec = threads_view(spec, a.threads)
    llmfit = shutil.which("llmfit") or shutil.which("llmfit", path=str(Path(sys.executable).parent))
    print(f"machine: {spec.name}; bandwidth {spec.bandwidth_gbps} GB/s ({spec.bandwidth_source}); "
          f"float32 {spec.cpu_tflops} TFLOP/s; llmfit: {llmfit or 'not installed'}")
    # llama-cpp-python's defaults (flash attention off: on this CPU it decodes ~25% slower with it on)
    settings_base = dict(prompt_tokens=256, gen_tokens=a.gen_tokens, repeats=a.repeats, flash_attn=False,
                         swa_full=True, threads=None if a.replay else a.threads)
    overrides = {"flash_attn": False, "swa_full": True}
    rows, measured_profiles = [], []
    if a.replay:
        from advisor.store import load_profiles

        measured_profiles = sorted(load_profiles(a.replay), key=lambda p: (
            models.index(p.model) if p.model in models else 99, p.quantization, p.context))
        # each run is predicted for its own machine (spec_of_run): the table is the same on any machine
        measured_profiles = [p for p in measured_profiles if p.model in models and p.quantization in quants
                             and p.context in contexts and (a.threads is None or p.threads == a.threads)
                             and p.runtime == "llama.cpp" and not p.settings.get("rounds")]  # not bench_interleaved's
        print(f"replaying {len(measured_profiles)} stored runs from {a.replay} (no model is run)")
    else:
        for mid in models:
            m = cat.model(mid)
            for q in quants:
                path = build(m.architecture, q)
                for ctx in contexts:
                    # filling the whole context (for the memory peak) costs minutes on 2 cores:
                    # fill where it takes under about two minutes, otherwise measure after the prompt
                    fill = a.fill or ctx * m.params_b <= 4096 * 0.6
                    s = RunSettings(context=ctx, fill=fill, **settings_base)
                    raw = run_gguf(str(path), s)
                    prof = to_profile(
                        raw, model=mid, quantization=q, hardware_name=a.hardware_name or spec.name,
                        fingerprint=a.fingerprint or spec.fingerprint, bandwidth_gbps=spec.bandwidth_gbps,
                        bandwidth_basis=spec.bandwidth_source, compute_tflops=spec.cpu_tflops, synthetic=True, s=s,
                        artifact=str(path))
                    prof = prof.model_copy(update={"notes": list(a.note) + list(prof.notes)})
                    measured_profiles.append(prof)
                    if a.save_profiles:  # each run as it is measured: a later failure loses none of them
                        from advisor.store import save_profile

                        save_profile(prof, a.save_profiles)
                    print(f"measured {mid} {q} ctx {ctx}", file=sys.stderr, flush=True)
    for prof in measured_profiles:
        mid, q, ctx = prof.model, prof.quantization, prof.context
        m = cat.model(mid)
        spec = spec_of_run(prof)
        fill = bool(prof.settings.get("filled"))
        pt, gt = prof.prompt_tokens, prof.gen_tokens
        # before calibration: no profile from the measured machine may inform the estimate
        # the file that ran: a synthetic GGUF is sized by its layout, not by the published artifact's size
        est = estimate_stack(cat, mid, q, "llama.cpp", ctx, spec, prompt_tokens=pt, gen_tokens=gt,
                             frontend="llama-cpp-python", overrides=overrides,
                             exclude_fingerprint=machine_of(prof), exclude_same_cpu=True,
                             listed_artifact=not prof.synthetic)
        lf_mem, lf_tps = llmfit_predict(llmfit, m.hf_repo, q, ctx) if llmfit else (None, None)
        row = {
            "model": mid, "quant": q, "context": ctx, "filled": fill,
            "mem_measured_gb": prof.peak_rss_bytes / 1e9, "mem_pred_gb": est.memory.total / 1e9,
            "decode_measured": prof.decode_tokens_per_s.median, "decode_pred": est.speed.decode_tps,
            "prefill_measured": prof.prefill_tokens_per_s.median, "prefill_pred": est.speed.prefill_tps,
            "llmfit_mem_gb": lf_mem, "llmfit_decode": lf_tps,
            # what the run streamed: bytes read per decoded token (weights and KV at its position) x its speed
            "streamed_gbps": est.speed.cost.bytes_per_token * prof.decode_tokens_per_s.median / 1e9,
            "read_test_gbps": prof.bandwidth_gbps,
        }
        rows.append(row)
        print(f"{mid:22s} {q:7s} ctx {ctx:6d}{'' if fill else '*'} memory {row['mem_pred_gb']:.2f} vs {row['mem_measured_gb']:.2f} GB "
              f"({pct(row['mem_pred_gb'], row['mem_measured_gb'])})  decode {row['decode_pred']:.1f} vs "
              f"{row['decode_measured']:.1f} t/s ({pct(row['decode_pred'], row['decode_measured'])})  prefill "
              f"{row['prefill_pred'] or 0:.0f} vs {row['prefill_measured']:.0f} t/s "
              f"({pct(row['prefill_pred'], row['prefill_measured'])})"
              + (f"  llmfit memory {lf_mem:.2f} GB ({pct(lf_mem, row['mem_measured_gb'])}) decode {lf_tps:.1f} "
                 f"({pct(lf_tps, row['decode_measured'])})" if lf_mem and lf_tps else ""), flush=True)

    # calibration: each run of a machine in turn as its one calibration run, every other run of that machine
    # predicted again (the same machine: its own fingerprint; no other run of it informs the estimate)

    by_machine: dict[str, list] = {}
    for prof, row in zip(measured_profiles, rows):
        # one configuration (its full fingerprint: a build's or thread count's suffix included): a run of the
        # native build is no calibration run for a restricted build's runs, which are recorded as another machine
        by_machine.setdefault((prof.hardware_fingerprint or prof.hardware) + "|" + str(prof.threads), []).append(
            (prof, row))
    choice_medians = []
    print("\none calibration run (each run of the machine in turn), the machine's other runs predicted:")
    for key, items in sorted(by_machine.items()):
        if len(items) < 2:
            continue
        mine: list[float] = []
        for calib, crow in items:
            errs = []
            for prof, row in items:
                if prof is calib:
                    continue
                est = estimate_stack(cat, row["model"], row["quant"], "llama.cpp", row["context"], spec_of_run(prof),
                                     prompt_tokens=prof.prompt_tokens, gen_tokens=prof.gen_tokens,
                                     frontend="llama-cpp-python", overrides=overrides,
                                     exclude_fingerprint=machine_of(prof), exclude_same_cpu=True,
                                     extra_profiles=[calib],
                                     listed_artifact=not prof.synthetic)
                errs.append(abs(est.speed.decode_tps / row["decode_measured"] - 1))
                row.setdefault("decode_calibrated_errors", []).append(errs[-1])
            choice_medians.append(statistics.median(errs))
            mine.append(choice_medians[-1])
            print(f"  {key:30s} calibrated on {calib.model} {calib.quantization} ctx {calib.context}: median "
                  f"{statistics.median(errs):.1%}, largest {max(errs):.1%}, within 10% {sum(e <= 0.10 for e in errs)} "
                  f"of {len(errs)}")
        print(f"  {key:30s} median over its {len(mine)} choices: {statistics.median(mine):.1%} (best {min(mine):.1%}, "
              f"worst {max(mine):.1%}; {sum(c <= 0.10 for c in mine)} of {len(mine)} choices within 10%)")
    if choice_medians:
        print(f"  median over choices of the calibration run: {statistics.median(choice_medians):.1%} "
              f"(best {min(choice_medians):.1%}, worst {max(choice_medians):.1%}; "
              f"{sum(c <= 0.10 for c in choice_medians)} of {len(choice_medians)} choices within 10%)")

    def worst(key_p, key_m, sel=lambda r: True):
        errs = [abs(r[key_p] / r[key_m] - 1) for r in rows if sel(r) and r.get(key_p) and r.get(key_m)]
        return max(errs) if errs else None

    print("\nsummary (largest absolute error):")
    filled = [r for r in rows if r["filled"]]
    if filled:
        print(f"  memory at a full context ({len(filled)} runs), prediction over measured peak: "
              f"min {min(r['mem_pred_gb'] / r['mem_measured_gb'] - 1 for r in filled):+.1%}, "
              f"max {max(r['mem_pred_gb'] / r['mem_measured_gb'] - 1 for r in filled):+.1%}")
    print("  (runs not filled to their context are measured after the prompt; their peak is lower than the "
          "full-context prediction)")
    dec = [abs(r["decode_pred"] / r["decode_measured"] - 1) for r in rows]
    print(f"  decode before calibration ({len(dec)} runs): median {statistics.median(dec):.1%}, largest "
          f"{max(dec):.1%}, within 10% {sum(e <= 0.10 for e in dec)}, within 25% {sum(e <= 0.25 for e in dec)}")
    by_m: dict[str, list] = {}
    for prof, r in zip(measured_profiles, rows):
        # stored runs name the machine that measured them "this machine (...)": in a replay that is not this one
        name = ("run's machine" + prof.hardware[len("this machine"):]) if prof.hardware.startswith("this machine") \
            else prof.hardware
        config = (prof.hardware_fingerprint or "").partition("-")[2]  # -avx2build, -threads1: a configuration
        by_m.setdefault(f"{name} ({prof.threads} threads{'; ' + config if config else ''})", []).append(r)
    for key, rs in sorted(by_m.items()):
        d = [abs(r["decode_pred"] / r["decode_measured"] - 1) for r in rs]
        p_ = [abs(r["prefill_pred"] / r["prefill_measured"] - 1) for r in rs if r["prefill_pred"]]
        print(f"    {key}: decode median {statistics.median(d):.1%}, largest {max(d):.1%}, within 10% "
              f"{sum(e <= 0.10 for e in d)}, within 25% {sum(e <= 0.25 for e in d)} of {len(d)}"
              + (f"; prefill median {statistics.median(p_):.1%}, largest {max(p_):.1%}" if p_ else ""))
    print("  bytes streamed per second in decode (bytes read per token x measured speed) over the run's read test:")
    for key, rs in sorted(by_m.items()):
        st = [r for r in rs if r["read_test_gbps"]]
        if st:
            g = statistics.median(r["streamed_gbps"] for r in st)
            share = [r["streamed_gbps"] / r["read_test_gbps"] for r in st]
            rt = statistics.median(r["read_test_gbps"] for r in st)
            print(f"    {key}: median {g:.1f} GB/s against a {rt:.1f} GB/s read test, {statistics.median(share):.0%} "
                  f"({min(share):.0%}-{max(share):.0%} over {len(st)} runs)")
    pre = [abs(r["prefill_pred"] / r["prefill_measured"] - 1) for r in rows if r["prefill_pred"]]
    if pre:
        print(f"  prefill before calibration: median {statistics.median(pre):.1%}, largest {max(pre):.1%}")
    if llmfit:
        lm = [r for r in rows if r["llmfit_mem_gb"]]
        if lm:
            print(f"  llmfit memory: min {min(r['llmfit_mem_gb'] / r['mem_measured_gb'] - 1 for r in lm):+.1%}, "
                  f"max {max(r['llmfit_mem_gb'] / r['mem_measured_gb'] - 1 for r in lm):+.1%}; "
                  f"llmfit decode largest error {worst('llmfit_decode', 'decode_measured'):.1%}")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
