"""advisor/vllm.py against published vLLM start-up logs (knowledge/serving/vllm-runs.yaml): the fitted constants
are what the train runs give, the block rule reproduces the logged KV token counts, and the whole estimate
(architecture and settings only) the logged ones of catalog models it was not fitted on."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.bench_vllm_kv import fit, load, predict  # noqa: E402

from advisor import vllm  # noqa: E402


@pytest.fixture(scope="module")
def data():
    return load()


def test_every_run_names_its_source_and_the_fit_is_the_modules(data):
    for r in data["train"] + data["score"]:
        assert r["source"].startswith("https://"), r
    assert {r.get("checkpoint") for r in data["train"]}.isdisjoint({r.get("checkpoint") for r in data["score"]})
    f = fit(data["train"])
    assert (vllm.ACT_BASE_GIB, vllm.ACT_PER_VOCAB_GIB) == (f["act_base_gib"], f["act_per_vocab_gib"])
    assert vllm.NON_TORCH_GIB == f["non_torch_gib"]


def test_the_block_rule_gives_the_logged_kv_tokens_and_concurrency(cat, data):
    for r in data["score"]:
        est = predict(cat, r, from_logged=True)
        # the logged available memory is rounded to 0.01 GiB; rank 0's is printed, the blocks are the least
        assert est.kv_tokens == pytest.approx(r["kv_tokens"], rel=0.012), r
        if r["max_concurrency"] and r["max_model_len"]:
            assert est.max_concurrency == pytest.approx(r["max_concurrency"], rel=0.012), r


def test_the_estimate_from_the_architecture_is_within_five_percent(cat, data):
    scored = [r for r in data["score"] if r.get("util") and r.get("total_gib")]
    assert len({(r["model"], r["tp"], r["pp"]) for r in scored}) >= 8
    for r in scored:
        est = predict(cat, r)
        assert est.kv_tokens == pytest.approx(r["kv_tokens"], rel=0.05), r
        assert est.ranks[0].weights_gib == pytest.approx(r["weights_gib"], rel=0.08), r


def test_layouts_vllm_refuses_and_replicated_kv_heads(cat):
    big = cat.model("qwen3-235b-a22b").architecture  # 64 attention heads, 4 KV heads
    assert vllm.valid_tp(big, 8) is None and vllm.valid_tp(big, 4) is None
    assert "do not divide" in vllm.valid_tp(big, 3)
    est = vllm.for_model(cat.model("qwen3-235b-a22b"), vllm.cuda_total_gib(80), tp=8, max_model_len=32768)
    assert est.notes and "replicated" in est.notes[0]
    # with one KV head per rank at TP 4 and TP 8 alike, a token costs the same on each rank
    tp4 = vllm.for_model(cat.model("qwen3-235b-a22b"), vllm.cuda_total_gib(141), tp=4, max_model_len=32768)
    assert tp4.kv_bytes_per_token == est.kv_bytes_per_token


@pytest.mark.parametrize("model,gpu_gb,tp,fits", [
    ("qwen3-32b", 80, 1, False),       # H100 / A100 80GB: 61 GiB of BF16 weights leave 31K tokens at 0.9
    ("qwen3-32b", 80, 2, True),
    ("qwen3-32b", 141, 1, True),       # H200
    ("phi-4", 80, 1, True),
    ("gemma-3-27b-it", 80, 1, True),
    ("qwen3-235b-a22b", 80, 4, False),  # 438 GiB of BF16 weights over 4 x 80 GB: no room
    ("qwen3-235b-a22b", 80, 8, True),
    ("qwen3-235b-a22b", 141, 4, True),  # 4 x H200
])
def test_worked_examples_fit_where_the_weights_leave_room(cat, model, gpu_gb, tp, fits):
    est = vllm.for_model(cat.model(model), vllm.cuda_total_gib(gpu_gb), tp=tp, max_model_len=32768)
    assert est.fits_one_request is fits, (model, gpu_gb, tp, est.kv_tokens)
    if fits:
        # the concurrency vLLM would log is the blocks over one request's blocks
        assert est.max_concurrency == pytest.approx(est.num_blocks / est.blocks_per_request, abs=0.01)
        assert est.max_concurrency >= 1
    else:
        assert est.max_concurrency < 1  # vLLM refuses to start: one request at max_model_len does not fit


def test_capacity_command_lists_each_tp_and_refuses_bad_input(cli):
    import json

    r = cli("capacity", "qwen3-32b", "--gpu", "h100-sxm", "--context", "32K", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = {x["tp"]: x for x in json.loads(r.stdout)["layouts"]}
    assert sorted(rows) == [1, 2, 4, 8]
    assert rows[1]["starts"] is False and rows[2]["starts"] is True
    assert rows[2]["kv_tokens"] < rows[4]["kv_tokens"] < rows[8]["kv_tokens"]
    text = cli("capacity", "qwen3-32b", "--gpu", "h100-sxm", "--context", "32K").stdout
    assert "does not start" in text and "Maximum concurrency for 32768 tokens per request" in text
    for args, field in ((["--gpus", "x"], "--gpus"), (["--kv-cache-dtype", "int3"], "--kv-cache-dtype"),
                        (["--context", "lots"], "--context")):
        r = cli("capacity", "qwen3-8b", "--gpu", "h100-sxm", *args)
        assert r.returncode == 2 and field in r.stderr and "Traceback" not in r.stderr
    r = cli("capacity", "phi-silica", "--gpu", "h100-sxm")
    assert r.returncode == 2 and "MODEL" in r.stderr


def test_concurrent_users_give_replicas_and_the_fewest_gpus(cli):
    import json
    import math

    r = cli("capacity", "qwen3-32b", "--gpu", "h100-sxm", "--context", "32K", "--concurrent-users", "64",
            "--format", "json")
    assert r.returncode == 0, r.stderr
    rec = json.loads(r.stdout)
    for x in rec["layouts"]:
        if x["refused"] is None and x["starts"]:
            assert x["replicas"] == math.ceil(64 / x["max_concurrency"]) and x["total_gpus"] == x["replicas"] * x["tp"]
        elif x["refused"] is None:
            assert x["replicas"] is None  # one request does not fit: no number of replicas serves it
    best = rec["fewest_gpus"]
    assert best["total_gpus"] == min(x["total_gpus"] for x in rec["layouts"] if x.get("total_gpus"))
    r = cli("capacity", "qwen3-32b", "--gpu", "h100-sxm", "--concurrent-users", "0")
    assert r.returncode == 2 and "--concurrent-users" in r.stderr
