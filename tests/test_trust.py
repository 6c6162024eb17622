"""The trust rules: one memory rule across commands, GPUs with their own figures, machine identity, and a
`measured` basis only for the measured conditions."""

import json

import pytest

from advisor.estimate import apply_measured, custom_spec, estimate_stack, from_profile, find_accelerator
from advisor.hardware import CpuId, DetectedHardware, GpuInfo
from advisor.kb import load_catalog
from advisor.requirements import build
from advisor.schemas import MeasuredProfile, Source, Spread
from advisor.solve import best_per_model, evaluate


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


@pytest.mark.parametrize("hw,raw", [
    ("raspberry-pi-5-8gb", {"languages": ["sv"], "context": 512}),
    ("raspberry-pi-5-8gb", {"context": 4096, "top": 5}),
    ("desktop-rtx-4090-24gb", {"context": 8192, "top": 5}),
    ("macbook-air-m2-16gb", {"context": 8192, "top": 5}),
])
def test_recommend_and_estimate_report_the_same_requirement(cat, hw, raw):
    spec = from_profile(hw, cat.hw(hw))
    req = build(raw)
    picks = best_per_model(evaluate(cat, spec, req), req.top)
    assert picks
    for c in picks:
        if c.memory is None:
            continue
        est = estimate_stack(cat, c.model_id, c.quant, c.runtime, req.context, spec, prompt_tokens=req.prompt_tokens)
        assert round(est.memory.required / 1e9, 2) == round(c.memory.required / 1e9, 2), (c.model_id, c.quant)
        assert round(est.memory.total / 1e9, 2) == round(c.memory.total / 1e9, 2)
        assert est.fits(req.headroom)  # the same fit rule admits it


def test_recommend_json_and_estimate_json_use_the_same_names(cli):
    r = cli("recommend", "--hardware", "raspberry-pi-5-8gb", "--lang", "sv", "--context", "512", "--format", "json")
    assert r.returncode == 0, r.stderr
    top = json.loads(r.stdout)["recommendations"][0]
    r2 = cli("estimate", top["model"], "--quant", top["quantization"], "--runtime", top["runtime"], "--context", "512",
             "--hardware", "raspberry-pi-5-8gb", "--format", "json")
    assert r2.returncode == 0, r2.stderr
    e = json.loads(r2.stdout)
    assert e["memory_required_gb"] == pytest.approx(top["memory_required_gb"], abs=0.01)
    assert e["memory_peak_gb"] == pytest.approx(top["memory_peak_gb"], abs=0.01)
    assert e["fits"] is True


def test_reclaimable_pages_only_where_shown(cat):
    m = cat.model("qwen3-8b")
    linux = from_profile("raspberry-pi-5-8gb", cat.hw("raspberry-pi-5-8gb"))
    other = from_profile("raspberry-pi-5-8gb", cat.hw("raspberry-pi-5-8gb"))
    other.platform = "windows"
    a = estimate_stack(cat, "qwen3-8b", "q4_k_m", "llama.cpp", 4096, linux)
    b = estimate_stack(cat, "qwen3-8b", "q4_k_m", "llama.cpp", 4096, other)
    assert a.memory.reclaimable > 0 and a.memory.required < a.memory.total
    assert b.memory.reclaimable == 0 and b.memory.required == b.memory.total
    assert any("shown only on Linux" in x for x in b.memory.assumptions)
    assert m.architecture is not None


# ----------------------------------------------------------------------------- GPUs


def test_gpu_by_id_and_by_nvml_name(cat):
    assert find_accelerator(cat, "rtx-4090")[0] == "rtx-4090"
    assert find_accelerator(cat, "NVIDIA GeForce RTX 4090")[0] == "rtx-4090"
    assert find_accelerator(cat, "NVIDIA H100 80GB HBM3")[0] == "h100-sxm"


def test_vram_alone_never_borrows_the_cpu_bandwidth(cat):
    base = from_profile("intel-core-ultra-7-155h-16gb", cat.hw("intel-core-ultra-7-155h-16gb"))
    s = custom_spec(None, 24, None, base, cat=cat)
    assert s.accelerator == "rtx-4090" and s.bandwidth_gbps == 1008
    assert s.bandwidth_gbps != base.bandwidth_gbps and s.gpu_tflops
    assert any("typical 24 GB card" in n for n in s.notes)
    odd = custom_spec(None, 18, None, base, cat=cat)  # no catalog card has 18 GB
    assert odd.bandwidth_gbps == 0 and any("--gpu" in n for n in odd.notes)


