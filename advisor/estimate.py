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
from .schemas import Accelerator, Hardware, MeasuredProfile, nvidia_prefill_peak
from .serving import interconnect_of
from .speed import SpeedEstimate, _runtime_group, efficiency, estimate_speed

if False:  # typing only
    from .offload import OffloadPlan  # noqa: F401

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
    accelerator: Optional[str] = None  # knowledge/hardware/accelerators id of the GPU
    system_memory_gb: Optional[float] = None  # host RAM beside discrete VRAM (partial offload)
    cpu_name: str = ""  # the CPU model string as the OS reports it ('AMD EPYC'), where cpu_model describes more
    cpuid: tuple[str, ...] = ()  # (vendor, family, model) as cpuid or MIDR report them, where known
    # GPUs of one kind in this machine: memory_gb, bandwidth_gbps and gpu_tflops are then their sums, and
    # each runtime sees them as it spreads a model over them (`for_runtime`)
    gpus: int = 1
    interconnect: str = ""  # nvlink | pcie (between the GPUs; tensor parallelism's all-reduces cross it)
    nodes: int = 1  # machines of this kind: the sums above cover all of them (gpus is per machine)

    def for_runtime(self, multi_gpu: Optional[str], multi_node: bool = False) -> "HardwareSpec":
        """This machine as a runtime that spreads one model over its GPUs in the way `multi_gpu` names
        ('tensor', 'layer', or None for one GPU) sees it: tensor parallelism has every GPU's memory,
        bandwidth and compute; a layer split has every GPU's memory but one GPU's speed, since a token
        passes through the GPUs in turn; a one-GPU runtime has one GPU. With several nodes, a runtime
        that spans them (vLLM: pipeline stages, one per node) has every node's memory and one node's
        speed (a token passes through the stages in turn); any other runtime has one node."""
        from dataclasses import replace

        if self.nodes > 1:
            k = self.nodes
            how = (f"one of {k} nodes at a time: a pipeline stage on each, a token passes through them in turn"
                   if multi_node else f"one of {k} nodes: the runtime runs on one machine")
            node = replace(self, bandwidth_gbps=self.bandwidth_gbps / k, bandwidth_source=f"{self.bandwidth_source}; {how}",
                           gpu_tflops=self.gpu_tflops / k if self.gpu_tflops else None,
                           compute_source=f"{self.compute_source}; {how}" if self.compute_source else "",
                           memory_gb=self.memory_gb / k if self.memory_gb and not multi_node else self.memory_gb,
                           nodes=k if multi_node else 1, notes=list(self.notes))
            if multi_node:  # the stages' speed is one node's, as its own runtime sees that node
                one = replace(node, memory_gb=node.memory_gb / k if node.memory_gb else None, nodes=1)
                one = one.for_runtime(multi_gpu)
                return replace(node, bandwidth_gbps=one.bandwidth_gbps, gpu_tflops=one.gpu_tflops,
                               bandwidth_source=one.bandwidth_source, compute_source=one.compute_source)
            return node.for_runtime(multi_gpu)
        if self.gpus <= 1 or self.memory_kind != "vram" or multi_gpu == "tensor":
            return self

        n = self.gpus
        how = (f"one of {n} GPUs at a time: the layers are split across them and a token passes through each in turn"
               if multi_gpu == "layer" else f"one of {n} GPUs: the runtime runs a model on one GPU")
        return replace(self, bandwidth_gbps=self.bandwidth_gbps / n,
                       bandwidth_source=f"{self.bandwidth_source}; {how}",
                       gpu_tflops=self.gpu_tflops / n if self.gpu_tflops else None,
                       compute_source=f"{self.compute_source}; {how}" if self.compute_source else "",
                       memory_gb=self.memory_gb if multi_gpu == "layer" or not self.memory_gb else self.memory_gb / n,
                       gpus=n if multi_gpu == "layer" else 1, notes=list(self.notes))

    def with_nodes(self, n: int) -> "HardwareSpec":
        """n machines of this spec's kind (--nodes): memory, bandwidth and compute add up over them."""
        from dataclasses import replace

        if n == self.nodes:
            return self
        k = n / self.nodes
        return replace(self, name=f"{n} nodes of {self.name}", memory_gb=self.memory_gb * k if self.memory_gb else None,
                       bandwidth_gbps=self.bandwidth_gbps * k, gpu_tflops=self.gpu_tflops * k if self.gpu_tflops else None,
                       nodes=n, notes=list(self.notes) + [
                           f"{n} nodes: a runtime that spans machines (vLLM with Ray: a pipeline stage per node) holds a "
                           "model in all of them at one node's speed; any other runtime runs on one node"])

    def with_gpus(self, n: int, interconnect: str = "") -> "HardwareSpec":
        """n GPUs of this spec's kind in one machine (--gpus): memory, bandwidth and compute add up."""
        from dataclasses import replace

        if n == self.gpus:
            return replace(self, interconnect=interconnect or self.interconnect) if interconnect else self
        k = n / self.gpus
        ic = interconnect or self.interconnect or interconnect_of(self.name)
        return replace(self, name=f"{n} x {self.name}" if self.gpus == 1 else self.name.replace(f"{self.gpus} x ", f"{n} x ", 1),
                       memory_gb=self.memory_gb * k if self.memory_gb else self.memory_gb,
                       bandwidth_gbps=self.bandwidth_gbps * k,
                       bandwidth_source=f"{n} x ({self.bandwidth_source})" if self.gpus == 1 else self.bandwidth_source,
                       gpu_tflops=self.gpu_tflops * k if self.gpu_tflops else None, gpus=n, interconnect=ic,
                       notes=list(self.notes) + [gpus_note(n, ic)] if n > 1 else list(self.notes))

    def bandwidth_for(self, backend: str) -> tuple[float, str]:
        """The bandwidth a backend's roofline uses: on CPUs a measured read bandwidth where one is known
        (CPU efficiencies are fitted against measured bandwidth), host memory beside discrete VRAM."""
        if backend == "cpu":
            if self.cpu_measured_bandwidth_gbps:
                return self.cpu_measured_bandwidth_gbps, self.cpu_measured_bandwidth_source
            if self.memory_kind == "vram":
                # never the VRAM's bandwidth for the host CPU: unknown unless the profile gives the host's
                return (self.cpu_bandwidth_gbps, "host memory") if self.cpu_bandwidth_gbps else (0.0, "")
        return self.bandwidth_gbps, self.bandwidth_source


