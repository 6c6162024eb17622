"""`python -m benchmarks.bench_estimates --replay knowledge/profiles/measured` prints the same table on any
machine: each stored run is predicted with its own machine (bandwidth, FLOP/s, threads, SIMD, fingerprint)."""

import os
import subprocess
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FAKE = textwrap.dedent("""
    import os, sys
    import advisor.hardware as h
    real = h.detect
    def detect(measure=True, refresh=False):
        d = real(measure=False)
        d.cores_logical, d.cores_physical, d.simd = 64, 32, ["avx2", "avx512f", "avx512_vnni"]
        d.cpu_model, d.bandwidth_gbps, d.cpu_tflops = "Some Other CPU", 400.0, 5.0
        d.bandwidth_source = d.cpu_tflops_source = "fake"
        return d
    h.detect = detect
    os.cpu_count = lambda: 64
    from benchmarks.bench_estimates import main
    main(sys.argv[1:])
""")


def _run(fake: bool) -> list[str]:
    args = ["--replay", "knowledge/profiles/measured", "--contexts", "512", "2048", "4096", "16384"]
    cmd = [sys.executable, "-c", FAKE, *args] if fake else [sys.executable, "-m", "benchmarks.bench_estimates", *args]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": ROOT})
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [x for x in r.stdout.splitlines() if not x.startswith("machine:")]
    assert any("decode before calibration" in x for x in lines), r.stdout[-2000:]
    return lines


def test_replay_is_the_same_on_another_machine():
    here, there = _run(False), _run(True)
    assert here == there
    assert sum(" ctx " in x and "decode" in x for x in here) >= 40  # every shipped run of the four models
