"""The profiling harness's own overhead: its decode tokens/s against llama.cpp's internal timings.

The harness times each decode step from Python (wall clock around llama_decode + synchronize);
llama.cpp books the same steps in its own perf counters (llama_perf_context). The gap is the
harness's overhead.

    python -m benchmarks.bench_overhead [--model qwen3-0.6b] [--quant q4_k_m] [--repeats 5]
"""

from __future__ import annotations

import argparse

from advisor.kb import load_catalog

from profiling.measure import RunSettings, run_gguf
from profiling.synth import build


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="qwen3-0.6b")
    ap.add_argument("--quant", default="q4_k_m")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--gen-tokens", type=int, default=128)
    a = ap.parse_args(argv)
    m = load_catalog().model(a.model)
    path = build(m.architecture, a.quant)
    raw = run_gguf(str(path), RunSettings(context=2048, prompt_tokens=256, gen_tokens=a.gen_tokens, repeats=a.repeats))
    print(f"{a.model} {a.quant.upper()} (synthetic), llama-cpp-python {raw['runtime_version']}, "
          f"{raw['settings']['threads']} threads, {a.gen_tokens} decoded tokens per repeat")
    print(f"{'repeat':>6}  {'harness t/s':>11}  {'llama.cpp t/s':>13}  {'difference':>10}")
    worst = 0.0
    for i, r in enumerate(raw["runs"], 1):
        diff = r["decode_tps"] / r["llama_decode_tps"] - 1
        worst = max(worst, abs(diff))
        print(f"{i:>6}  {r['decode_tps']:>11.2f}  {r['llama_decode_tps']:>13.2f}  {diff:>+10.2%}")
    print(f"largest difference: {worst:.2%} (target: within 3%)")


if __name__ == "__main__":
    main()