def gpus_note(n: int, interconnect: str) -> str:
    return (f"{n} GPUs ({interconnect or 'pcie'}): memory adds up; a layer split (llama.cpp, Ollama, Transformers) runs "
            f"them one at a time, at one GPU's speed; tensor parallelism (vLLM) uses all of them at once")


def budget_of(req, hw: HardwareSpec) -> Optional[float]:
    """The memory budget in GB: --vram/--ram where given, else the hardware's; with several GPUs their sum
    (--vram is then each GPU's, and the spec already multiplied it)."""
    if hw.gpus > 1 or hw.nodes > 1:
        return hw.memory_gb
    return req.vram_gb or req.ram_gb or hw.memory_gb


def from_profile(hw_id: str, h: Hardware) -> HardwareSpec:
    gpu_tflops = None
    if "cuda" in h.backends and h.gpu is not None and "nvidia" in h.gpu.model.lower():
        gpu_tflops = nvidia_prefill_peak(h.compute, h.gpu.model)[0]  # the rule of Accelerator.prefill_tflops
    gpu_tflops = gpu_tflops or h.compute.fp16_tflops or h.compute.bf16_tflops or h.compute.fp32_tflops
    cpu_tflops = (h.cpu_compute.fp32_tflops if h.cpu_compute else None)
    if h.memory_kind != "vram" and not cpu_tflops and h.compute.fp32_tflops and "cpu" in h.backends and not (
            {"metal", "cuda", "vulkan"} & set(h.backends)):
        cpu_tflops = h.compute.fp32_tflops
    spec = HardwareSpec(
        name=h.name, memory_gb=h.memory_gb, memory_kind=h.memory_kind, bandwidth_gbps=h.bandwidth_gbps,
        bandwidth_source=f"knowledge/hardware/{hw_id}.yaml ({', '.join(_src(h, 'bandwidth_gbps'))})",
        backends=tuple(h.backends), platform=h.platform, cpu_arch=h.cpu.arch, simd=tuple(h.cpu.simd),
        gpu_tflops=gpu_tflops, cpu_tflops=cpu_tflops, compute_source=f"knowledge/hardware/{hw_id}.yaml",
        cpu_bandwidth_gbps=h.system_bandwidth_gbps, hardware_id=hw_id, cpu_model=h.cpu.model,
        cpu_measured_bandwidth_gbps=h.measured_bandwidth_gbps,
        cpu_measured_bandwidth_source=(f"published measured read bandwidth, knowledge/hardware/{hw_id}.yaml "
                                       f"({', '.join(_src(h, 'measured_bandwidth_gbps'))})"),
        threads=h.cpu.cores, system_memory_gb=h.system_memory_gb,
        gpus=h.gpu.count if h.gpu is not None and h.memory_kind == "vram" else 1,
        interconnect=interconnect_of(f"{h.interconnect or ''} {h.gpu.model if h.gpu else ''}") if h.gpu else "",
    )
    if spec.gpus > 1:
        spec.notes.append(gpus_note(spec.gpus, spec.interconnect))
    return spec


def _src(h: Hardware, fld: str) -> list[str]:
    v = h.provenance.get(fld, [])
    return [v] if isinstance(v, str) else list(v)


