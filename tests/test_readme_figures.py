"""The README's accuracy figures are what their commands print now.

Each figure in the README names the command that prints it; `bench_gpu`, `bench_llama_batched` and
`bench_calibration` run in seconds, so the check recomputes their summaries from the shipped runs and looks for
them, formatted as the README quotes them, as it does for the `advisor estimate` GPU figures the README quotes
(the CPU replay table is checked in tests/test_bench_replay.py). A change to the speed model or to the runs
that moves a figure fails here until the README says the new one.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module")
def gpu_rows(tmp_path_factory):
    from benchmarks import bench_gpu

    out = tmp_path_factory.mktemp("gpu") / "gpu.json"
    bench_gpu.main(["--json", str(out)])
    return json.loads(out.read_text())


def _summary(errs, bound):
    errs = [abs(e) for e in errs]
    return f"{len(errs)}, {statistics.median(errs):.0%}, {sum(e <= bound for e in errs)}"


def test_gpu_error_table_all_row(gpu_rows):
    """`python -m benchmarks.bench_gpu`: the README table's "all" row (decode at depth 0 and at depth, prefill)."""
    e = lambda r, a, b: r[a] / r[b] - 1  # noqa: E731
    rows = [r for r in gpu_rows if not r["go_engine"]]  # Ollama's former Go engine is listed apart
    d0 = [e(r, "decode_pred", "decode_published") for r in rows if not r["depth"]]
    deep = [e(r, "decode_pred", "decode_published") for r in rows if r["depth"]]
    pre = [e(r, "prefill_pred", "prefill_published") for r in rows if r["prefill_pred"] and r["prefill_published"]]
    row = f"| all | {_summary(d0, 0.25)} | {_summary(deep, 0.25)} | {_summary(pre, 0.35)} |"
    assert row in README, row


def test_gpu_second_split_rows(gpu_rows):
    """`python -m benchmarks.bench_gpu`: the second split (the estimator as shipped, device held out), its "all" and
    discrete-CUDA rows, the gfx906 median and every RTX 4090 row's shipped prediction."""
    e = lambda r: r["decode_pred_shipped"] / r["decode_published"] - 1  # noqa: E731
    pe = lambda r: (r["prefill_pred_shipped"] / r["prefill_published"] - 1  # noqa: E731
                    if r["prefill_pred_shipped"] and r["prefill_published"] else None)
    rows = [r for r in gpu_rows if not r["go_engine"]]
    d0 = [e(r) for r in rows if not r["depth"]]
    deep = [e(r) for r in rows if r["depth"]]
    pre = [x for r in rows if (x := pe(r)) is not None]
    assert f"| all | {_summary(d0, 0.25)} | {_summary(deep, 0.25)} | {_summary(pre, 0.35)} |" in README
    cuda = [r for r in rows if r["class"] == "CUDA (discrete)"]
    cuda_row = (f"| CUDA, discrete | {_summary([e(r) for r in cuda if not r['depth']], 0.25)} | - | "
                f"{_summary([x for r in cuda if (x := pe(r)) is not None], 0.35)} |")
    assert cuda_row in README, cuda_row
    rocm = [abs(e(r)) for r in rows if r["class"] == "ROCM (discrete)" and not r["depth"]]
    assert f"miss by {statistics.median(rocm):.0%} median" in _flat(README)
    for r in rows:
        if "RTX 4090" in r["hardware"]:
            cell = f"| {r['decode_pred_shipped']:.1f} ({e(r):+.0%}) |"
            assert cell in README, (r["id"], cell)
    by_id = {r["id"]: r for r in rows}
    small = [e(by_id[f"llama-3.2-{n}b-instruct-q4_k_m-rtx-4080"]) for n in (1, 3)]
    phi = e(by_id["phi-4-mini-instruct-q4_k_m-rtx-4090-ollama"])
    assert f"puts those two at {small[0]:+.0%} and {small[1]:+.0%} and Phi-4-mini at {phi:+.0%}" in _flat(README)
    four = [e(by_id[i]) for i in ("qwen2.5-coder-32b-instruct-q4_k_m-rtx-4090-ollama", "qwen3-30b-a3b-q4_0-rtx-4090",
                                   "qwen2.5-14b-instruct-q4_k_m-rtx-4090-vulkan", "phi-4-mini-instruct-q4_k_m-rtx-4090-ollama")]
    assert all(abs(x) <= 0.25 for x in four)
    assert "all four are within 25% (" + ", ".join(f"{x:+.0%}" for x in four) + ")" in _flat(README)


