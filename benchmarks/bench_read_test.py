"""The read test's modes on this machine, and whether llama.cpp's decode follows them.

    python -m benchmarks.bench_read_test [--seconds 8] [--pairs 3]

Prints the spread of back-to-back passes of the read test (advisor.hardware.measure_bandwidth's pass) over
`--seconds`, then `--pairs` pairs of a read test (the product's: median pass of 3 s) and a decode run of a
random-weight qwen3-0.6b Q4_K_M (built in a temporary folder), so a reader can see whether decode speed
tracks the read test's figure.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time


def passes(seconds: float) -> list[float]:
    import os
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    threads = os.cpu_count() or 1
    data = np.ones(512 * 2**20 // 8, dtype=np.int64)
    slices = np.array_split(data, threads)
    out = []
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(np.sum, slices))
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            list(pool.map(np.sum, slices))
            out.append(data.nbytes / (time.perf_counter() - t0) / 1e9)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--pairs", type=int, default=3)
    a = ap.parse_args(argv)
    rates = passes(a.seconds)
    q = statistics.quantiles(rates, n=20)
    print(f"{len(rates)} passes over {a.seconds:g} s: median {statistics.median(rates):.1f} GB/s, "
          f"5th-95th percentile {q[0]:.1f}-{q[-1]:.1f}, max {max(rates):.1f}; "
          f"{sum(r > 45 for r in rates)} above 45 GB/s")
    if not a.pairs:
        return
    from advisor.hardware import measure_bandwidth
    from advisor.kb import load_catalog
    from profiling.measure import RunSettings, run_gguf
    from profiling.synth import build

    cat = load_catalog()
    with tempfile.TemporaryDirectory() as d:
        path = build(cat.model("qwen3-0.6b").architecture, "q4_k_m", directory=d)
        s = RunSettings(context=2048, prompt_tokens=256, gen_tokens=48, repeats=1)
        print("read test (GB/s, median pass of 3 s) -> decode tok/s of the next run")
        for _ in range(a.pairs):
            bw = measure_bandwidth()
            dec = run_gguf(str(path), s)["runs"][0]["decode_tps"]
            print(f"  {bw:5.1f} -> {dec:5.1f}")


if __name__ == "__main__":
    main()