def test_vram_24gb_plans_cuda_at_gpu_speed(cli):
    r = cli("recommend", "--vram", "24GB", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["hardware"]["bandwidth_gbps"] == 1008
    cuda = [x for x in d["recommendations"] if x["backend"] == "cuda"]
    assert cuda and all(x["decode_tps"] > 20 for x in cuda)
    assert any("--gpu" in n for n in d["notes"])


def test_unknown_gpu_speed_refuses_speed_limits(cli):
    r = cli("recommend", "--vram", "18GB", "--min-tps", "10")  # no catalog card has 18 GB
    assert r.returncode == 2 and "--min-tps" in r.stderr and "--gpu" in r.stderr
    r = cli("recommend", "--gpu", "no-such-card")
    assert r.returncode == 2 and "--gpu" in r.stderr and "rtx-4090" in r.stderr


def test_explicit_gpu_figures(cli):
    r = cli("estimate", "qwen3-8b", "--quant", "Q4_K_M", "--vram", "16GB", "--bandwidth", "500", "--tflops", "100",
            "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["backend"] == "cuda" and d["decode_tps"] > 20 and d["prefill_tps"] > 0
    r = cli("estimate", "qwen3-8b", "--bandwidth", "-3")
    assert r.returncode == 2 and "--bandwidth" in r.stderr


# ----------------------------------------------------------------------------- identity and bases


def _hw(simd, model="25"):
    return DetectedHardware(os="linux", arch="x86_64", cpu_model="AMD EPYC", cores_logical=2, cores_physical=2,
                            ram_gb=23.5, ram_available_gb=20, simd=list(simd),
                            cpuid=CpuId("AuthenticAMD", "25", model, "1"))


def test_same_cpu_name_with_other_simd_is_another_machine():
    zen3 = _hw(["avx", "avx2", "fma", "f16c"], "1")
    zen4 = _hw(["avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni"], "17")
    assert zen3.fingerprint != zen4.fingerprint
    assert _hw(["avx2", "avx512f"], "1").fingerprint != _hw(["avx2"], "1").fingerprint
    more_ram = _hw(["avx", "avx2", "fma", "f16c"], "1")
    more_ram.ram_gb = 64
    assert more_ram.fingerprint == zen3.fingerprint  # RAM size does not change speed
    gpu = _hw(["avx", "avx2", "fma", "f16c"], "1")
    gpu.gpus = [GpuInfo("NVIDIA GeForce RTX 4090", 25.8)]
    assert gpu.fingerprint != zen3.fingerprint


def _run(fp, **kw):
    base = dict(model="qwen3-0.6b", quantization="q4_k_m", runtime="llama.cpp", backend="cpu", hardware="test",
                hardware_fingerprint=fp, bandwidth_gbps=20.0, compute_tflops=0.1, threads=2, context=4096,
                prompt_tokens=256, gen_tokens=64, measured_at="2026-12-01T00:00:00",
                decode_tokens_per_s=Spread(n=3, min=19, median=20, max=21),
                prefill_tokens_per_s=Spread(n=3, min=90, median=100, max=110),
                ttft_ms=Spread(n=3, min=2500, median=2600, max=2700),
                sources={"run": Source(kind="measured", ref="test")}, provenance={})
    base.update(kw)
    return MeasuredProfile(**base)


@pytest.mark.parametrize("ctx,prompt,threads,basis", [
    (4096, 256, 2, "measured"),
    (32768, 256, 2, "calibrated"),     # beyond the measured context
    (4096, 16000, 2, "calibrated"),    # another prompt length: its TTFT was not measured
    (4096, 256, 1, "calibrated"),      # another thread count
])
def test_measured_only_for_the_measured_conditions(cat, ctx, prompt, threads, basis):
    spec = custom_spec(4, None, 20.0, None)
    spec.fingerprint, spec.threads, spec.cpu_tflops = "fp-test", threads, 0.1
    est = estimate_stack(cat, "qwen3-0.6b", "q4_k_m", "llama.cpp", ctx, spec, prompt_tokens=prompt,
                         extra_profiles=[_run("fp-test")])
    assert est.basis == basis, est.assumptions
    if basis == "measured":
        assert est.speed.decode_tps == 20 and est.speed.ttft_ms == 2600
    else:
        assert any("calibrated from that run" in a for a in est.assumptions)


def test_recommend_and_estimate_share_the_basis_rule(cat):
    spec = custom_spec(2, None, 20.0, None)
    spec.fingerprint, spec.threads, spec.cpu_tflops = "fp-test", 2, 0.1
    run = _run("fp-test", quantization="q6_k", model="qwen3-1.7b", context=2048, prompt_tokens=512,
               decode_tokens_per_s=Spread(n=3, min=6.5, median=6.7, max=6.9))
    req = build({"ram_gb": "2GB", "context": 2048, "runtimes": ["llama.cpp"], "top": 50})
    cands = [c for c in evaluate(cat, spec, req, [run]) if c.model_id == "qwen3-1.7b" and c.quant == "q6_k"]
    est = estimate_stack(cat, "qwen3-1.7b", "q6_k", "llama.cpp", 2048, spec, prompt_tokens=512, extra_profiles=[run])
    assert cands and cands[0].speed.basis == est.basis == "measured"
    assert cands[0].speed.decode_tps == est.speed.decode_tps == 6.7
    speed = est.speed
    assert apply_measured(speed, [run], "qwen3-1.7b", "q6_k", "llama.cpp", "cpu", spec, 2048, 512) == "measured"
