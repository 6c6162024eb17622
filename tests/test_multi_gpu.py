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
    ref = _est("qwen3-32b", "--quant", "Q8_0", "--vram", "48GB", "--bandwidth", "1008", "--tflops", "165.2")
    assert whole["decode_tps"] == pytest.approx(ref["decode_tps"], rel=0.02)


def test_vllm_uses_tensor_parallelism_and_its_serving_roofline(cat):
    four = _est("qwen3-32b", "--quant", "FP8", "--runtime", "vllm", "--gpu", "h100-sxm", "--gpus", "4")
    one = _est("qwen3-32b", "--quant", "FP8", "--runtime", "vllm", "--gpu", "h100-sxm")
    assert any("TP 4, nvlink" in a for a in four["assumptions"])
    assert any("TP 1, 1 user" in a for a in one["assumptions"])
    assert 2.0 < four["decode_tps"] / one["decode_tps"] < 4.0  # less than 4x: all-reduces and per-step overhead
    # the same figure in recommend (one speed rule), with users the per-user speed of the batch
    rec = _rec("--gpu", "h100-sxm", "--gpus", "4", "--runtime", "vllm", "--top", "10")
    c = next(c for c in rec["recommendations"] if (c["model"], c["quantization"]) == ("qwen3-32b", "fp8"))
    assert c["decode_tps"] == pytest.approx(four["decode_tps"], rel=0.01)
    busy = _rec("--gpu", "h100-sxm", "--gpus", "4", "--runtime", "vllm", "--top", "10", "--concurrent-users", "32")
    c32 = next(c for c in busy["recommendations"] if (c["model"], c["quantization"]) == ("qwen3-32b", "fp8"))
    assert c32["serving"]["users"] == 32 and c32["serving"]["tp"] == 4
    assert c32["decode_tps"] < c["decode_tps"] < c32["serving"]["aggregate_tok_s"]


def test_a_dgx_serving_many_users_is_planned_on_vllm(cat):
    rep = _rec("--hardware", "dgx-h100-8x", "--concurrent-users", "64", "--target-tps", "20", "--top", "3")
    assert rep["recommendations"][0]["runtime"] == "vllm"
    assert rep["recommendations"][0]["serving"]["tp"] == 8


@pytest.mark.parametrize("args,flag", [
    (["--gpu", "h100-sxm", "--gpus", "0"], "--gpus"),
    (["--gpu", "h100-sxm", "--gpus", "two"], "--gpus"),
    (["--hardware", "dgx-h100-8x", "--gpus", "2"], "--gpus"),
    (["--ram", "16GB", "--gpus", "2"], "--gpus"),
    (["--gpu", "h100-sxm", "--gpus", "2", "--interconnect", "infiniband"], "--interconnect"),
])
def test_bad_gpu_counts_are_refused_with_the_flag_named(args, flag):
    r = CliRunner().invoke(main, ["recommend", *args])
    assert r.exit_code == 2, r.output
    assert flag in r.output and "Traceback" not in r.output
