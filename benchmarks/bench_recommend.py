"""End-to-end time of `advisor recommend --ram 4GB --lang sv` in new processes, beside llmfit.

    python -m benchmarks.bench_recommend [--runs 15] [--cold 3]

Each run is a fresh process (imports, catalog, solve, output). llmfit's `recommend` is timed
the same way when it is installed (pip install llmfit), interleaved with ours. The timed runs use
the user cache as a second run would: the validated catalog, the stack graph's paths per hardware
class and the GGUF layouts. `--cold` runs also start from an empty cache folder, as the first run
after installing or editing the knowledge base does (validating every file, building the graph,
and measuring this machine's bandwidth for the hardware detection).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--cold", type=int, default=3, help="runs from an empty cache folder")
    a = ap.parse_args(argv)
    bindir = Path(sys.executable).parent
    advisor = shutil.which("advisor", path=str(bindir)) or shutil.which("advisor")
    llmfit = shutil.which("llmfit", path=str(bindir)) or shutil.which("llmfit")
    # byte-compile the package as a first import would (this environment may set PYTHONDONTWRITEBYTECODE)
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "advisor")], capture_output=True)
    rows = [("advisor recommend --ram 4GB --lang sv", [advisor, "recommend", "--ram", "4GB", "--lang", "sv"])]
    if llmfit:
        rows.append(("llmfit --ram 4G recommend", [llmfit, "--ram", "4G", "recommend"]))
    for _, cmd in rows:
        subprocess.run(cmd, capture_output=True)  # warm caches once
    times: dict[str, list[float]] = {label: [] for label, _ in rows}
    for _ in range(a.runs):  # interleaved, so both see the same machine
        for label, cmd in rows:
            t0 = time.perf_counter()
            subprocess.run(cmd, capture_output=True)
            times[label].append(time.perf_counter() - t0)
    cold: list[float] = []
    for _ in range(a.cold):
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            subprocess.run(rows[0][1], capture_output=True, env={**os.environ, "XDG_CACHE_HOME": d})
            cold.append(time.perf_counter() - t0)
    for label, ts in times.items():
        print(f"{label:40s} median {statistics.median(ts):.3f} s  (min {min(ts):.3f}, max {max(ts):.3f}, n={len(ts)})")
    if cold:
        print(f"{'advisor, empty cache folder':40s} median {statistics.median(cold):.3f} s  (min {min(cold):.3f}, "
              f"max {max(cold):.3f}, n={len(cold)})")
    if llmfit:
        ours, theirs = (statistics.median(times[label]) for label, _ in rows[:2])
        print(f"advisor / llmfit: {ours / theirs:.2f} ({'faster' if ours < theirs else 'slower'})")
    else:
        print("llmfit is not installed: pip install llmfit to compare")


if __name__ == "__main__":
    main()