def detected_spec(measure: bool = True, cat: Catalog | None = None) -> HardwareSpec:
    """This machine. With an NVIDIA GPU (found through NVML) and the catalog, the GPU's VRAM is the budget
    and its bandwidth and compute come from the catalog by device name; a card the catalog lacks keeps its
    VRAM budget but no GPU speed (the note says so)."""
    from .hardware import detect

    d = detect(measure=measure)
    backends = ["cpu"]
    if d.apple_silicon:
        backends.insert(0, "metal")
    spec = HardwareSpec(
        name=f"this machine ({d.cpu_model}, {d.cores_logical} threads, {d.ram_gb:.1f} GB RAM)",
        memory_gb=d.ram_gb, memory_kind="unified" if d.apple_silicon else "system",
        bandwidth_gbps=d.bandwidth_gbps or 0.0, bandwidth_source=d.bandwidth_source or "not measured",
        backends=tuple(backends), platform={"darwin": "macos"}.get(d.os, d.os), cpu_arch=d.arch,
        simd=tuple(d.simd), cpu_tflops=d.cpu_tflops, compute_source=d.cpu_tflops_source or "",
        fingerprint=d.fingerprint, detected=True, cpu_model=d.cpu_model or "", threads=d.cores_logical,
        cpuid=_cpuid_key(d.identity()),
    )
    if not d.gpus:
        return spec
    g = d.gpus[0]
    count = sum(1 for x in d.gpus if x.name == g.name)
    try:
        acc_id, acc = find_accelerator(cat, g.name)
    except InputError:
        acc_id = None
    if acc_id is not None:
        gspec = accelerator_spec(acc_id, acc, spec)
        gspec.detected = True
        gspec.name = f"this machine's {g.name} ({g.memory_gb:.1f} GB, NVML)"
    else:
        gspec = HardwareSpec(**{**spec.__dict__})
        gspec.name = f"this machine's {g.name} ({g.memory_gb:.1f} GB, NVML)"
        gspec.memory_kind, gspec.backends = "vram", ("cuda", "cpu")
        gspec.bandwidth_gbps, gspec.bandwidth_source, gspec.gpu_tflops = 0.0, "unknown", None
        gspec.cpu_bandwidth_gbps = gspec.cpu_measured_bandwidth_gbps = spec.bandwidth_gbps or None
        gspec.cpu_measured_bandwidth_source = spec.bandwidth_source
        gspec.notes = [f"{g.name} is not in knowledge/hardware/accelerators: GPU speed not estimated; give "
                       "--gpu ID or --bandwidth GB/s"]
    gspec.memory_gb = round(g.memory_gb, 2)
    gspec.system_memory_gb = d.ram_gb
    if count > 1 and acc_id is not None:  # each runtime sees them as it spreads a model (for_runtime)
        gspec = gspec.with_gpus(count)
    return gspec


def threads_view(spec: HardwareSpec, threads: Optional[int], measure=None) -> HardwareSpec:
    """This machine as llama.cpp on `threads` of its logical cores uses it, where that is fewer than all: the
    read bandwidth that many threads reach (measured now: one core does not reach the whole machine's), that
    share of the float32 rate (the matmul test runs on every core), and a configuration fingerprint of its own
    (the machine's, suffixed -threadsN), so its runs calibrate only runs of that configuration and count as the
    machine's for "before calibration". `measure(threads)` is the read test (advisor.hardware.measure_bandwidth).
    A GPU machine, or a run on every core, is returned as it is, with the thread count set."""
    import dataclasses

    every = spec.threads or 1
    if not threads or threads >= every or spec.memory_kind != "system" or not spec.fingerprint:
        return dataclasses.replace(spec, threads=threads or spec.threads)
    if measure is None:
        from .hardware import measure_bandwidth as measure
    import time

    share = f"{threads} of its {every} threads"
    return dataclasses.replace(
        spec, threads=threads, name=f"{spec.name}, llama.cpp on {share}",
        bandwidth_gbps=round(measure(threads=threads), 1),
        bandwidth_source=f"measured {time.strftime('%Y-%m-%dT%H:%M:%S')} ({threads}-thread read of 512 MiB)",
        cpu_tflops=round(spec.cpu_tflops * threads / every, 4) if spec.cpu_tflops else None,
        compute_source=(f"{spec.compute_source}, x {threads}/{every} for {share}" if spec.cpu_tflops else
                        spec.compute_source),
        fingerprint=f"{spec.fingerprint.split('-')[0]}-threads{threads}", notes=list(spec.notes))


def _with_system_ram(spec: HardwareSpec, ram_gb: float | None, base: HardwareSpec) -> HardwareSpec:
    """--ram beside --vram/--gpu: the system RAM next to the GPU (what a partial offload may use), never
    dropped; and a plan for a GPU this machine lacks says so."""
    if ram_gb and spec.system_memory_gb is not None:
        spec.system_memory_gb = ram_gb
        spec.notes.append(f"--ram {ram_gb:g}GB with a GPU: the system RAM beside its {spec.memory_gb:g} GB of VRAM "
                          "(used only for a partial offload)")
    elif ram_gb:
        spec.notes.append(f"--ram {ram_gb:g}GB ignored: {spec.name} has unified memory, its budget is the GPU's")
    if base.detected and base.memory_kind != "vram" and not any(b in base.backends for b in ("cuda", "rocm", "metal")):
        spec.notes.append("planned for a GPU this machine does not have (a plan for another machine)")
    return spec


