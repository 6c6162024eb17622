"""Roofline speed estimates and efficiencies derived from measured profiles."""

import pytest

from advisor.estimate import from_profile
from advisor.kb import load_catalog
from advisor.speed import efficiency, estimate_speed, profile_efficiency, token_cost


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def test_decode_reads_weights_once_and_the_kv_so_far(cat):
    a = cat.model("qwen2.5-7b-instruct").architecture  # untied: one embedding row per token
    c0 = token_cost(a, "q4_k_m", 0, 512)
    c4k = token_cost(a, "q4_k_m", 4096, 512)
    assert c0.kv_bytes == 0
    assert c4k.kv_bytes == a.layers * 4096 * a.kv_heads * a.head_dim * 2 * 2
    from advisor.gguf import estimate_weights
    full = estimate_weights(a, "q4_k_m").total_bytes
    assert c0.weight_bytes < full  # the input embedding table is not read whole
    assert c0.weight_bytes > 0.85 * full


def test_moe_decode_reads_only_routed_experts(cat):
    a = cat.model("qwen3-30b-a3b").architecture
    from advisor.gguf import estimate_weights
    c = token_cost(a, "q4_k_m", 0, 512)
    assert c.weight_bytes < 0.2 * estimate_weights(a, "q4_k_m").total_bytes


def test_published_profiles_give_metal_efficiency_in_a_plausible_band(cat):
    effs = [profile_efficiency(p, dict(cat.models))[0] for p in cat.profiles.values() if p.backend == "metal"]
    effs = [e for e in effs if e]
    assert len(effs) >= 16
    assert all(0.2 < e < 1.0 for e in effs)
    eff = efficiency(cat.profiles.values(), dict(cat.models), "llama.cpp", "metal")
    assert eff.basis == "estimated" and eff.n == len(effs)


def test_estimate_for_a_published_chip_lands_near_its_measurement(cat):
    # leave-one-out: the M2 Max 38-core Q4_0 decode rate from the efficiency of the other chips
    target = next(p for k, p in cat.profiles.items() if k == "llama2-7b-q4_0-m2-max-38gpu")
    others = [p for k, p in cat.profiles.items() if k != "llama2-7b-q4_0-m2-max-38gpu"]
    eff = efficiency(others, dict(cat.models), "llama.cpp", "metal")
    from advisor.schemas import Model
    m = cat.model("qwen3-0.6b").model_copy(update={"architecture": target.model_architecture})
    s = estimate_speed(m, "q4_0", "llama.cpp", "metal", bandwidth_gbps=target.bandwidth_gbps,
                       compute_tflops=None, prompt_tokens=target.prompt_tokens, gen_tokens=target.gen_tokens, eff=eff)
    assert abs(s.decode_tps / target.decode_tokens_per_s.median - 1) < 0.25
    assert s.decode_tps_range[0] <= target.decode_tokens_per_s.median <= s.decode_tps_range[1]


def test_hardware_profile_feeds_bandwidth_and_compute(cat):
    spec = from_profile("h100-80gb", cat.hw("h100-80gb"))
    assert spec.bandwidth_gbps > 3000 and spec.gpu_tflops and "cuda" in spec.backends
