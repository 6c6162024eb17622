"""How well the CPU decode model transfers, from measured CPU runs (no model is run; it takes seconds).

First the published GPU tables (Apple silicon Metal, CUDA; LLaMA-2 7B): each chip predicted from
the other chips' efficiency. Then CPU machines: the groups of CPU runs with a bandwidth: this
project's 2-vCPU EPYC (knowledge/profiles/measured/amd-epyc-zen4-2vcpu, or --profiles folders),
the same machine in other configurations (one thread, interleaved rounds, llama.cpp built for AVX2
only and for AVX only: each its own fingerprint), the Zen 3, Zen 5 and Intel VMs and the published
Raspberry Pi 5 runs (knowledge/profiles/published). A configuration's prior keeps the same VM's runs
at another thread count, never those at its own, nor runs of the same CPU at its thread count (prior_runs).
Four checks:

- leave one model out, same machine: fit on the machine's other models, predict the left-out one;
- one calibration run: the prior is fitted on the *other* machines' runs, then updated by one
  run on the machine (qwen3-0.6b Q4_K_M at 4096 tokens on the EPYC; the smallest model on the
  others), and every other run of the machine is predicted (basis `calibrated`);
- every run as the calibration run in turn: the spread of the one-run result over the choice of run;
- no calibration: the same prior without the machine's run (basis `estimated`). Runs of the same CPU core on
  another machine (the Pi 5's Cortex-A76 on a Compute Module 5) are in no prior above; a last check puts them
  in, as `advisor` does for a machine with no run of its own.

    python -m benchmarks.bench_calibration [--profiles DIR ...]
"""

from __future__ import annotations

import argparse
import statistics

from advisor.kb import load_catalog
from advisor.schemas import Model
from advisor.speed import cpu_key, efficiency, estimate_speed, profile_arch, run_sampler_seconds

CALIBRATION = ("qwen3-0.6b", "q4_k_m", 4096)


def _model(cat, p) -> Model:
    if p.model in cat.models:
        return cat.models[p.model]
    return Model.model_construct(name=p.model, architecture=p.model_architecture, encoders=[], artifacts=[],
                                 availability="open-weights", modalities_in=["text"], params_b=1.0)


def _machine(p) -> str:
    return p.hardware_fingerprint or p.hardware


def _physical(p) -> str:
    """The machine without its configuration suffix (-threads1, -interleaved)."""
    return _machine(p).split("-")[0]


def _predict(cat, p, train, fingerprint, backend: str = "cpu") -> float:
    from advisor.speed import profile_simd

    eff = efficiency(train, dict(cat.models), "llama.cpp", backend, fingerprint, quant=p.quantization,
                     cpu_model=p.hardware, threads=p.threads, cpu_tflops=p.compute_tflops)
    return estimate_speed(_model(cat, p), p.quantization, "llama.cpp", backend, bandwidth_gbps=p.bandwidth_gbps,
                          compute_tflops=p.compute_tflops, prompt_tokens=p.prompt_tokens, gen_tokens=p.gen_tokens,
                          eff=eff, simd=profile_simd(p), depth=p.depth_tokens,
                          sampler_s=run_sampler_seconds(p, dict(cat.models))).decode_tps