def custom_spec(ram_gb: float | None, vram_gb: float | None, bandwidth_gbps: float | None,
                base: HardwareSpec | None, *, tflops: float | None = None, cat: Catalog | None = None,
                gpu: str | None = None) -> HardwareSpec:
    """--ram/--vram/--bandwidth/--tflops/--gpu on this machine.

    --ram alone keeps this machine's CPU (its measured bandwidth and FLOP/s). A GPU budget never borrows
    the CPU's figures: --gpu names a catalog card (or a name as nvidia-smi prints it); --vram alone takes
    the catalog's typical card of that size (else its slowest card of that size) and says so; with neither a
    card nor --bandwidth the GPU's speed is unknown and left out (speed constraints are refused with a hint)."""
    base = base or HardwareSpec("custom", None, "system", 0.0, "", ("cpu",))
    if gpu or (vram_gb and not bandwidth_gbps):
        acc = find_accelerator(cat, gpu) if gpu else typical_accelerator(cat, vram_gb) if cat else None
        if acc is not None:
            spec = accelerator_spec(*acc, base)
            if gpu is None:
                which = (f"the catalog's typical {vram_gb:g} GB card" if acc[1].typical_for_size else
                         f"the slowest {vram_gb:g} GB card in the catalog (none is marked typical for that size)")
                spec.notes.append(f"--vram {vram_gb:g}GB alone: planned on {which}, "
                                  f"{acc[1].name} ({acc[1].bandwidth_gbps:g} GB/s); give --gpu or --bandwidth for yours")
            if vram_gb:
                spec.memory_gb = vram_gb
        else:
            spec = HardwareSpec(**{**base.__dict__})
            spec.notes = list(base.notes) + [f"no catalog card has {vram_gb:g} GB: GPU speed not estimated; give "
                                             "--gpu NAME or --bandwidth GB/s (and --tflops) for speed figures"]
            spec.name = f"a {vram_gb:g} GB GPU"
            spec.memory_gb, spec.memory_kind, spec.backends = vram_gb, "vram", ("cuda", "cpu")
            spec.bandwidth_gbps, spec.bandwidth_source, spec.gpu_tflops = 0.0, "unknown (no card named)", None
            spec.cpu_bandwidth_gbps = base.bandwidth_gbps or None
            spec.cpu_measured_bandwidth_gbps = base.bandwidth_gbps or None
            spec.cpu_measured_bandwidth_source = base.bandwidth_source
            spec.system_memory_gb = base.memory_gb
        if bandwidth_gbps:
            spec.bandwidth_gbps, spec.bandwidth_source = bandwidth_gbps, "given with --bandwidth"
        if tflops:
            spec.gpu_tflops, spec.compute_source = tflops, "given with --tflops"
        spec.hardware_id = None
        return _with_system_ram(spec, ram_gb, base)
    spec = HardwareSpec(**{**base.__dict__})
    spec.notes = list(base.notes)
    spec.name = "custom budget" + (f" on {base.name}" if base.detected else "")
    if vram_gb:  # with --bandwidth: a GPU described by its figures
        spec.memory_gb, spec.memory_kind = vram_gb, "vram"
        spec.backends = ("cuda", "cpu")
        spec.cpu_bandwidth_gbps = base.bandwidth_gbps or None
        spec.cpu_measured_bandwidth_gbps = base.bandwidth_gbps or None
        spec.cpu_measured_bandwidth_source = base.bandwidth_source
        spec.system_memory_gb = base.memory_gb
        spec.gpu_tflops = tflops
        spec.compute_source = "given with --tflops" if tflops else ""
        spec.name = f"a {vram_gb:g} GB GPU at {bandwidth_gbps:g} GB/s"
        _with_system_ram(spec, ram_gb, base)
    elif ram_gb:
        spec.memory_gb = ram_gb
    if bandwidth_gbps:
        spec.bandwidth_gbps, spec.bandwidth_source = bandwidth_gbps, "given with --bandwidth"
        if not vram_gb:
            # a CPU bandwidth the user gives replaces the measured one the CPU roofline would use
            spec.cpu_measured_bandwidth_gbps = bandwidth_gbps
            spec.cpu_measured_bandwidth_source = "given with --bandwidth"
    if tflops and not vram_gb:
        if spec.memory_kind == "system" or "cpu" == spec.backends[0]:
            spec.cpu_tflops, spec.compute_source = tflops, "given with --tflops"
        else:
            spec.gpu_tflops, spec.compute_source = tflops, "given with --tflops"
    spec.hardware_id = None
    return spec


def find_accelerator(cat: Catalog | None, name: str) -> tuple[str, Accelerator]:
    """A catalog accelerator by id or by a device name as NVML / nvidia-smi prints it."""
    hit = cat.accelerator_named(name) if cat is not None else None
    if hit is None:
        raise InputError("--gpu", f"unknown GPU '{name}'", ", ".join(sorted(cat.accelerators if cat else {}))
                         or "none in the catalog")
    return hit


