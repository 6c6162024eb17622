"""Memory estimate parts: each derived from the architecture and the runtime's allocation rules."""

import pytest

from advisor.errors import InputError
from advisor.kb import load_catalog
from advisor.memory import MiB, Target, estimate_memory, kv_layers

X86 = Target(cpu_arch="x86_64", simd=("avx2", "avx512f"), backend="cpu")
ARM = Target(cpu_arch="arm64", simd=("neon", "dotprod"), backend="cpu")
GPU = Target(cpu_arch="x86_64", simd=("avx2",), backend="cuda")


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_kv_cache_is_layers_x_kv_heads_x_head_dim_x_2_x_context(cat):
    m = cat.model("qwen3-8b")
    a = m.architecture
    est = estimate_memory(m, "q4_k_m", "llama.cpp", 8192, target=X86)
    assert est.kv_cache == a.layers * a.kv_heads * a.head_dim * 2 * 8192 * 2
    q8 = estimate_memory(m, "q4_k_m", "llama.cpp", 8192, target=X86, kv="q8_0")
    assert q8.kv_cache == a.layers * (a.kv_heads * a.head_dim // 32 * 34) * 2 * 8192
    q4 = estimate_memory(m, "q4_k_m", "llama.cpp", 8192, target=X86, kv="q4_0")
    assert q4.kv_cache < q8.kv_cache < est.kv_cache


def test_context_is_padded_to_256_cells(cat):
    m = cat.model("qwen3-0.6b")
    a = estimate_memory(m, "q8_0", "llama.cpp", 1000, target=X86)
    b = estimate_memory(m, "q8_0", "llama.cpp", 1024, target=X86)
    assert a.kv_cache == b.kv_cache


def test_gemma3_sliding_layers_hold_only_their_window(cat):
    m = cat.model("gemma-3-4b-it")
    a = m.architecture
    full, swa = kv_layers(a, "gemma3")
    assert (full, swa) == (a.layers // 6, a.layers - a.layers // 6)
    row = a.kv_heads * a.head_dim * 2 * 2
    server = estimate_memory(m, "q4_k_m", "llama.cpp", 32768, target=X86)
    window_cells = -(-(a.sliding_window + 512) // 256) * 256
    assert server.kv_cache == full * 32768 * row + swa * window_cells * row
    # llama-cpp-python keeps full-size SWA caches (llama_context_default_params: swa_full = true)
    python = estimate_memory(m, "q4_k_m", "llama.cpp", 32768, target=X86, frontend="llama-cpp-python")
    assert python.kv_cache == a.layers * 32768 * row
    assert server.kv_cache < python.kv_cache / 3


def test_phi3_window_is_ignored_by_llama_cpp(cat):
    m = cat.model("phi-3-mini-4k-instruct")
    assert m.architecture.sliding_window == 2047
    est = estimate_memory(m, "q4_k_m", "llama.cpp", 4096, target=X86)
    a = m.architecture
    assert est.kv_cache == a.layers * a.kv_heads * a.head_dim * 2 * 2 * 4096
    assert any("disables" in s for s in est.assumptions)


def test_gemma3n_shared_kv_layers_hold_no_cache(cat):
    a = cat.model("gemma-3n-e2b-it").architecture
    full, swa = kv_layers(a, "gemma3n")
    assert full + swa == a.layers - a.kv_shared_layers


def test_moe_keeps_every_expert_resident(cat):
    m = cat.model("qwen3-30b-a3b")
    est = estimate_memory(m, "q4_k_m", "llama.cpp", 4096, target=GPU)
    # all 30.5B parameters at ~4.85 bits, not the 3.3B active ones
    assert 17e9 < est.details["weights_mapped"] < 20e9


def test_cpu_repack_copies_depend_on_the_cpu(cat):
    m = cat.model("qwen3-4b")
    x86 = estimate_memory(m, "q4_k_m", "llama.cpp", 4096, target=X86)
    arm = estimate_memory(m, "q4_k_m", "llama.cpp", 4096, target=ARM)
    gpu = estimate_memory(m, "q4_k_m", "llama.cpp", 4096, target=GPU)
    assert gpu.details["weights_repack"] == 0
    assert 0 < x86.details["weights_repack"] < arm.details["weights_repack"]  # ARM also repacks Q6_K
    q8 = estimate_memory(m, "q8_0", "llama.cpp", 4096, target=X86)
    assert q8.details["weights_repack"] == 0  # no Q8_0 repack on x86


def test_larger_vocab_and_ubatch_grow_buffers(cat):
    small = estimate_memory(cat.model("phi-3-mini-4k-instruct"), "q4_k_m", "llama.cpp", 4096, target=GPU)
    big = estimate_memory(cat.model("phi-4-mini-instruct"), "q4_k_m", "llama.cpp", 4096, target=GPU)
    # device buffers hold logits for a whole micro-batch: vocab x n_ubatch x 4 bytes
    assert big.details["compute_buffer"] - small.details["compute_buffer"] > (200064 - 32064) * 512 * 4 * 0.9


def test_multimodal_encoders_are_counted(cat):
    est = estimate_memory(cat.model("gemma-3-4b-it"), "q4_k_m", "llama.cpp", 8192, target=X86)
    assert est.encoders == int(0.417e9 * 2)
    text = estimate_memory(cat.model("gemma-3-1b-it"), "q4_k_m", "llama.cpp", 8192, target=X86)
    assert text.encoders == 0


def test_other_runtimes_have_their_own_rules(cat):
    m = cat.model("qwen2.5-7b-instruct")
    tf = estimate_memory(m, "bf16", "transformers", 8192, target=GPU, quantization=cat.quant("bf16"))
    assert tf.weights > 15e9  # 16-bit weights
    vl = estimate_memory(m, "awq_int4", "vllm", 8192, target=GPU, quantization=cat.quant("awq_int4"))
    assert vl.weights < 6e9 and any("gpu_memory_utilization" in s for s in vl.assumptions)


def test_bad_inputs_name_the_field(cat):
    m = cat.model("qwen3-0.6b")
    with pytest.raises(InputError) as e:
        estimate_memory(m, "q4_k_m", "llama.cpp", 10**6, target=X86)
    assert e.value.field == "--context"
    with pytest.raises(InputError) as e:
        estimate_memory(m, "q4_k_m", "llama.cpp", 4096, target=X86, kv="q3_k")
    assert e.value.field == "--kv-cache"


def test_platform_builtins_have_no_weights_to_estimate(cat):
    est = estimate_memory(cat.model("phi-silica"), "platform", "windows-ai-apis", 4096)
    assert est.total == 0 and "Windows manages" in est.assumptions[0]