def _report(title: str, rows: list[tuple]) -> None:
    print(f"\n{title}:")
    for name, pred, meas in rows:
        print(f"  {name:48s} predicted {pred:6.1f}  measured {meas:6.1f}  {pred / meas - 1:+.0%}")
    if rows:
        errs = sorted(abs(pred / meas - 1) for _, pred, meas in rows)
        print(f"  largest error {errs[-1]:.0%}, median {statistics.median(errs):.0%}, within 10%: "
              f"{sum(e <= 0.10 for e in errs)} of {len(errs)}, within 25%: {sum(e <= 0.25 for e in errs)}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profiles", nargs="*", default=None,
                    help="folders of stored runs of this machine, instead of the knowledge base's measured runs")
    ap.add_argument("--calibration", default=":".join(map(str, CALIBRATION)),
                    help="MODEL:QUANT:CONTEXT of the calibration run on this project's machine")
    a = ap.parse_args(argv)
    m_, q_, c_ = a.calibration.split(":")
    calibration = (m_, q_, int(c_))
    cat = load_catalog()
    runs = [p for p in cat.profiles.values() if p.backend == "cpu" and p.bandwidth_gbps and p.runtime == "llama.cpp"
            and profile_arch(p, dict(cat.models)) is not None]
    if a.profiles:
        from advisor.store import load_profiles

        mine = [p for d in a.profiles for p in load_profiles(d) if p.backend == "cpu"]
        fps = {p.hardware_fingerprint for p in mine}
        runs = [p for p in runs if p.hardware_fingerprint not in fps] + mine
    machines: dict[str, list] = {}
    for p in runs:
        machines.setdefault(_machine(p), []).append(p)
    machines = {k: v for k, v in machines.items() if len(v) >= 3}
    published_gpu(cat)
    for key, ps in machines.items():
        label = ps[0].hardware
        fp = "this-machine"  # every run of the machine counts as the same fingerprint below
        same = [p.model_copy(update={"hardware_fingerprint": fp}) for p in ps]
        prior = [p.model_copy(update={"hardware_fingerprint": _machine(p)}) for p in prior_runs(runs, ps[0])]
        # runs of the same CPU on another machine (the Pi 5's Cortex-A76 on a Compute Module 5) are not
        # "other machines" for a machine with no run of its own: they are reported apart
        core = cpu_key(ps[0].hardware)
        siblings = [p for p in prior if core and cpu_key(p.hardware) == core]
        others = [p for p in prior if p not in siblings]
        print(f"\n=== {label} ({len(ps)} runs; other machines: {len(others)} runs)")
        if len({p.model for p in ps}) >= 3:
            _report("leave one model out (same machine)", [
                (f"{p.model} {p.quantization} ctx {p.context}",
                 _predict(cat, p, [o for o in same if o.model != p.model], fp), p.decode_tokens_per_s.median)
                for p in same])
        if not others:
            continue
        cal = next((p for p in same if (p.model, p.quantization, p.context) == calibration), None) or \
            min(same, key=lambda p: (profile_arch(p, dict(cat.models)).layers * profile_arch(p, dict(cat.models)).hidden_size))
        rest = [p for p in same if p.model != cal.model]
        _report(f"one calibration run ({cal.model} {cal.quantization} ctx {cal.context}), prior from other machines", [
            (f"{p.model} {p.quantization} ctx {p.context}", _predict(cat, p, others + [cal], fp),
             p.decode_tokens_per_s.median) for p in rest])
        print(f"\nevery run as the calibration run in turn ({len(same)} choices):")
        print_sweep(sweep(cat, same, others, fp))
        _report("no calibration (prior from other machines only)", [
            (f"{p.model} {p.quantization} ctx {p.context}", _predict(cat, p, others, fp),
             p.decode_tokens_per_s.median) for p in rest])
        if siblings:
            boards = "; ".join(sorted({p.hardware for p in siblings}))
            _report(f"no run of its own, the same CPU's {len(siblings)} run(s) on another machine in the prior "
                    f"({boards})", [
                        (f"{p.model} {p.quantization} ctx {p.context}", _predict(cat, p, others + siblings, fp),
                         p.decode_tokens_per_s.median) for p in rest])


def prior_runs(runs, like) -> list:
    """The runs a machine's prior may use: other machines, and this machine's runs in another configuration
    (thread count), never its runs in the same one, nor runs of the same CPU at the same thread count on another
    machine of its kind (advisor.estimate.same_cpu_class: the same cpuid, or for runs without one the same CPU
    name and int8 class)."""
    from advisor.estimate import same_cpu_class, spec_of_run

    spec = spec_of_run(like)
    return [p for p in runs if _machine(p) != _machine(like)
            and not ((_physical(p) == _physical(like) or same_cpu_class(p, spec)) and p.threads == like.threads)]


def sweep(cat, same, others, fp) -> list[tuple]:
    """Every run of the machine as the one calibration run in turn: (run, signed errors of the other models'
    predictions). How much the result depends on which run (and which run's noise) calibrates."""
    out = []
    for cal in same:
        rest = [p for p in same if p.model != cal.model]
        errs = [_predict(cat, p, others + [cal], fp) / p.decode_tokens_per_s.median - 1 for p in rest]
        if errs:
            out.append((cal, errs))
    return out


def print_sweep(results: list[tuple]) -> None:
    if not results:
        return
    meds = [statistics.median(abs(e) for e in errs) for _, errs in results]
    pooled = [abs(e) for _, errs in results for e in errs]
    print(f"  median error per choice: median {statistics.median(meds):.0%}, best {min(meds):.0%}, worst {max(meds):.0%}; "
          f"choices with a median within 10%: {sum(m <= 0.10 for m in meds)} of {len(meds)}")
    print(f"  all predictions pooled ({len(pooled)}): median {statistics.median(pooled):.0%}, within 10%: "
          f"{sum(e <= 0.10 for e in pooled) / len(pooled):.0%}, within 25%: {sum(e <= 0.25 for e in pooled) / len(pooled):.0%}")


def published_gpu(cat) -> None:
    """Published GPU tables (llama.cpp, LLaMA-2 7B): each chip's decode from the other chips' efficiency."""
    from advisor.speed import ollama_go_engine

    # runs of Ollama's former Go engine measure an engine Ollama no longer runs: bench_gpu lists them apart
    gpu = [p for p in cat.profiles.values() if p.backend != "cpu" and p.bandwidth_gbps
           and profile_arch(p, dict(cat.models)) is not None and not ollama_go_engine(p, dict(cat.models))]
    for backend in sorted({p.backend for p in gpu}):
        ps = [p for p in gpu if p.backend == backend]
        rows = []
        for p in ps:
            others = [o for o in ps if o.hardware != p.hardware]
            if others:
                rows.append((f"{p.hardware} {p.quantization}", _predict(cat, p, others, None, backend),
                             p.decode_tokens_per_s.median))
        _report(f"published {backend} runs, leave one chip out (no run of the chip itself)", rows)


if __name__ == "__main__":
    main()