def typical_accelerator(cat: Catalog, vram_gb: float) -> Optional[tuple[str, Accelerator]]:
    """The catalog's discrete card of exactly that memory size marked `typical_for_size` (the common card of
    that size in published llama.cpp runs); without a mark, the slowest of that size (the conservative reading)."""
    cards = [(not a.typical_for_size, a.bandwidth_gbps, aid, a) for aid, a in cat.accelerators.items()
             if a.kind == "discrete" and abs(a.memory_gb - vram_gb) < 0.5]
    if not cards:
        return None
    *_, aid, a = min(cards)
    return aid, a


def accelerator_spec(acc_id: str, a: Accelerator, base: HardwareSpec) -> HardwareSpec:
    """A GPU from the catalog on the host `base` (this machine, or a bare custom host): the GPU's memory is
    the budget and its bandwidth and compute the roofline; the host's RAM and bandwidth stay for the CPU side."""
    where = f"knowledge/hardware/accelerators/{acc_id}.yaml"
    tflops, comp_key = a.prefill_tflops(lower_bound=True)
    unified = a.kind in ("unified", "module")
    backends = tuple(b for b in BACKEND_PREFERENCE if b in a.backends) + ("cpu",)
    spec = HardwareSpec(
        name=a.name + (f" on {base.name}" if base.detected and not unified else ""),
        memory_gb=a.memory_gb, memory_kind="unified" if unified else "vram",
        bandwidth_gbps=a.bandwidth_gbps, bandwidth_source=f"{where} ({', '.join(_src(a, 'bandwidth_gbps'))})",
        backends=backends, platform=base.platform, cpu_arch=base.cpu_arch, simd=base.simd,
        gpu_tflops=tflops, cpu_tflops=None if unified else base.cpu_tflops,
        compute_source=f"{where} ({', '.join([comp_key] + _src(a, 'compute'))})" if tflops else "",
        cpu_bandwidth_gbps=None if unified else (base.bandwidth_gbps or None),
        fingerprint=base.fingerprint, hardware_id=acc_id, cpu_model="" if unified else base.cpu_model,
        cpu_measured_bandwidth_gbps=None if unified else (base.bandwidth_gbps or None),
        cpu_measured_bandwidth_source="" if unified else base.bandwidth_source,
        threads=base.threads, accelerator=acc_id, system_memory_gb=None if unified else base.memory_gb,
    )
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
    offload: Optional["OffloadPlan"] = None  # partial offload (-ngl) when the model fits only VRAM + RAM
    quantization_name: str = ""

    def fits(self, headroom: float | None = None) -> Optional[bool]:
        """The one fit rule of every command: what must fit within the budget less the headroom (with a
        partial offload, each part within its own memory)."""
        from .requirements import DEFAULT_HEADROOM

        if not self.hardware.memory_gb:
            return None
        h = DEFAULT_HEADROOM if headroom is None else headroom
        if self.offload is not None:
            return offload_fits(self.offload, self.hardware, h)
        return self.memory.required <= self.hardware.memory_gb * (1 - h) * 1e9

    def as_dict(self) -> dict:
        return {**stack_record(self.model, self.quantization, self.quantization_name, self.runtime, self.backend,
                               self.context, self.memory, self.offload, self.speed, self.basis, self.hardware,
                               self.fits()),
                "hardware": self.hardware.hardware_id or self.hardware.name,
                "assumptions": self.assumptions}


def stack_record(model: str, quant: str, quant_name: str, runtime: str, backend: str, context: int,
                 memory: Optional[MemoryEstimate], offload, speed: Optional[SpeedEstimate], basis: Optional[str],
                 hw: HardwareSpec, fits: Optional[bool], budget_gb: Optional[float] = None) -> dict:
    """The fields every command prints for one stack, under one set of names (README: "Output fields").
    Sizes in GB (10^9 bytes); `quantization` is the id `--quant` takes, `quantization_name` its display name."""
    s = speed
    mem = memory
    return {
        "model": model, "quantization": quant, "quantization_name": quant_name, "runtime": runtime,
        "backend": backend, "context": context,
        "memory_required_gb": round(required_bytes(mem, offload) / 1e9, 3) if mem is not None else None,
        "memory_peak_gb": round(peak_bytes(mem, offload) / 1e9, 3) if mem is not None else None,
        "memory_budget_gb": budget_gb if budget_gb is not None else hw.memory_gb,
        "fits": fits,
        **offload_fields(offload, hw),
        "memory_breakdown_gb": mem.breakdown_gb(required=True) if mem is not None else None,
        "memory_reclaimable_gb": round(mem.reclaimable / 1e9, 3) if mem is not None else None,
        "decode_tps": round(s.decode_tps, 2) if s else None,
        "decode_tps_range": [round(s.decode_tps_range[0], 2), round(s.decode_tps_range[1], 2)] if s else None,
        "prefill_tps": round(s.prefill_tps, 1) if s and s.prefill_tps else None,
        "ttft_ms": round(s.ttft_ms) if s and s.ttft_ms else None,
        "basis": basis,
    }


