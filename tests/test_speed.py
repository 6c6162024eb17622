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


def _cpu_profile(cat, model, quant, tps, *, fingerprint="fp-a", bw=30.0, prefill=None, tflops=None,
                 hardware="test", threads=None):
    from advisor.schemas import MeasuredProfile, Spread

    return MeasuredProfile.model_construct(
        model=model, model_architecture=None, quantization=quant, runtime="llama.cpp", backend="cpu",
        hardware=hardware, hardware_fingerprint=fingerprint, threads=threads, bandwidth_gbps=bw, compute_tflops=tflops, context=4096,
        prompt_tokens=256, gen_tokens=128, decode_tokens_per_s=Spread(n=1, min=tps, median=tps, max=tps),
        prefill_tokens_per_s=Spread(n=1, min=prefill, median=prefill, max=prefill) if prefill else None,
        settings={}, sources={}, provenance={}, notes=[])


def test_cpu_fit_recovers_per_type_efficiencies_and_layer_time(cat):
    """Profiles generated from a known per-type model: the fit gives back its coefficients and predicts a new model."""
    from advisor.speed import _terms, token_cost

    truth = {"Q4_K": 1 / 0.9, "Q6_K": 1 / 0.6, "Q8_0": 1 / 0.75, "Q5_0": 1 / 0.5, "F32": 1.0, "KV": 1.0}
    tau, bw = 0.3e-3, 30.0
    models = dict(cat.models)

    def true_tps(mid, q):
        a = cat.model(mid).architecture
        c = token_cost(a, q, 256 + 64, 256)
        return 1 / (sum(v * truth.get(k, 1.0) for k, v in _terms(c, bw).items()) + a.layers * tau)

    train = [("qwen3-0.6b", "q4_k_m"), ("qwen3-0.6b", "q8_0"), ("qwen3-4b", "q4_k_m"), ("qwen3-4b", "q8_0"),
             ("gemma-3-1b-it", "q8_0"), ("qwen2.5-7b-instruct", "q4_k_m"), ("gemma-3-4b-it", "q4_k_m")]
    profs = [_cpu_profile(cat, mid, q, true_tps(mid, q), bw=bw) for mid, q in train]
    eff = efficiency(profs, models, "llama.cpp", "cpu", "fp-a")
    assert eff.basis == "calibrated"
    assert abs(eff.layer_overhead_s - tau) / tau < 0.15
    # Q8_0 files are nearly all Q8_0, so that coefficient is identified on its own (Q4_K and Q6_K always come
    # together in Q4_K_M files: only their mix is, and the ridge splits it)
    assert abs(eff.coef("Q8_0") / truth["Q8_0"] - 1) < 0.05
    # models never seen, made of types that were (a type never measured, e.g. the Q5_0 fallback of
    # Gemma-3-1B's 1152-wide rows, can only get the common coefficient)
    for mid, q in (("qwen3-1.7b", "q8_0"), ("qwen2.5-3b-instruct", "q4_k_m"), ("phi-4-mini-instruct", "q4_k_m")):
        s = estimate_speed(cat.model(mid), q, "llama.cpp", "cpu", bandwidth_gbps=bw, compute_tflops=None, eff=eff,
                           prompt_tokens=256, gen_tokens=128)
        assert abs(s.decode_tps / true_tps(mid, q) - 1) < 0.1, (mid, q)


