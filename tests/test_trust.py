"""The trust rules: one memory rule across commands, GPUs with their own figures, machine identity, and a
`measured` basis only for the measured conditions."""

import json

import pytest

from advisor.estimate import HardwareSpec, apply_measured, custom_spec, estimate_stack, from_profile, find_accelerator, same_cpu_class
from advisor.hardware import CpuId, DetectedHardware, GpuInfo, build_kernel_flags
from advisor.hardware import detect as _detect
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


# llama.cpp's system-info lines (llama_print_system_info): a native build on an AVX-512 Zen 5 (the shipped
# Zen 5 runs' line), an AVX2 build and a build for no particular x86 CPU
NATIVE_LINE = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX_VNNI = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
               "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | LLAMAFILE = 1 | OPENMP = 1 | "
               "REPACK = 1 |")
# llama-cpp-python 0.3.36 built with GGML_NATIVE=OFF GGML_AVX2=ON GGML_AVX512=OFF, as it prints itself
AVX2_LINE = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | "
             "OPENMP = 1 | REPACK = 1 |")
# the same built with GGML_AVX2=OFF GGML_FMA=OFF GGML_F16C=OFF (knowledge/profiles/measured/amd-epyc-zen4-2vcpu-avxbuild)
AVX_LINE = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |"
SSE_ONLY_LINE = "CPU : SSE3 = 1 | SSSE3 = 1 | LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 |"
ZEN4_FLAGS = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
              "avx512vbmi", "avx512_bf16"]


def test_the_kernels_are_the_cpu_flags_the_llama_build_compiled():
    native = sorted(set(ZEN4_FLAGS) - {"sse4_2"})
    assert build_kernel_flags(ZEN4_FLAGS, NATIVE_LINE) == native
    assert build_kernel_flags(ZEN4_FLAGS, AVX2_LINE) == ["avx", "avx2", "f16c", "fma"]
    assert build_kernel_flags(ZEN4_FLAGS, AVX_LINE) == ["avx"]
    assert build_kernel_flags(ZEN4_FLAGS, SSE_ONLY_LINE) == []
    # no llama.cpp feature in the line (another runtime's, or none): the CPU's flags stand
    assert build_kernel_flags(ZEN4_FLAGS, None) == native
    assert build_kernel_flags(ZEN4_FLAGS, "torch 2.5.1, CPU capability AVX512") == native


def _raw(system_info):
    run = {"decode_tps": 20.0, "prefill_tps": 100.0, "ttft_ms": 2600.0}
    return {"runs": [run] * 3, "settings": {"threads": 2, "n_ctx": 4096}, "load_s": 1.0, "buffers_mib": {},
            "rss": {"before_load": 1e8, "peak": 1e9, "anon_end": 5e8, "file_end": 4e8},
            "runtime_version": "0.3.36", "system_info": system_info}


@pytest.mark.skipif(not {"avx", "avx2", "asimd", "neon"} & set(_detect(measure=False).simd),
                    reason="needs a CPU with SIMD kernels llama.cpp can leave out")
def test_a_run_of_a_build_without_the_cpus_kernels_is_recorded_as_another_machine():
    from profiling.measure import RunSettings, to_profile

    me = _detect(measure=False)
    kw = dict(model="qwen3-0.6b", quantization="q4_k_m", hardware_name="this machine", bandwidth_gbps=20.0,
              bandwidth_basis="test", compute_tflops=0.1, synthetic=True, s=RunSettings(), artifact="x.gguf")
    native = to_profile(_raw(NATIVE_LINE), fingerprint=me.fingerprint, **kw)
    restricted = to_profile(_raw(SSE_ONLY_LINE), fingerprint=me.fingerprint, **kw)
    assert native.cpu_simd == build_kernel_flags(me.simd, NATIVE_LINE) and not native.notes
    assert restricted.cpu_simd == [] and restricted.machine_identity["simd"] == []
    assert restricted.hardware_fingerprint != me.fingerprint
    assert "built without kernels" in restricted.notes[0]
    # a configuration the caller names (a fingerprint with a suffix) keeps its name
    conf = to_profile(_raw(SSE_ONLY_LINE), fingerprint=me.fingerprint + "-generic", **kw)
    assert conf.hardware_fingerprint == me.fingerprint + "-generic" and conf.cpu_simd == []


def test_profile_compares_a_restricted_build_with_the_estimate_for_its_kernels(cat):
    """`profile` on a build without the CPU's AVX-512 kernels compares with the estimate for AVX2 kernels
    (the int8 ratio of AVX2 is half VNNI's), under the run's own fingerprint; a native run changes nothing."""
    from profiling.profile import kernels_spec

    spec = HardwareSpec(name="zen4", memory_gb=24, memory_kind="system", bandwidth_gbps=32.6, bandwidth_source="test",
                        backends=("cpu",), cpu_model="AMD EPYC", cpu_name="AMD EPYC", cpu_tflops=0.2, threads=2,
                        simd=tuple(ZEN4_FLAGS), fingerprint="native")
    native = _run("native", cpu_simd=sorted(set(ZEN4_FLAGS) - {"sse4_2"}))
    assert kernels_spec(spec, native) is None
    avx2 = _run("avx2-build", cpu_simd=["avx", "avx2", "f16c", "fma"])
    ran = kernels_spec(spec, avx2)
    assert ran.simd == ("avx", "avx2", "f16c", "fma") and ran.fingerprint == "avx2-build"
    assert spec.simd == tuple(ZEN4_FLAGS)  # the detected machine is left as it is
    fast = estimate_stack(cat, "qwen3-1.7b", "q8_0", "llama.cpp", 2048, spec, prompt_tokens=256)
    slow = estimate_stack(cat, "qwen3-1.7b", "q8_0", "llama.cpp", 2048, ran, prompt_tokens=256)
    assert slow.speed.prefill_tps < fast.speed.prefill_tps and slow.speed.decode_tps <= fast.speed.decode_tps