def estimate_stack(cat: Catalog, model_id: str, quant: str, runtime_id: str, context: int, spec: HardwareSpec, *,
                   prompt_tokens: int = 512, gen_tokens: int = 128, kv: str = "f16",
                   extra_profiles: Iterable[MeasuredProfile] = (), frontend: str | None = None,
                   overrides: dict | None = None, exclude_fingerprint: str | None = None,
                   exclude_same_cpu: bool = False, listed_artifact: bool = True) -> StackEstimate:
    """`exclude_fingerprint` leaves out profiles of that machine, in every configuration (an estimate
    'before calibration'); `exclude_same_cpu` also every CPU run of the same CPU name and instruction-set
    class (runs recorded before machine identities included cpuid and SIMD flags carry another fingerprint
    for the same machine). `listed_artifact=False` sizes the weights from the GGUF layout alone, for a file
    that is not the published artifact (a synthetic GGUF written by llama.cpp's own quantizer)."""
    m = cat.model(model_id)
    q_id = cat.quant_id(quant)
    q = cat.quantizations[q_id]
    rt = cat.runtime(runtime_id)
    runtime_id = runtime_id.lower()
    if q_id not in rt.quantizations:
        raise InputError("--quant", f"{rt.name} does not load {q_id} ({q.name})", ", ".join(rt.quantizations))
    if m.availability != "open-weights" and runtime_id != "windows-ai-apis":
        raise InputError("--runtime", f"{m.name} is {m.availability}: it runs only through its platform API",
                         m.platform_api.runtime if m.platform_api else "none")
    backend = choose_backend(rt.backends, spec)
    if backend is None:
        raise InputError("--runtime", f"{rt.name} has no backend for {spec.name} (it has {', '.join(spec.backends)})",
                         ", ".join(rt.backends))
    whole = spec
    if backend != "cpu":  # several GPUs: as this runtime spreads a model over them (its memory, its speed)
        spec = spec.for_runtime(rt.multi_gpu, rt.multi_node)
    listed = listed_bytes(m, q_id, rt) if listed_artifact else None
    target = Target(cpu_arch=spec.cpu_arch, simd=spec.simd, backend=backend, memory_gb=spec.memory_gb,
                    os=spec.platform)
    mem = estimate_memory(m, q_id, runtime_id, context, kv=kv, rt=rt, target=target, frontend=frontend,
                          listed_bytes=listed, quantization=q, overrides=overrides)
    notes = [f"hardware: {spec.name}; backend {backend}"] + list(spec.notes) + mem.assumptions
    speed = None
    basis = "estimated"
    if m.architecture is not None and spec.bandwidth_for(backend)[0]:
        # leave out every configuration of that machine (fingerprints with a suffix, e.g. -threads1)
        profiles = [p for p in cat.profiles.values()
                    if not exclude_fingerprint or not (p.hardware_fingerprint or "").startswith(exclude_fingerprint)]
        if exclude_same_cpu:
            profiles = [p for p in profiles if not same_cpu_class(p, spec)]
        profiles += list(extra_profiles)  # the caller's (a calibration run of the machine) are kept
        bw, bw_src = spec.bandwidth_for(backend)
        compute = spec.gpu_tflops if backend != "cpu" else spec.cpu_tflops
        eff = efficiency(profiles, dict(cat.models), runtime_id, backend, spec.fingerprint, quant=q_id,
                         cpu_model=spec.cpu_model, threads=spec.threads, cpu_tflops=spec.cpu_tflops,
                         memory_kind=spec.memory_kind)
        speed = estimate_speed(m, q_id, runtime_id, backend, bandwidth_gbps=bw, compute_tflops=compute,
                               prompt_tokens=prompt_tokens, gen_tokens=gen_tokens, kv=kv, eff=eff, q=q,
                               bandwidth_source=bw_src, compute_source=spec.compute_source, simd=spec.simd)
        basis = speed.basis
        from .serving import machine_gpu
        from .solve import tensor_parallel, vllm_speed

        gpu = machine_gpu(cat, whole) if runtime_id == "vllm" and backend == "cuda" else None
        if gpu is not None:  # the same speed rule as recommend: vLLM's fitted serving roofline
            speed = vllm_speed(speed, m, spec, gpu, q, prompt_tokens=prompt_tokens, output_tokens=gen_tokens, kv=kv,
                               context=context)[0]
        elif (spec.gpus > 1 or spec.nodes > 1) and rt.multi_gpu == "tensor":
            speed = tensor_parallel(speed, m, spec)
        basis = apply_measured(speed, profiles, model_id, q_id, runtime_id, backend, spec, context, prompt_tokens)
        off = offload_for(m, q_id, runtime_id, backend, mem, spec)
        if off is not None:
            ceff = efficiency(profiles, dict(cat.models), runtime_id, "cpu", spec.fingerprint, quant=q_id,
                              cpu_model=spec.cpu_model, threads=spec.threads, cpu_tflops=spec.cpu_tflops)
            cpu = cpu_side_speed(m, q_id, runtime_id, spec, ceff, q, prompt_tokens, gen_tokens, kv)
            if cpu is not None:
                from .offload import offload_speed

                speed = offload_speed(speed, cpu, off, prompt_tokens)
                basis = speed.basis
            else:
                off = None
        notes += speed.assumptions
        return StackEstimate(model_id, q_id, runtime_id, backend, context, mem, speed, spec, basis, notes, off, q.name)
    elif m.availability != "open-weights":
        notes.append("speed: see the vendor's published figures (`advisor show`)")
    return StackEstimate(model_id, q_id, runtime_id, backend, context, mem, speed, spec, basis, notes,
                         quantization_name=q.name)


