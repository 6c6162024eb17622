"""The README's GPU and batched accuracy figures are what their commands print now.

Each figure in the README names the command that prints it; these two benchmarks run in under a second, so
the check recomputes their summaries from the shipped published runs and looks for them, formatted as the
README quotes them. A change to the speed model or to the runs that moves a figure fails here until the
README says the new one.
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