def test_a_run_on_fewer_threads_sees_its_share_of_the_machine():
    """advisor.estimate.threads_view: llama.cpp on 1 of 2 threads reads at what one thread's read test reaches,
    computes at half the matmul rate of both, and is a configuration of the machine (-threads1); on every
    thread, or on a GPU machine, the machine is as it was."""
    from advisor.estimate import threads_view

    asked = []

    def read_test(threads):
        asked.append(threads)
        return 29.84

    spec = HardwareSpec(name="this machine (AMD EPYC, 2 threads)", memory_gb=24, memory_kind="system",
                        bandwidth_gbps=32.6, bandwidth_source="read test", backends=("cpu",), cpu_tflops=0.2,
                        compute_source="matmul", threads=2, fingerprint="a2ad39da54606d6e")
    one = threads_view(spec, 1, measure=read_test)
    assert asked == [1] and one.bandwidth_gbps == 29.8 and "1-thread read" in one.bandwidth_source
    assert one.cpu_tflops == 0.1 and "x 1/2" in one.compute_source
    assert one.threads == 1 and one.fingerprint == "a2ad39da54606d6e-threads1" and "1 of its 2 threads" in one.name
    assert spec.bandwidth_gbps == 32.6 and spec.threads == 2  # the detected machine is left as it is
    both = threads_view(spec, 2, measure=read_test)
    assert asked == [1] and both.fingerprint == spec.fingerprint and both.bandwidth_gbps == 32.6
    gpu = HardwareSpec(name="a card", memory_gb=24, memory_kind="vram", bandwidth_gbps=1008, bandwidth_source="x",
                       backends=("cuda", "cpu"), threads=2, fingerprint="gpu")
    assert threads_view(gpu, 1, measure=read_test).fingerprint == "gpu" and asked == [1]


@pytest.mark.skipif(not {"avx", "avx2", "asimd", "neon"} & set(_detect(measure=False).simd),
                    reason="needs a CPU with SIMD kernels llama.cpp can leave out")
def test_a_restricted_build_on_fewer_threads_keeps_both_apart():
    """A build without the CPU's kernels, run on one thread: another machine's identity, still on one thread
    (-threads1), never the native build's one-thread configuration."""
    from profiling.measure import RunSettings, to_profile

    me = _detect(measure=False)
    kw = dict(model="qwen3-0.6b", quantization="q4_k_m", hardware_name="this machine", bandwidth_gbps=20.0,
              bandwidth_basis="test", compute_tflops=0.1, synthetic=True, s=RunSettings(), artifact="x.gguf")
    native = to_profile(_raw(NATIVE_LINE), fingerprint=me.fingerprint + "-threads1", **kw)
    restricted = to_profile(_raw(SSE_ONLY_LINE), fingerprint=me.fingerprint + "-threads1", **kw)
    assert restricted.hardware_fingerprint.endswith("-threads1")
    assert restricted.hardware_fingerprint.split("-")[0] not in (me.fingerprint, native.hardware_fingerprint)
    assert restricted.compute_tflops == 0.1  # the caller's figure for the threads used, not scaled again


def test_two_cpus_of_one_name_are_told_apart_by_cpuid():
    zen3_run = _run("zen3", machine_identity={"cpu_vendor": "AuthenticAMD", "cpu_family": "25", "cpu_model_id": "1",
                                              "cpu_model": "AMD EPYC"}, cpu_simd=["avx", "avx2", "f16c", "fma"])
    old_run = _run("old", hardware="this machine (AMD EPYC, 2 threads)", cpu_simd=["avx", "avx2", "f16c", "fma"])
    spec = HardwareSpec(name="a Zen 4 with an AVX2 build", memory_gb=8, memory_kind="system", bandwidth_gbps=20,
                        bandwidth_source="test", backends=("cpu",), cpu_model="AMD EPYC", cpu_name="AMD EPYC",
                        simd=("avx", "avx2", "f16c", "fma"), cpuid=("AuthenticAMD", "25", "17"))
    assert not same_cpu_class(zen3_run, spec)   # the same name, another CPU
    assert same_cpu_class(old_run, spec)        # no cpuid recorded: the name and the int8 class decide
    spec.cpuid = ("AuthenticAMD", "25", "1")
    assert same_cpu_class(zen3_run, spec)
    spec.simd = ("avx", "avx2", "avx512f", "avx512_vnni")
    assert same_cpu_class(zen3_run, spec)       # the same CPU under another build's kernels: still this CPU
    assert not same_cpu_class(old_run, spec)    # no cpuid: another int8 class is another CPU


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
