"""`python -m benchmarks.bench_estimates --replay knowledge/profiles/measured` prints the same table on any
machine: each stored run is predicted with its own machine (bandwidth, FLOP/s, threads, SIMD, fingerprint)."""

import os
import re
import subprocess
import sys
import textwrap
from functools import lru_cache

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


@lru_cache(maxsize=2)
def _run(fake: bool) -> tuple[str, ...]:
    args = ["--replay", "knowledge/profiles/measured", "--contexts", "512", "2048", "4096", "16384"]
    cmd = [sys.executable, "-c", FAKE, *args] if fake else [sys.executable, "-m", "benchmarks.bench_estimates", *args]
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={**os.environ, "PYTHONPATH": ROOT})
    assert r.returncode == 0, r.stderr[-3000:]
    lines = [x for x in r.stdout.splitlines() if not x.startswith("machine:")]
    assert any("decode before calibration" in x for x in lines), r.stdout[-2000:]
    return tuple(lines)


def test_replay_is_the_same_on_another_machine():
    here, there = _run(False), _run(True)
    assert here == there
    assert sum(" ctx " in x and "decode" in x for x in here) >= 40  # every shipped run of the four models


def test_readme_quotes_the_replay():
    """The README's CPU accuracy figures are what the replay prints now (the per-machine table, memory at a
    full context, prefill and one-calibration-run figures): a change to the estimator or to the stored runs
    that moves one fails here until the README says the new figure."""
    readme = " ".join(open(os.path.join(ROOT, "README.md")).read().split())
    out = "\n".join(_run(False))
    num = r"([-+]?[0-9.]+%)"
    mem = re.search(rf"memory at a full context \((\d+) runs\), prediction over measured peak: min {num}, max {num}", out)
    assert mem and f"{mem[1]} filled runs, prediction over the measured peak RSS: {mem[2].lstrip('+')} to {mem[3]}" in readme
    pre = re.search(rf"prefill before calibration: median {num}, largest {num}", out)
    assert pre and f"Prefill before calibration: median {pre[1]} (largest {pre[2]})" in readme
    cal = re.search(rf"median over choices of the calibration run: {num} \(best {num}, worst {num}; (\d+) of (\d+)", out)
    assert cal and (f"median over the {cal[5]} choices {cal[1]} (best {cal[2]}, worst {cal[3]}; {cal[4]} of {cal[5]} "
                    "choices within 10%)") in readme
    dec = re.search(rf"decode before calibration \((\d+) runs\): median {num}, largest {num}, within 10% (\d+), "
                    r"within 25% (\d+)", out)
    assert dec and f"| all | {dec[1]} | {dec[2]} | {dec[3]} | {dec[4]} | {dec[5]} | {pre[1]} | {pre[2]} |" in readme
    labels = {"1 of its 2 threads": "| Zen 4 VM, 1 thread, measured again",  # before "AMD EPYC, 2 threads"
              "Zen 3": "| Zen 3 VM, AVX2", "Zen 5": "| Zen 5 VM (the same eight", "Intel": "| Intel Xeon VM",
              "AMD EPYC, 2 threads": "| Zen 4 VM, AVX-512, 2 threads", "with 1 thread": "| Zen 4 VM, 1 thread (the same eight at 4K",
              "; avx2build": "| Zen 4 VM, llama.cpp built for AVX2 only",
              "; avxbuild": "| Zen 4 VM, llama.cpp built for AVX only"}
    per = re.findall(rf"^ +(.*): decode median {num}, largest {num}, within 10% (\d+), within 25% (\d+) of (\d+); "
                     rf"prefill median {num}, largest {num}", out, re.M)
    assert len(per) == len(labels)
    for name, med, big, w10, w25, n, pmed, pbig in per:
        label = next(v for k, v in labels.items() if k in name)
        row = re.search(re.escape(label) + r"[^|]*\| (\d+) \| ([0-9.]+%) \| ([0-9.]+%) \| (\d+) \| (\d+) \| "
                        r"([0-9.]+%) \| ([0-9.]+%) \|", readme)
        assert row and row.groups() == (n, med, big, w10, w25, pmed, pbig), (name, row and row.groups())


def test_one_calibration_run_stays_within_its_configuration():
    """A restricted build's or one thread's runs are another machine (their own fingerprint): the one-calibration-
    run check takes each configuration apart, so a native run never stands as a restricted build's calibration."""
    out = _run(False)
    groups: dict[str, set[int]] = {}
    for line in out:
        m = re.match(r"^ +(\S+)\s+calibrated on .* within 10% \d+ of (\d+)$", line)
        if m:
            groups.setdefault(m[1], set()).add(int(m[2]))
    assert groups["1242bb1fe8c02c70-avx2build|2"] == {7}  # its eight runs: one calibrates, seven are predicted
    assert groups["1242bb1fe8c02c70-avxbuild|2"] == {7}
    assert groups["1242bb1fe8c02c70-threads1|1"] == {7}
    assert groups["a2ad39da54606d6e-threads1|1"] == {7}  # measured again by `bench_estimates --threads 1`
    assert groups["1242bb1fe8c02c70|2"] == {23}  # the native build's 24 runs at 512/2K/4K/16K, no build's run
    # and each configuration's own summary, which the README quotes for the AVX build
    per = {m[1]: m[2] for line in out if (m := re.match(r"^ +(\S+)\s+median over its \d+ choices: ([0-9.]+%) "
                                                        r"\(best [0-9.]+%, worst [0-9.]+%; \d+ of \d+", line))}
    assert set(per) == set(groups)
    readme = " ".join(open(os.path.join(ROOT, "README.md")).read().split())
    line = next(x for x in out if x.strip().startswith("1242bb1fe8c02c70-avxbuild|2") and "median over its" in x)
    m = re.search(r"median over its 8 choices: ([0-9.]+%) \(best ([0-9.]+%), worst ([0-9.]+%); (\d+) of 8", line)
    assert f"the median error is {m[1]} (best {m[2]}, worst {m[3]}; {m[4]} of 8 choices within 10%" in readme