def test_one_calibration_run_updates_the_prior_from_other_machines(cat):
    models = dict(cat.models)
    others = [_cpu_profile(cat, mid, q, tps, fingerprint="fp-other", bw=20.0) for mid, q, tps in (
        ("qwen3-0.6b", "q4_k_m", 30.0), ("qwen3-4b", "q4_k_m", 5.0), ("qwen3-0.6b", "q8_0", 22.0),
        ("qwen3-4b", "q8_0", 3.0))]
    prior = efficiency(others, models, "llama.cpp", "cpu", "fp-new")
    assert prior.basis == "estimated"

    def tps(eff, mid, q):
        return estimate_speed(cat.model(mid), q, "llama.cpp", "cpu", bandwidth_gbps=20.0, compute_tflops=None,
                              eff=eff, prompt_tokens=256, gen_tokens=128).decode_tps

    # this machine ran qwen3-4b Q4_K_M (bandwidth-bound) 1.5x faster than the prior predicts
    mine = _cpu_profile(cat, "qwen3-4b", "q4_k_m", 1.5 * tps(prior, "qwen3-4b", "q4_k_m"), fingerprint="fp-new", bw=20.0)
    cal = efficiency(others + [mine], models, "llama.cpp", "cpu", "fp-new")
    assert cal.basis == "calibrated"
    # the calibration run itself is now predicted within its noise, and a model of the same kind moves with it
    assert abs(tps(cal, "qwen3-4b", "q4_k_m") / mine.decode_tokens_per_s.median - 1) < 0.06
    assert tps(cal, "qwen3-8b", "q4_k_m") / tps(prior, "qwen3-8b", "q4_k_m") > 1.3


def test_ultra_chips_are_predicted_from_other_ultra_chips(cat):
    """The two-die Ultras reach a lower share of their bandwidth: their estimate comes from the other Ultras."""
    target = cat.profiles["llama2-7b-q4_0-m2-ultra-76gpu"]
    others = [p for k, p in cat.profiles.items() if p.hardware != target.hardware]
    m = cat.model("qwen3-0.6b").model_copy(update={"architecture": target.model_architecture})
    got = {}
    for cpu_model in (None, target.hardware):
        eff = efficiency(others, dict(cat.models), "llama.cpp", "metal", cpu_model=cpu_model)
        got[cpu_model] = estimate_speed(m, "q4_0", "llama.cpp", "metal", bandwidth_gbps=target.bandwidth_gbps,
                                        compute_tflops=None, prompt_tokens=target.prompt_tokens,
                                        gen_tokens=target.gen_tokens, eff=eff)
    measured = target.decode_tokens_per_s.median
    assert abs(got[target.hardware].decode_tps / measured - 1) < 0.15
    assert got[None].decode_tps / measured - 1 > 0.3  # pooled with single-die chips it is far too fast
    assert "apple-ultra" in " ".join(got[target.hardware].assumptions)


def test_per_layer_time_scales_with_threads_within_an_instruction_set(cat):
    """Runs made with one thread predict a two-thread run with half the per-layer time; an ARM board's runs
    (another instruction set, other per-core speeds) are not rescaled for an x86 target."""
    from advisor.speed import _terms, token_cost

    models = dict(cat.models)
    tau1, bw, eff = 0.8e-3, 30.0, 0.9

    def tps(mid, q, tau):
        a = cat.model(mid).architecture
        c = token_cost(a, q, 256 + 64, 256)
        return 1 / (sum(_terms(c, bw).values()) / eff + a.layers * tau)

    runs = [("qwen3-0.6b", "q8_0"), ("qwen3-4b", "q8_0"), ("qwen3-1.7b", "q8_0"), ("qwen2.5-7b-instruct", "q8_0")]
    one = [_cpu_profile(cat, mid, q, tps(mid, q, tau1), fingerprint="fp-x86", bw=bw, hardware="AMD EPYC x86",
                        threads=1) for mid, q in runs]
    same_threads = efficiency(one, models, "llama.cpp", "cpu", "fp-new", cpu_model="AMD EPYC", threads=1)
    two = efficiency(one, models, "llama.cpp", "cpu", "fp-new", cpu_model="AMD EPYC", threads=2)
    assert abs(same_threads.layer_overhead_s / tau1 - 1) < 0.1
    assert abs(two.layer_overhead_s / (tau1 / 2) - 1) < 0.1
    assert "at 2 threads" in two.source
    arm = [p.model_copy(update={"hardware": "Raspberry Pi 5, Cortex-A76"}) for p in one]
    assert abs(efficiency(arm, models, "llama.cpp", "cpu", "fp-new", cpu_model="AMD EPYC",
                          threads=2).layer_overhead_s / tau1 - 1) < 0.1
