"""Partial offload (llama.cpp -ngl): a model too large for VRAM but not for VRAM + RAM."""

import json

import pytest

from advisor.estimate import custom_spec, estimate_stack, find_accelerator, accelerator_spec
from advisor.kb import load_catalog
from advisor.offload import layer_bytes, plan


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_plan_keeps_the_last_blocks_and_the_output_layer_on_the_gpu(cat):
    a = cat.model("qwen3-32b").architecture
    blocks, embd, out = layer_bytes(a, "q8_0")
    assert len(blocks) == a.layers and embd > 0 and out > 0
    kv, buf = 2_000_000_000, 300_000_000
    vram, ram = 21.6e9, 40e9
    p = plan(a, "q8_0", kv_bytes=kv, gpu_buffers=buf, host_bytes=50_000_000, vram_budget=vram, ram_budget=ram)
    assert p is not None and 1 < p.gpu_layers < a.layers
    on_gpu = blocks[a.layers - p.blocks_on_gpu:]
    assert p.vram_bytes == int(out + sum(on_gpu) + kv / a.layers * len(on_gpu) + buf)
    assert p.vram_bytes <= vram
    # the largest split that fits: one more block would not
    assert p.vram_bytes + blocks[a.layers - p.blocks_on_gpu - 1] + kv / a.layers > vram
    # the input embedding and the first blocks stay in RAM
    assert p.ram_bytes > embd + sum(blocks[:a.layers - p.blocks_on_gpu])
    assert 0 < p.gpu_share < 1 and p.cpu_weight_bytes == sum(blocks[:a.layers - p.blocks_on_gpu])


def test_tied_embeddings_put_a_copy_of_the_matrix_on_the_output_side(cat):
    a = cat.model("qwen3-4b").architecture  # tie_word_embeddings true
    assert a.tie_embeddings
    blocks, embd, out = layer_bytes(a, "q8_0")
    assert out >= embd  # the output layer's copy of token_embd, plus output_norm


def test_no_split_when_the_rest_does_not_fit_ram(cat):
    a = cat.model("qwen3-32b").architecture
    assert plan(a, "q8_0", kv_bytes=0, gpu_buffers=0, host_bytes=0, vram_budget=8e9, ram_budget=4e9) is None


def _gpu_spec(cat, ram_gb):
    """An RTX 4090 on a host with `ram_gb` of RAM read at 60 GB/s and 1 TFLOP/s (given, not detected)."""
    aid, acc = find_accelerator(cat, "rtx-4090")
    host = custom_spec(ram_gb, None, 60.0, None, tflops=1.0, cat=cat)
    return accelerator_spec(aid, acc, host)


def test_estimate_splits_a_stack_and_its_speed_lies_between_gpu_and_cpu(cat):
    spec = _gpu_spec(cat, 64)
    est = estimate_stack(cat, "qwen3-32b", "q8_0", "llama.cpp", 8192, spec)
    assert est.offload is not None and est.fits() is True
    d = est.as_dict()
    assert d["gpu_layers"] == est.offload.gpu_layers and d["memory_vram_gb"] <= 24 * 0.9
    assert d["memory_required_gb"] == pytest.approx(d["memory_vram_gb"] + d["memory_ram_gb"], abs=0.002)
    cpu = estimate_stack(cat, "qwen3-32b", "q8_0", "llama.cpp", 8192, spec.__class__(**{**spec.__dict__,
                         "backends": ("cpu",)}))
    assert cpu.backend == "cpu"
    assert cpu.speed.decode_tps < est.speed.decode_tps
    assert "-ngl" in " ".join(est.assumptions)
    # a model that fits VRAM whole is not split
    assert estimate_stack(cat, "qwen3-14b", "q4_k_m", "llama.cpp", 8192, spec).offload is None


def test_recommend_names_the_split_and_estimate_agrees(cli):
    r = cli("recommend", "--gpu", "rtx-3060-12gb", "--task", "reasoning", "--context", "8192",
            "--top", "40", "--format", "json")
    assert r.returncode == 0, r.stderr
    recs = json.loads(r.stdout)["recommendations"]
    split = [x for x in recs if x.get("gpu_layers")]
    assert split, [x["model"] for x in recs]
    # split stacks rank after every stack that fits VRAM whole
    assert all(x.get("gpu_layers") for x in recs[len(recs) - len(split):])
    x = split[0]
    assert any("-ngl" in w for w in x["why"])
    est = json.loads(cli("estimate", x["model"], "--quant", x["quantization"].split()[0], "--runtime", x["runtime"],
                         "--gpu", "rtx-3060-12gb", "--context", "8192", "--format", "json").stdout)
    # one rule: the same split and the same requirement in both commands
    assert est["gpu_layers"] == x["gpu_layers"]
    assert est["memory_required_gb"] == pytest.approx(x["memory_required_gb"], abs=0.01)
    assert est["memory_vram_gb"] == pytest.approx(x["memory_vram_gb"], abs=0.01)
    assert est["fits"] is True