def test_gpu_range_coverage(gpu_rows):
    """`python -m benchmarks.bench_gpu`: how many published runs fall inside the decode range the commands print."""
    rows = [r for r in gpu_rows if not r["go_engine"]]
    inside = sum(r["decode_range"][0] <= r["decode_published"] <= r["decode_range"][1] for r in rows)
    assert 0 < inside <= len(rows)
    assert f"holds the published figure for {inside} of {len(rows)} runs" in _flat(README)


def test_gpu_rtx_4090_table(gpu_rows):
    """Every RTX 4090 row the benchmark prints (Ollama's former Go engine included) is in the README's 4090
    tables with its predicted and published decode and its error."""
    rows = [r for r in gpu_rows if "RTX 4090" in r["hardware"]]
    assert len(rows) >= 5
    for r in rows:
        cells = (f"| {r['decode_pred']:.1f} | {r['decode_published']:.1f} | "
                 f"{r['decode_pred'] / r['decode_published'] - 1:+.0%}")
        assert cells in README, (r["id"], cells)


def test_batched_score_figures():
    """`python -m benchmarks.bench_llama_batched`: the score rows' absolute and growth summaries."""
    from benchmarks import bench_llama_batched as bench

    s = bench.score()
    flat = _flat(README)
    a, g = s["absolute"], s["ratio"]
    want = (f"score absolute S_TG, {a['n']} rows, median |error| {a['median']:.1%}, max {a['max']:.1%}, "
            f"{a['within_25']} of {a['n']} within 25%; the growth S_TG(B)/S_TG(1), median {g['median']:.1%}, "
            f"max {g['max']:.1%}, {g['within_25']} of {g['n']} within 25%")
    assert want in flat, want


ESTIMATES = [  # commands the README quotes with the decode tokens/s they print (GPU plans: no host measurement)
    "qwen2.5-32b-instruct --quant Q4_K_M --gpu rtx-4090 --context 2048",
    "qwen2.5-14b-instruct --quant Q4_K_M --gpu rtx-4090 --context 512",
    "phi-4-mini-instruct --quant Q4_K_M --gpu rtx-4090 --context 8192 --prompt-tokens 75",
    "qwen3-32b --quant Q8_0 --gpu rtx-4090 --gpus 2",
]


