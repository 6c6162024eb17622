"""Several GPUs in one machine (--gpus N, or a hardware profile with GPUs): memory adds up for every runtime that
spreads a model over them; speed is one GPU's under a layer split (llama.cpp, Ollama, Transformers: a token
passes through the GPUs in turn) and all of them under tensor parallelism (vLLM, whose figures come from the
serving roofline fitted on published vLLM runs, advisor.serving); a one-GPU runtime gets one GPU."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from advisor.cli import main
from advisor.estimate import from_profile


def _rec(*args):
    r = CliRunner().invoke(main, ["recommend", "--format", "json", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def _est(*args):
    r = CliRunner().invoke(main, ["estimate", "--format", "json", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_each_runtime_sees_the_gpus_as_it_spreads_a_model(cat):
    dgx = from_profile("dgx-h100-8x", cat.hw("dgx-h100-8x"))
    assert dgx.gpus == 8 and dgx.interconnect == "nvlink"
    tensor = dgx.for_runtime(cat.runtimes["vllm"].multi_gpu)
    layer = dgx.for_runtime(cat.runtimes["llama.cpp"].multi_gpu)
    one = dgx.for_runtime(cat.runtimes["onnxruntime-genai"].multi_gpu)
    assert tensor.bandwidth_gbps == 26800 and tensor.memory_gb == 640
    assert layer.bandwidth_gbps == pytest.approx(3350) and layer.memory_gb == 640
    assert one.bandwidth_gbps == pytest.approx(3350) and one.memory_gb == pytest.approx(80) and one.gpus == 1
    assert "in turn" in layer.bandwidth_source
    # every runtime that spreads a model names how, with a source
    for rid in ("llama.cpp", "ollama", "vllm", "transformers"):
        rt = cat.runtimes[rid]
        assert rt.multi_gpu and rt.provenance["multi_gpu"] in rt.sources


def test_a_layer_split_holds_more_but_decodes_at_one_gpus_speed(cat):
    """qwen3-32b Q8_0 (about 37 GB) does not fit one 24 GB RTX 4090 whole but fits two; on two it decodes at
    the speed one 4090 would give it (llama.cpp's layer split runs the GPUs in turn)."""
    two = _rec("--gpu", "rtx-4090", "--gpus", "2", "--runtime", "llama.cpp", "--top", "10")
    pick = {(c["model"], c["quantization"]): c for c in two["recommendations"]}
    c = pick.get(("qwen3-32b", "q8_0"))
    assert c is not None, [k for k in pick]
    assert c.get("gpu_layers") in (None, c.get("layers"))  # no partial offload
    one = _est("qwen3-32b", "--quant", "Q8_0", "--gpu", "rtx-4090")
    assert one["gpu_layers"] < one["layers"]  # one card: a partial offload, at the CPU's pace
    whole = _est("qwen3-32b", "--quant", "Q8_0", "--gpu", "rtx-4090", "--gpus", "2")
    assert "gpu_layers" not in whole and whole["memory_budget_gb"] == 48
    assert whole["decode_tps"] == pytest.approx(c["decode_tps"], rel=0.01)
    # the same model fully on one GPU's bandwidth: a 48 GB card at the 4090's speed
    ref = _est("qwen3-32b", "--quant", "Q8_0", "--vram", "48GB", "--bandwidth", "1008", "--tflops", "330.3")
    assert whole["decode_tps"] == pytest.approx(ref["decode_tps"], rel=0.02)


def _pick(rep, model, quant):
    return next(c for c in rep["recommendations"] if (c["model"], c["quantization"]) == (model, quant))


def test_vllm_deploys_the_fewest_gpus_that_meet_the_target(cat):
    """vLLM on several GPUs: the layout `advisor plan` deploys (advisor.serving.plan_layouts), with its speed from
    the serving roofline fitted on published vLLM runs. One user and no target: one GPU holds qwen3-32b FP8, so
    TP 1 at the single-GPU speed; a target one GPU cannot meet: tensor parallelism over four."""
    one = _est("qwen3-32b", "--quant", "FP8", "--runtime", "vllm", "--gpu", "h100-sxm")
    assert any("TP 1, 1 user" in a for a in one["assumptions"])
    free = _rec("--gpu", "h100-sxm", "--gpus", "4", "--runtime", "vllm", "--top", "10")
    c = _pick(free, "qwen3-32b", "fp8")
    assert c["serving"]["tp"] == 1 and c["decode_tps"] == pytest.approx(one["decode_tps"], rel=0.01)
    fast = _rec("--gpu", "h100-sxm", "--gpus", "4", "--runtime", "vllm", "--top", "10", "--target-tps", "140")
    c4 = _pick(fast, "qwen3-32b", "fp8")
    assert c4["serving"]["tp"] == 4 and c4["decode_tps"] >= 140
    assert 2.0 < c4["decode_tps"] / one["decode_tps"] < 4.0  # less than 4x: all-reduces and per-step overhead
    # the same figure as the plan's capacity table for that layout
    from advisor.serving import gpu_of, plan_layouts

    lay = plan_layouts(cat.model("qwen3-32b"), gpu_of("h100-sxm", cat.accelerator("h100-sxm")), users=1,
                       prompt_tokens=512, output_tokens=256, target_tps=140, gpus_per_node=4, max_gpus=4,
                       max_model_len=8192, bits=8)
    assert lay["chosen"]["tp"] == 4 and lay["chosen"]["per_user_tok_s"] == pytest.approx(c4["decode_tps"], rel=0.01)
    busy = _rec("--gpu", "h100-sxm", "--gpus", "4", "--runtime", "vllm", "--top", "10", "--concurrent-users", "32")
    c32 = _pick(busy, "qwen3-32b", "fp8")
    assert c32["serving"]["users"] == 32
    assert c32["decode_tps"] < c32["serving"]["single_stream_tok_s"] < c32["serving"]["aggregate_tok_s"]


def test_several_nodes_take_pipeline_stages_only_for_vllm(cat):
    """Two 4 x A100 nodes: qwen3-235b-a22b in BF16 (about 470 GB of weights) fits neither node alone; vLLM holds it
    across both, TP 4 x PP 2, at one node's speed per stage; llama.cpp stays on one node."""
    two = _est("qwen3-235b-a22b", "--quant", "BF16", "--runtime", "vllm", "--gpu", "a100-80gb", "--gpus", "4",
               "--nodes", "2")
    assert two["memory_budget_gb"] == pytest.approx(640)
    assert any("TP 4" in a and "x PP 2" in a for a in two["assumptions"]), two["assumptions"]
    one = _est("qwen3-235b-a22b", "--quant", "BF16", "--runtime", "vllm", "--gpu", "a100-80gb", "--gpus", "4")
    assert one["fits"] is False
    lc = _rec("--gpu", "a100-80gb", "--gpus", "4", "--nodes", "2", "--runtime", "llama.cpp", "--top", "10")
    assert lc["recommendations"] and all(x["memory_budget_gb"] == pytest.approx(320) for x in lc["recommendations"])


def test_a_dgx_serving_many_users_is_planned_on_vllm(cat):
    rep = _rec("--hardware", "dgx-h100-8x", "--concurrent-users", "64", "--target-tps", "20", "--top", "3")
    assert rep["recommendations"][0]["runtime"] == "vllm"
    # --max-gpus 4: half the DGX; BF16 qwen3-235b-a22b (470 GB of weights) no longer fits, every layout uses <= 4
    half = _rec("--hardware", "dgx-h100-8x", "--concurrent-users", "64", "--target-tps", "20", "--top", "5",
                "--runtime", "vllm", "--max-gpus", "4")
    for c in half["recommendations"]:
        s = c["serving"]
        assert s["tp"] * s["pp"] * s["replicas"] <= 4 and c["memory_budget_gb"] == pytest.approx(320)
        assert c["memory_required_gb"] <= 320 * 0.9 and c["decode_tps"] >= 20
    assert rep["recommendations"][0]["serving"]["tp"] * rep["recommendations"][0]["serving"]["replicas"] <= 8


@pytest.mark.parametrize("args,flag", [
    (["--gpu", "h100-sxm", "--gpus", "0"], "--gpus"),
    (["--gpu", "h100-sxm", "--gpus", "two"], "--gpus"),
    (["--hardware", "dgx-h100-8x", "--gpus", "2"], "--gpus"),
    (["--ram", "16GB", "--gpus", "2"], "--gpus"),
    (["--gpu", "h100-sxm", "--gpus", "2", "--interconnect", "infiniband"], "--interconnect"),
    (["--ram", "16GB", "--nodes", "2"], "--nodes"),
    (["--gpu", "h100-sxm", "--nodes", "0"], "--nodes"),
    (["--gpu", "h100-sxm", "--gpus", "8", "--max-gpus", "none"], "--max-gpus"),
])
def test_bad_gpu_counts_are_refused_with_the_flag_named(args, flag):
    r = CliRunner().invoke(main, ["recommend", *args])
    assert r.exit_code == 2, r.output
    assert flag in r.output and "Traceback" not in r.output