def offload_for(m, q_id: str, runtime_id: str, backend: str, mem: MemoryEstimate, spec: HardwareSpec,
                headroom: float | None = None):
    """A partial-offload plan (llama.cpp -ngl) for a GPU stack that does not fit VRAM but fits VRAM + RAM,
    with the same headroom in both; None when it fits VRAM whole or cannot be split."""
    from .offload import GPU_BACKENDS, GROUP, plan
    from .requirements import DEFAULT_HEADROOM

    if (runtime_id not in GROUP or backend not in GPU_BACKENDS or spec.memory_kind != "vram" or not spec.memory_gb
            or not spec.system_memory_gb or m.architecture is None):
        return None
    h = DEFAULT_HEADROOM if headroom is None else headroom
    vram = spec.memory_gb * (1 - h) * 1e9
    if mem.required <= vram:
        return None
    return plan(m.architecture, q_id, kv_bytes=mem.kv_cache, gpu_buffers=mem.buffers,
                host_bytes=mem.overhead + mem.encoders, vram_budget=vram, ram_budget=spec.system_memory_gb * (1 - h) * 1e9)


def cpu_side_speed(m, q_id, runtime_id, spec: HardwareSpec, eff, q, prompt_tokens, gen_tokens=128, kv="f16"):
    """The all-CPU estimate of a stack on the host of a discrete GPU (the CPU part of a partial offload)."""
    bw, bw_src = spec.bandwidth_for("cpu")
    if not bw:
        return None
    return estimate_speed(m, q_id, runtime_id, "cpu", bandwidth_gbps=bw, compute_tflops=spec.cpu_tflops,
                          prompt_tokens=prompt_tokens, gen_tokens=gen_tokens, kv=kv, eff=eff, q=q,
                          bandwidth_source=bw_src, compute_source="the host CPU", simd=spec.simd)


def offload_fits(p, spec: HardwareSpec, headroom: float) -> bool:
    return (p.vram_bytes <= (spec.memory_gb or 0) * (1 - headroom) * 1e9
            and p.ram_bytes <= (spec.system_memory_gb or 0) * (1 - headroom) * 1e9)


def required_bytes(mem: MemoryEstimate, p) -> int:
    """What must fit: the one rule; split across VRAM and RAM with a partial offload."""
    return p.vram_bytes + p.ram_bytes if p is not None else mem.required


def peak_bytes(mem: MemoryEstimate, p) -> int:
    return p.vram_bytes + p.ram_bytes if p is not None else mem.total


def offload_fields(p, spec: HardwareSpec) -> dict:
    if p is None:
        return {}
    return {"gpu_layers": p.gpu_layers, "layers": p.layers, "memory_vram_gb": round(p.vram_bytes / 1e9, 3),
            "memory_ram_gb": round(p.ram_bytes / 1e9, 3), "memory_ram_budget_gb": spec.system_memory_gb}


def listed_bytes(m, q_id: str, rt) -> Optional[int]:
    """The size of the published artifact of this quantization in a format the runtime loads, if listed."""
    listed = None
    for art in m.artifacts:
        if art.quantization == q_id and art.size_bytes and not art.size_estimated and art.format in rt.formats:
            listed = art.size_bytes
    return listed


def same_stack_runs(profiles, model_id, q_id, runtime_id, backend, fingerprint) -> list[MeasuredProfile]:
    """Runs of this stack on this machine (exact fingerprint: another configuration is another machine)."""
    if not fingerprint:
        return []
    return [p for p in profiles if p.model == model_id and p.quantization == q_id and p.backend == backend
            and p.hardware_fingerprint == fingerprint and _runtime_group(p.runtime) == _runtime_group(runtime_id)]


