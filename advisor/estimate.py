"""One stack's memory and speed, with the machine it is estimated for: the `estimate` command.

Shared by the CLI, the solver and the UI: resolve the hardware (a knowledge-base
profile, explicit --ram/--bandwidth, or this machine as detected and measured),
pick the backend the runtime would use on it, and combine advisor.memory and
advisor.speed into one record whose every figure names its basis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

from .errors import InputError
from .kb import Catalog
from .memory import MemoryEstimate, Target, estimate_memory
from .schemas import Hardware, MeasuredProfile
from .speed import SpeedEstimate, efficiency, estimate_speed

BACKEND_PREFERENCE = ("cuda", "rocm", "metal", "vulkan", "directml", "qnn", "npu", "openvino", "cpu")


@dataclass
class HardwareSpec:
    name: str
    memory_gb: Optional[float]
    memory_kind: str
    bandwidth_gbps: float
    bandwidth_source: str
    backends: tuple[str, ...]
    platform: Optional[str] = None
    cpu_arch: str = "x86_64"
    simd: tuple[str, ...] = ()
    gpu_tflops: Optional[float] = None
    cpu_tflops: Optional[float] = None
    compute_source: str = ""
    cpu_bandwidth_gbps: Optional[float] = None
    fingerprint: Optional[str] = None
    hardware_id: Optional[str] = None
    detected: bool = False
    notes: list[str] = field(default_factory=list)
    cpu_model: str = ""
    cpu_measured_bandwidth_gbps: Optional[float] = None
    cpu_measured_bandwidth_source: str = ""
    threads: Optional[int] = None  # CPU threads llama.cpp runs with (the harness's default: every logical core)

    def bandwidth_for(self, backend: str) -> tuple[float, str]:
        """The bandwidth a backend's roofline uses: on CPUs a measured read bandwidth where one is known
        (CPU efficiencies are fitted against measured bandwidth), host memory beside discrete VRAM."""
        if backend == "cpu":
            if self.cpu_measured_bandwidth_gbps:
                return self.cpu_measured_bandwidth_gbps, self.cpu_measured_bandwidth_source
            if self.memory_kind == "vram" and self.cpu_bandwidth_gbps:
                return self.cpu_bandwidth_gbps, "host memory"
        return self.bandwidth_gbps, self.bandwidth_source


def from_profile(hw_id: str, h: Hardware) -> HardwareSpec:
    gpu_tflops = h.compute.fp16_tflops or h.compute.bf16_tflops or h.compute.fp32_tflops
    cpu_tflops = (h.cpu_compute.fp32_tflops if h.cpu_compute else None)
    if h.memory_kind != "vram" and not cpu_tflops and h.compute.fp32_tflops and "cpu" in h.backends and not (
            {"metal", "cuda", "vulkan"} & set(h.backends)):
        cpu_tflops = h.compute.fp32_tflops
    return HardwareSpec(
        name=h.name, memory_gb=h.memory_gb, memory_kind=h.memory_kind, bandwidth_gbps=h.bandwidth_gbps,
        bandwidth_source=f"knowledge/hardware/{hw_id}.yaml ({', '.join(_src(h, 'bandwidth_gbps'))})",
        backends=tuple(h.backends), platform=h.platform, cpu_arch=h.cpu.arch, simd=tuple(h.cpu.simd),
        gpu_tflops=gpu_tflops, cpu_tflops=cpu_tflops, compute_source=f"knowledge/hardware/{hw_id}.yaml",
        cpu_bandwidth_gbps=h.system_bandwidth_gbps, hardware_id=hw_id, cpu_model=h.cpu.model,
        cpu_measured_bandwidth_gbps=h.measured_bandwidth_gbps,
        cpu_measured_bandwidth_source=(f"published measured read bandwidth, knowledge/hardware/{hw_id}.yaml "
                                       f"({', '.join(_src(h, 'measured_bandwidth_gbps'))})"),
        threads=h.cpu.cores,
    )


def _src(h: Hardware, fld: str) -> list[str]:
    v = h.provenance.get(fld, [])
    return [v] if isinstance(v, str) else list(v)


def detected_spec(measure: bool = True) -> HardwareSpec:
    from .hardware import detect

    d = detect(measure=measure)
    backends = ["cpu"]
    if d.gpus:
        backends.insert(0, "cuda")
    if d.apple_silicon:
        backends.insert(0, "metal")
    return HardwareSpec(
        name=f"this machine ({d.cpu_model}, {d.cores_logical} threads, {d.ram_gb:.1f} GB RAM)",
        memory_gb=d.ram_gb, memory_kind="unified" if d.apple_silicon else "system",
        bandwidth_gbps=d.bandwidth_gbps or 0.0, bandwidth_source=d.bandwidth_source or "not measured",
        backends=tuple(backends), platform={"darwin": "macos"}.get(d.os, d.os), cpu_arch=d.arch,
        simd=tuple(d.simd), cpu_tflops=d.cpu_tflops, compute_source=d.cpu_tflops_source or "",
        fingerprint=d.fingerprint, detected=True, cpu_model=d.cpu_model or "", threads=d.cores_logical,
    )


def custom_spec(ram_gb: float | None, vram_gb: float | None, bandwidth_gbps: float | None,
                base: HardwareSpec | None) -> HardwareSpec:
    """--ram/--vram/--bandwidth: the given budget on this machine's CPU unless told otherwise."""
    base = base or HardwareSpec("custom", None, "system", 0.0, "", ("cpu",))
    spec = HardwareSpec(**{**base.__dict__})
    spec.notes = list(base.notes)
    spec.name = "custom budget" + (f" on {base.name}" if base.detected else "")
    if vram_gb:
        spec.memory_gb, spec.memory_kind = vram_gb, "vram"
        spec.backends = ("cuda", "cpu")
    elif ram_gb:
        spec.memory_gb = ram_gb
    if bandwidth_gbps:
        spec.bandwidth_gbps, spec.bandwidth_source = bandwidth_gbps, "given with --bandwidth"
    spec.hardware_id = None
    return spec


