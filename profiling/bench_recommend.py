"""End-to-end time of `advisor recommend --ram 4GB --lang sv` in new processes, beside llmfit.

    python -m profiling.bench_recommend [--runs 7]

Each run is a fresh process (imports, catalog, solve, output). llmfit's `recommend` is timed
the same way when it is installed (pip install llmfit).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _time(cmd: list[str], runs: int) -> list[float]:
    subprocess.run(cmd, capture_output=True)  # warm caches once
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True)
        out.append(time.perf_counter() - t0)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=7)
    a = ap.parse_args(argv)
    bindir = Path(sys.executable).parent
    advisor = shutil.which("advisor", path=str(bindir)) or shutil.which("advisor")
    llmfit = shutil.which("llmfit", path=str(bindir)) or shutil.which("llmfit")
    rows = [("advisor recommend --ram 4GB --lang sv", [advisor, "recommend", "--ram", "4GB", "--lang", "sv"])]
    if llmfit:
        rows.append(("llmfit --ram 4G recommend", [llmfit, "--ram", "4G", "recommend"]))
    for label, cmd in rows:
        ts = _time(cmd, a.runs)
        print(f"{label:40s} median {statistics.median(ts):.3f} s  (min {min(ts):.3f}, max {max(ts):.3f}, n={len(ts)})")
    if not llmfit:
        print("llmfit is not installed: pip install llmfit to compare")


if __name__ == "__main__":
    main()