def apply_measured(speed: SpeedEstimate, profiles, model_id, q_id, runtime_id, backend, spec: HardwareSpec,
                   context: int, prompt_tokens: int) -> str:
    """The basis of a speed estimate, after this machine's runs of the same stack.

    `measured` only for the measured conditions: the same model, quantization, runtime, backend, machine
    and thread count, with the context and the prompt inside the range of this stack's runs; the figures
    are then the nearest run's. Anything else stays the model's estimate, `calibrated` from those runs
    (and the assumptions say from which)."""
    runs = same_stack_runs(profiles, model_id, q_id, runtime_id, backend, spec.fingerprint)
    if not runs:
        return speed.basis
    same_threads = [p for p in runs if spec.threads is None or p.threads in (None, spec.threads)]
    inside = []
    if same_threads:
        cmin, cmax = min(p.context for p in same_threads), max(p.context for p in same_threads)
        pmin, pmax = min(p.prompt_tokens for p in same_threads), max(p.prompt_tokens for p in same_threads)
        if cmin <= context <= cmax and pmin <= prompt_tokens <= pmax:
            inside = same_threads
    if not inside:
        latest = max(runs, key=lambda p: p.measured_at or "")
        why = ("another thread count" if not same_threads else
               f"context {context} and prompt {prompt_tokens} outside the measured range "
               f"(context {min(p.context for p in same_threads)}-{max(p.context for p in same_threads)}, prompt "
               f"{min(p.prompt_tokens for p in same_threads)}-{max(p.prompt_tokens for p in same_threads)})")
        speed.assumptions.append(f"this stack was measured on this machine ({latest.measured_at}, "
                                 f"{latest.decode_tokens_per_s.median:.1f} tokens/s at context {latest.context}, "
                                 f"{latest.threads} threads) under other conditions ({why}): the estimate is "
                                 "calibrated from that run, not measured")
        speed.basis = "calibrated"
        return "calibrated"
    best = min(inside, key=lambda p: (abs(p.context - context) + abs(p.prompt_tokens - prompt_tokens),
                                      -(1 if p.measured_at else 0), (p.measured_at or "")[::-1]))
    speed.decode_tps = best.decode_tokens_per_s.median
    speed.decode_tps_range = (best.decode_tokens_per_s.min, best.decode_tokens_per_s.max)
    if best.prefill_tokens_per_s:
        speed.prefill_tps = best.prefill_tokens_per_s.median
    if best.ttft_ms and best.prompt_tokens == prompt_tokens:
        speed.ttft_ms = best.ttft_ms.median
    elif speed.prefill_tps:
        speed.ttft_ms = (prompt_tokens / speed.prefill_tps + 1 / speed.decode_tps) * 1000
    speed.assumptions.append(f"speed measured on this machine ({best.measured_at}, n={best.decode_tokens_per_s.n}, "
                             f"context {best.context}, prompt {best.prompt_tokens}, {best.threads} threads)")
    speed.basis = "measured"
    return "measured"


def spec_of_run(p: MeasuredProfile) -> HardwareSpec:
    """The machine a stored run was measured on, as the estimate of that run needs it: its own bandwidth,
    compute, thread count, SIMD flags and fingerprint (so a replay gives the same table on any machine)."""
    from .speed import cpu_isa, profile_simd

    simd = profile_simd(p)
    arch = "arm64" if cpu_isa(p.hardware) == "arm" or {"asimd", "asimddp"} & set(simd) else "x86_64"
    return HardwareSpec(
        name=p.hardware, memory_gb=None, memory_kind="system", bandwidth_gbps=p.bandwidth_gbps or 0.0,
        bandwidth_source=f"the run's own bandwidth ({p.bandwidth_basis or 'as recorded'})", backends=(p.backend,),
        platform=str(p.machine_identity.get("os", "linux")) if p.machine_identity else "linux", cpu_arch=arch,
        simd=simd, cpu_tflops=p.compute_tflops if p.backend == "cpu" else None,
        gpu_tflops=p.compute_tflops if p.backend != "cpu" else None, compute_source="the run's own compute figure",
        fingerprint=p.hardware_fingerprint, cpu_model=p.hardware, threads=p.threads, cpu_name=_run_cpu_name(p),
        cpu_measured_bandwidth_gbps=p.bandwidth_gbps if p.backend == "cpu" else None,
        cpu_measured_bandwidth_source="the run's own read test", cpuid=_cpuid_key(p.machine_identity or {}),
    )


def _cpuid_key(identity: dict) -> tuple[str, ...]:
    """(vendor, family, model) of a machine identity, or () where it was not recorded."""
    key = tuple(str(identity.get(k) or "") for k in ("cpu_vendor", "cpu_family", "cpu_model_id"))
    return key if all(key) else ()


def same_cpu_class(p: MeasuredProfile, spec: HardwareSpec) -> bool:
    """A CPU run of a CPU like this one. Where both record cpuid, the same vendor, family and model, whatever
    kernels the run's llama.cpp build used (a Zen 4 on AVX2 kernels is still this Zen 4); two CPUs of one name
    ('AMD EPYC': a Zen 3 and a Zen 4) are told apart. Otherwise (runs recorded before identities held cpuid)
    the same CPU name, instruction-set family and int8 class. The name is compared both ways: an old run's
    name is its whole description ('this machine with 1 thread (AMD EPYC x86)'), a newer run's the CPU model
    string ('AMD EPYC'), and either may be the one predicted."""
    from .speed import cpu_isa, int8_ratio, profile_simd

    name = (spec.cpu_name or spec.cpu_model).lower().strip()
    if p.backend != "cpu" or not name:
        return False
    theirs = _cpuid_key(p.machine_identity or {})
    if theirs and spec.cpuid:
        return theirs == spec.cpuid
    run_name = _run_cpu_name(p).lower().strip()
    return (bool(run_name) and (name in run_name or run_name in name)
            and cpu_isa(p.hardware) == cpu_isa(spec.cpu_model)
            and int8_ratio(profile_simd(p)) == int8_ratio(spec.simd))


def _run_cpu_name(p: MeasuredProfile) -> str:
    """The CPU model string a run recorded in its machine identity, else its hardware description."""
    return str((p.machine_identity or {}).get("cpu_model") or p.hardware)