@pytest.mark.parametrize("args", ESTIMATES)
def test_quoted_gpu_estimates(args):
    """Each `advisor estimate` the README quotes for a GPU is followed, within its sentence, by the decode
    tokens/s the command prints now."""
    from click.testing import CliRunner

    from advisor.cli import main

    res = CliRunner().invoke(main, ["estimate", *args.split(), "--format", "json"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    decode = f"{json.loads(res.output)['decode_tps']:.1f}"
    flat = _flat(README)
    at = flat.find(f"advisor estimate {args}`")
    assert at >= 0, args
    assert decode in flat[at:at + len(args) + 140], (args, decode, flat[at:at + len(args) + 140])


def _calibration_sections() -> dict[tuple[str, str], str]:
    """`python -m benchmarks.bench_calibration`'s summaries: (machine header, section title) -> summary line."""
    import contextlib
    import io

    from benchmarks import bench_calibration

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        bench_calibration.main([])
    out, machine, section = {}, "", ""
    for line in buf.getvalue().splitlines():
        if line.startswith("=== "):
            machine = line[4:]
        elif line and not line.startswith(" "):
            section = line
        elif line.strip().startswith(("largest error", "median error per choice")):
            out[(machine, section)] = line.strip()
    return out


ZEN4 = "2-vCPU AMD EPYC KVM VM (Zen 4, cpuid family 25 model 17 stepping 1; AVX-512 with VNNI and BF16)"
AVX2_BUILD, AVX_BUILD = ZEN4 + ", llama.cpp built for AVX2 only", ZEN4 + ", llama.cpp built for AVX only"
ONE_THREAD_AGAIN = "this machine (AMD EPYC, 2 threads, 23.5 GB RAM), llama.cpp on 1 of its 2 threads"

CALIBRATION_ROWS = [  # README row label -> (machine header starts with, section title starts with)
    ("Zen 4 VM (40 runs), no run of its own", "this machine (AMD EPYC, 2 threads, 23.5 GB RAM) (40", "no calibration"),
    ("Zen 4 VM, one calibration run (qwen3-0.6b Q4_K_M, 4K)", "this machine (AMD EPYC, 2 threads, 23.5 GB RAM) (40",
     "one calibration run"),
    ("Zen 4 VM, every run as the calibration run: median per choice", "this machine (AMD EPYC, 2 threads, 23.5 GB RAM) (40",
     "every run"),
    ("Zen 4 VM, 1 thread, every run as the calibration run", "this machine with 1 thread", "every run"),
    ("Zen 4 VM, 1 thread measured again, no run of its own", ONE_THREAD_AGAIN, "no calibration"),
    ("Zen 4 VM, 1 thread measured again, every run as the calibration run", ONE_THREAD_AGAIN, "every run"),
    ("Zen 4 VM, interleaved rounds, every run as the calibration run", "this machine (AMD EPYC, 2 threads, 23.5 GB RAM), "
     "interleaved", "every run"),
    ("Zen 4 VM, AVX2 build, no 2-thread Zen 4 run in the prior", AVX2_BUILD, "no calibration"),
    ("Zen 4 VM, AVX2 build, one calibration run (qwen3-0.6b Q4_K_M, 2K)", AVX2_BUILD,
     "one calibration run"),
    ("Zen 4 VM, AVX2 build, every run as the calibration run", AVX2_BUILD, "every run"),
    ("Zen 4 VM, AVX build, no 2-thread Zen 4 run in the prior", AVX_BUILD, "no calibration"),
    ("Zen 4 VM, AVX build, one calibration run (qwen3-0.6b Q4_K_M, 2K)", AVX_BUILD, "one calibration run"),
    ("Zen 4 VM, AVX build, every run as the calibration run", AVX_BUILD, "every run"),
    ("Zen 3 VM, no run of its own", "2-vCPU AMD EPYC KVM VM (Zen 3", "no calibration"),
    ("Zen 3 VM, every run as the calibration run", "2-vCPU AMD EPYC KVM VM (Zen 3", "every run"),
    ("Zen 5 VM, no run of its own", "2-vCPU AMD EPYC KVM VM (Zen 5", "no calibration"),
    ("Zen 5 VM, every run as the calibration run", "2-vCPU AMD EPYC KVM VM (Zen 5", "every run"),
    ("Intel Xeon VM, no run of its own", "this machine (Intel", "no calibration"),
    ("Intel Xeon VM, one calibration run (qwen3-0.6b Q4_K_M, 2K)", "this machine (Intel", "one calibration run"),
    ("Intel Xeon VM, every run as the calibration run", "this machine (Intel", "every run"),
    ("Raspberry Pi 5 (published runs), leave one model out", "Raspberry Pi 5", "leave one model out"),
    ("Raspberry Pi 5, no run of its own (no Cortex-A76 run in the prior)", "Raspberry Pi 5", "no calibration"),
    ("Raspberry Pi 5, no run of its own, the Compute Module 5's run in the prior", "Raspberry Pi 5",
     "no run of its own, the same CPU"),
    ("Raspberry Pi 5, every run as the calibration run", "Raspberry Pi 5", "every run"),
]


def test_calibration_table():
    """The README's leave-one-out table is what `python -m benchmarks.bench_calibration` prints now."""
    import re

    sections = _calibration_sections()
    for label, machine, section in CALIBRATION_ROWS:
        line = next(v for (m, s), v in sections.items() if m.startswith(machine) and s.startswith(section))
        if line.startswith("largest"):
            g = re.match(r"largest error (\d+%), median (\d+%), within 10%: (\d+ of \d+)", line)
            cells = f"| {label} | {g[1]} | {g[2]} | {g[3]} |"
        else:
            g = re.match(r"median error per choice: median (\d+%), best \d+%, worst (\d+%); "
                         r"choices with a median within 10%: (\d+ of \d+)", line)
            cells = f"| {label} | {g[2]} (worst choice) | {g[1]} | {g[3]} choices |"
        assert cells in README, (cells, line)