def choose_backend(runtime_backends: Iterable[str], spec: HardwareSpec) -> Optional[str]:
    """The runtime's best backend on this hardware. An accelerator backend other than the NPU or the
    usual GPU stacks (CUDA, ROCm, Metal) is preferred over the CPU only when the hardware profile gives
    the accelerator's compute: a Vulkan-capable GPU without a figure (a Raspberry Pi's VideoCore) is
    not assumed to beat the CPU."""
    avail = set(runtime_backends) & set(spec.backends)
    for b in BACKEND_PREFERENCE:
        if b in avail:
            if b in ("vulkan", "directml", "openvino") and not spec.gpu_tflops and "cpu" in avail:
                continue
            return b
    return None


@dataclass
class StackEstimate:
    model: str
    quantization: str
    runtime: str
    backend: str
    context: int
    memory: MemoryEstimate
    speed: Optional[SpeedEstimate]
    hardware: HardwareSpec
    basis: str
    assumptions: list[str]

    def as_dict(self) -> dict:
        s = self.speed
        return {
            "model": self.model,
            "quantization": self.quantization,
            "runtime": self.runtime,
            "backend": self.backend,
            "context": self.context,
            "hardware": self.hardware.hardware_id or self.hardware.name,
            "memory_gb": round(self.memory.total / 1e9, 3),
            "memory_required_gb": round(self.memory.required / 1e9, 3),
            "memory_breakdown_gb": self.memory.breakdown_gb(),
            "decode_tps": round(s.decode_tps, 2) if s else None,
            "decode_tps_range": [round(s.decode_tps_range[0], 2), round(s.decode_tps_range[1], 2)] if s else None,
            "prefill_tps": round(s.prefill_tps, 1) if s and s.prefill_tps else None,
            "ttft_ms": round(s.ttft_ms) if s and s.ttft_ms else None,
            "basis": self.basis,
            "assumptions": self.assumptions,
        }


def estimate_stack(cat: Catalog, model_id: str, quant: str, runtime_id: str, context: int, spec: HardwareSpec, *,
                   prompt_tokens: int = 512, gen_tokens: int = 128, kv: str = "f16",
                   extra_profiles: Iterable[MeasuredProfile] = (), frontend: str | None = None,
                   overrides: dict | None = None, exclude_fingerprint: str | None = None) -> StackEstimate:
    """`exclude_fingerprint` leaves out profiles of that machine, in every configuration (an estimate
    'before calibration')."""
    m = cat.model(model_id)
    q_id = quant.lower()
    q = cat.quant(q_id)
    rt = cat.runtime(runtime_id)
    if q_id not in rt.quantizations:
        raise InputError("--quant", f"{rt.name} does not load {q.name}",
                         ", ".join(cat.quantizations[x].name for x in rt.quantizations))
    if m.availability != "open-weights" and runtime_id != "windows-ai-apis":
        raise InputError("--runtime", f"{m.name} is {m.availability}: it runs only through its platform API",
                         m.platform_api.runtime if m.platform_api else "none")
    backend = choose_backend(rt.backends, spec)
    if backend is None:
        raise InputError("--runtime", f"{rt.name} has no backend for {spec.name} (it has {', '.join(spec.backends)})",
                         ", ".join(rt.backends))
    listed = None
    for art in m.artifacts:
        if art.quantization == q_id and art.size_bytes and not art.size_estimated and art.format in rt.formats:
            listed = art.size_bytes
    target = Target(cpu_arch=spec.cpu_arch, simd=spec.simd, backend=backend, memory_gb=spec.memory_gb)
    mem = estimate_memory(m, q_id, runtime_id, context, kv=kv, rt=rt, target=target, frontend=frontend,
                          listed_bytes=listed, quantization=q, overrides=overrides)
    notes = [f"hardware: {spec.name}; backend {backend}"] + list(spec.notes) + mem.assumptions
    speed = None
    basis = "estimated"
    if m.architecture is not None and spec.bandwidth_gbps:
        # leave out every configuration of that machine (fingerprints with a suffix, e.g. -threads1)
        profiles = [p for p in cat.profiles.values()
                    if not exclude_fingerprint or not (p.hardware_fingerprint or "").startswith(exclude_fingerprint)
                    ] + list(extra_profiles)
        bw, bw_src = spec.bandwidth_for(backend)
        compute = spec.gpu_tflops if backend != "cpu" else spec.cpu_tflops
        eff = efficiency(profiles, dict(cat.models), runtime_id, backend, spec.fingerprint, quant=q_id,
                         cpu_model=spec.cpu_model, threads=spec.threads)
        speed = estimate_speed(m, q_id, runtime_id, backend, bandwidth_gbps=bw, compute_tflops=compute,
                               prompt_tokens=prompt_tokens, gen_tokens=gen_tokens, kv=kv, eff=eff, q=q,
                               bandwidth_source=bw_src, compute_source=spec.compute_source)
        basis = speed.basis
        measured = _same_stack(profiles, model_id, q_id, runtime_id, backend, spec.fingerprint, context)
        if measured is not None:
            speed.decode_tps = measured.decode_tokens_per_s.median
            speed.decode_tps_range = (measured.decode_tokens_per_s.min, measured.decode_tokens_per_s.max)
            if measured.prefill_tokens_per_s:
                speed.prefill_tps = measured.prefill_tokens_per_s.median
            if measured.ttft_ms:
                speed.ttft_ms = measured.ttft_ms.median
            basis = "measured"
            speed.assumptions.append(f"speed measured on this machine ({measured.measured_at}, n={measured.decode_tokens_per_s.n})")
        notes += speed.assumptions
    elif m.availability != "open-weights":
        notes.append("speed: see the vendor's published figures (`advisor show`)")
    return StackEstimate(model_id, q.name, runtime_id, backend, context, mem, speed, spec, basis, notes)


def _same_stack(profiles, model_id, q_id, runtime_id, backend, fingerprint, context) -> Optional[MeasuredProfile]:
    if not fingerprint:
        return None
    best = None
    for p in profiles:
        if (p.model == model_id and p.quantization == q_id and p.backend == backend and p.hardware_fingerprint == fingerprint
                and p.runtime in (runtime_id, "llama-cpp-python" if runtime_id == "llama.cpp" else runtime_id)):
            if best is None or (p.measured_at or "") > (best.measured_at or ""):
                best = p
    return best
