"""Detection of the machine the advisor runs on.

Reads what the OS reports (RAM, CPU model, cores, SIMD flags, NVIDIA GPUs,
Apple silicon) and measures memory read bandwidth with a short multi-threaded
read test, cached per machine so a roofline on an unknown machine rests on a
measured figure rather than a guess.
"""

from __future__ import annotations

import json
import os
import platform as _platform
import re
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

SIMD_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512vbmi",
    "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
    "neon", "asimd", "asimddp", "dotprod", "i8mm", "sve", "sve2", "bf16", "fphp", "asimdhp",
)
# The flags that choose a llama.cpp CPU kernel (ggml-cpu's feature checks: AVX2/FMA/F16C, the AVX-512
# families and VNNI, AVX-VNNI, AMX; on ARM dot product, int8 matrix multiply, SVE, fp16 arithmetic).
# The same CPU name with another set runs other kernels: another machine.
KERNEL_FLAGS = frozenset(SIMD_FLAGS) - {"sse4_2"}

# llama.cpp's CPU feature names (ggml-cpu's ggml_cpu_get_features, printed by llama_print_system_info as
# "AVX512 = 1 | AVX512_VNNI = 1 | ...") and the CPU flags whose kernels each one compiles. GGML_AVX512
# builds with -mavx512f -mavx512bw -mavx512vl (ggml/src/ggml-cpu/CMakeLists.txt); AMX_INT8 stands for the
# AMX tile kernels.
LLAMA_CPU_FEATURES = {
    "AVX": ("avx",), "AVX2": ("avx2",), "FMA": ("fma",), "F16C": ("f16c",),
    "AVX512": ("avx512f", "avx512bw", "avx512vl"), "AVX512_VBMI": ("avx512vbmi",),
    "AVX512_VNNI": ("avx512_vnni",), "AVX512_BF16": ("avx512_bf16",), "AVX_VNNI": ("avx_vnni",),
    "AMX_INT8": ("amx_tile", "amx_int8", "amx_bf16"),
    "NEON": ("neon", "asimd"), "DOTPROD": ("asimddp", "dotprod"), "MATMUL_INT8": ("i8mm",), "SVE": ("sve", "sve2"),
    "FP16_VA": ("fphp", "asimdhp"),
}

# the other names the same line carries: a line with any of them is llama.cpp's
LLAMA_OTHER_FEATURES = frozenset({"SSE3", "SSSE3", "BMI2", "LLAMAFILE", "OPENMP", "REPACK", "ARM_FMA", "SME",
                                  "KLEIDIAI", "ACCELERATE", "RISCV_V", "VSX", "WASM_SIMD"})


def llama_cpu_flags(system_info: Optional[str]) -> Optional[set[str]]:
    """The CPU flags whose kernels a llama.cpp system-info line ("AVX2 = 1 | AVX512 = 1 | ...") lists as
    built; None where the text is no such line."""
    on = {k.replace("_", "") for k, v in re.findall(r"\b([A-Z0-9_]+) = (\d)", system_info or "") if v == "1"}
    if not on & {f.replace("_", "") for f in (*LLAMA_CPU_FEATURES, *LLAMA_OTHER_FEATURES)}:
        return None
    return {flag for feature, flags in LLAMA_CPU_FEATURES.items() if feature.replace("_", "") in on for flag in flags}


def build_kernel_flags(cpu_flags, system_info: Optional[str]) -> list[str]:
    """The CPU's kernel-choosing flags that a llama.cpp build compiled kernels for: the CPU's flags less
    those whose llama.cpp feature the build's system-info line does not list as on. A build made for another
    CPU (GGML_NATIVE=OFF, a generic wheel or container) runs AVX2 kernels on an AVX-512 CPU and is as fast
    as an AVX2 machine. Without a parsable line the CPU's flags stand."""
    flags = set(cpu_flags) & KERNEL_FLAGS
    built = llama_cpu_flags(system_info)
    if built is None:
        return sorted(flags)
    named = {flag for fl in LLAMA_CPU_FEATURES.values() for flag in fl}
    return sorted(f for f in flags if f in built or f not in named)


@dataclass
class GpuInfo:
    name: str
    memory_gb: float
    driver: Optional[str] = None


@dataclass
class CpuId:
    """What the CPU reports of itself: x86 vendor / family / model / stepping (cpuid), or the ARM
    implementer / part / variant / revision (MIDR)."""

    vendor: str = ""
    family: str = ""
    model: str = ""
    stepping: str = ""


@dataclass
class DetectedHardware:
    os: str
    arch: str
    cpu_model: str
    cores_logical: int
    cores_physical: int
    ram_gb: float
    ram_available_gb: float
    simd: list[str] = field(default_factory=list)
    gpus: list[GpuInfo] = field(default_factory=list)
    apple_silicon: bool = False
    cpuid: CpuId = field(default_factory=CpuId)
    bandwidth_gbps: Optional[float] = None
    bandwidth_source: Optional[str] = None
    cpu_tflops: Optional[float] = None
    cpu_tflops_source: Optional[str] = None

    def identity(self) -> dict:
        """Everything that changes llama.cpp's speed on this machine: the CPU (cpuid, name, the kernel-choosing
        SIMD flags), the core count and the GPUs. RAM size is not part of it (it does not change speed)."""
        return identity_of(self.os, self.arch, self.cpuid, self.cpu_model, self.simd, self.cores_logical,
                           [g.name for g in self.gpus])

    @property
    def fingerprint(self) -> str:
        """Stable id of the machine for matching stored profiles (a hash of `identity()`)."""
        return fingerprint_of(self.identity())

    def as_dict(self) -> dict:
        d = asdict(self)
        d["identity"] = self.identity()
        d["fingerprint"] = self.fingerprint
        return d


def identity_of(os_name: str, arch: str, cpuid: CpuId, cpu_model: str, simd, cores: int, gpus) -> dict:
    return {"os": os_name, "arch": arch, "cpu_vendor": cpuid.vendor, "cpu_family": cpuid.family,
            "cpu_model_id": cpuid.model, "cpu_stepping": cpuid.stepping, "cpu_model": cpu_model,
            "simd": sorted(set(simd) & KERNEL_FLAGS), "cores": cores, "gpus": sorted(gpus)}


def fingerprint_of(identity: dict) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _meminfo() -> tuple[float, float]:
    text = _read("/proc/meminfo")
    vals = {k: int(v) for k, v in re.findall(r"^(\w+):\s+(\d+) kB", text, re.M)}
    if vals:
        return vals.get("MemTotal", 0) / 2**20, vals.get("MemAvailable", vals.get("MemFree", 0)) / 2**20
    try:  # macOS / BSD
        total = int(subprocess.run(["sysctl", "-n", "hw.memsize"], capture_output=True, text=True, timeout=5).stdout)
        return total / 2**30, total / 2**30
    except (OSError, ValueError, subprocess.SubprocessError):
        return 0.0, 0.0


def _cpu() -> tuple[str, list[str], int]:
    text = _read("/proc/cpuinfo")
    model = ""
    m = re.search(r"^(model name|Hardware|Model)\s*:\s*(.+)$", text, re.M)
    if m:
        model = m.group(2).strip()
    flags_m = re.search(r"^(flags|Features)\s*:\s*(.+)$", text, re.M)
    flags = set(flags_m.group(2).split()) if flags_m else set()
    physical = len({
        (p, c) for p, c in re.findall(r"physical id\s*:\s*(\d+)\s*\n(?:.*\n)*?core id\s*:\s*(\d+)", text)
    })
    if not model and _platform.system() == "Darwin":
        try:
            model = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                   text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
        if _platform.machine() == "arm64":
            flags |= {"neon", "dotprod"}
    simd = [f for f in SIMD_FLAGS if f in flags]
    return model or _platform.processor() or "unknown", simd, physical


def _cpuid(text: str | None = None) -> CpuId:
    """cpuid fields from /proc/cpuinfo (x86: vendor_id, cpu family, model, stepping; ARM: CPU implementer,
    part, variant, revision); on macOS the sysctl brand and family."""
    text = _read("/proc/cpuinfo") if text is None else text

    def field_(name: str) -> str:
        m = re.search(rf"^{name}\s*:\s*(.+)$", text, re.M)
        return m.group(1).strip() if m else ""

    if field_("vendor_id") or field_("cpu family"):
        return CpuId(field_("vendor_id"), field_("cpu family"), field_("model"), field_("stepping"))
    if field_("CPU implementer"):
        return CpuId(field_("CPU implementer"), field_("CPU architecture"), field_("CPU part"),
                     f"{field_('CPU variant')}/{field_('CPU revision')}")
    if _platform.system() == "Darwin":
        try:
            fam = subprocess.run(["sysctl", "-n", "hw.cpufamily"], capture_output=True, text=True, timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            fam = ""
        return CpuId("apple" if _platform.machine() == "arm64" else "intel", fam)
    return CpuId()


def _nvidia() -> list[GpuInfo]:
    """NVIDIA GPUs through NVML (the nvidia-ml-py package: the driver's own library, no tool output parsed).
    No package, no driver library or no GPU: none."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...: no usable GPU
        return []
    gpus = []
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        driver = driver.decode() if isinstance(driver, bytes) else driver
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            name = name.decode() if isinstance(name, bytes) else name
            total = pynvml.nvmlDeviceGetMemoryInfo(h).total
            gpus.append(GpuInfo(name, total / 1e9, driver))  # GB (1e9 bytes), as every budget here
    except Exception:  # noqa: BLE001 - a device that does not answer is left out
        pass
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass
    return gpus


MEASURE_SECONDS = 0.4  # the compute test repeats for at least this long
# The read test runs for at least this long and reports its median pass. On a shared VM the bandwidth one
# process gets comes in bursts: on the 2-vCPU EPYC VM, 8 s of back-to-back passes read about 33 GB/s with
# bursts of 50-63 GB/s lasting 0.1-1 s (a fifth of the passes), while llama.cpp's decode speed did not follow
# the bursts (tok/s within its usual spread whether the test before it read 33 or 60). The best pass of a
# short window caught a burst in some runs and not in others; the median over a longer one is the
# sustained figure a token-by-token decode sees, and a short dip (a neighbour, a process starting) moves it
# as little as a burst does.
BANDWIDTH_SECONDS = 3.0


def measure_bandwidth(size_mb: int = 512, threads: int | None = None, repeats: int = 5,
                      seconds: float = BANDWIDTH_SECONDS) -> float:
    """Sustained read bandwidth in GB/s: threads summing disjoint slices of one large array, the median pass
    of at least `repeats` passes and `seconds`."""
    import statistics
    import numpy as np
    from concurrent.futures import ThreadPoolExecutor

    threads = threads or os.cpu_count() or 1
    n = size_mb * 2**20 // 8
    data = np.ones(n, dtype=np.int64)
    slices = np.array_split(data, threads)
    rates = []
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(np.sum, slices))  # warm-up: touch every page
        start = time.perf_counter()
        while len(rates) < repeats or time.perf_counter() - start < seconds:
            t0 = time.perf_counter()
            list(pool.map(np.sum, slices))
            rates.append(data.nbytes / (time.perf_counter() - t0) / 1e9)
    return statistics.median(rates)


def measure_flops(n: int = 2048, repeats: int = 3) -> float:
    """float32 matrix-multiply throughput in TFLOP/s (numpy's BLAS, all cores)."""
    import numpy as np

    a = np.ones((n, n), dtype=np.float32)
    b = np.ones((n, n), dtype=np.float32)
    a @ b  # warm-up
    best = 0.0
    start, i = time.perf_counter(), 0
    while i < repeats or time.perf_counter() - start < MEASURE_SECONDS:
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e12)
        i += 1
    return best


# A bandwidth test during which other processes used this share of the CPU is disturbed: it is kept, marked,
# and measured again by a later command that finds the machine quieter.
DISTURBED_SHARE = 0.15


def _cpu_times() -> tuple[float, float, float]:
    """(busy seconds of the whole machine, this process's CPU seconds, wall clock) from /proc/stat."""
    busy = 0.0
    try:
        vals = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        busy = (sum(vals) - vals[3] - (vals[4] if len(vals) > 4 else 0)) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    t = os.times()
    return busy, t.user + t.system, time.monotonic()


def _others_share(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
    """Share of the machine's CPU time that other processes used between the two readings."""
    wall = after[2] - before[2]
    cores = os.cpu_count() or 1
    if wall <= 0 or not after[0]:
        return 0.0
    others = (after[0] - before[0]) - (after[1] - before[1])
    return max(0.0, min(1.0, others / (wall * cores)))


def others_busy_now(seconds: float = 0.3) -> float:
    before = _cpu_times()
    time.sleep(seconds)
    return _others_share(before, _cpu_times())


def _cache_file() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("advisor")) / "hardware.json"


def detect(measure: bool = True, refresh: bool = False) -> DetectedHardware:
    ram, avail = _meminfo()
    model, simd, physical = _cpu()
    logical = os.cpu_count() or 1
    hw = DetectedHardware(
        os=_platform.system().lower(),
        arch=_platform.machine().lower().replace("aarch64", "arm64").replace("amd64", "x86_64"),
        cpu_model=model,
        cores_logical=logical,
        cores_physical=physical or logical,
        ram_gb=round(ram, 2),
        ram_available_gb=round(avail, 2),
        simd=simd,
        gpus=_nvidia(),
        apple_silicon=_platform.system() == "Darwin" and _platform.machine() == "arm64",
        cpuid=_cpuid(),
    )
    if not measure:
        return hw
    cache = _cache_file()
    cached = {}
    if cache.exists() and not refresh:
        try:
            cached = json.loads(cache.read_text())
        except (OSError, ValueError):
            cached = {}
    entry = cached.get(hw.fingerprint)
    if entry and "cpu_tflops" in entry and not (entry.get("disturbed") and others_busy_now() < DISTURBED_SHARE):
        hw.bandwidth_gbps = entry["bandwidth_gbps"]
        hw.bandwidth_source = (f"measured {entry['measured_at']} (read test, cached in {cache}"
                               + (f"; other processes used {entry['others_cpu_share']:.0%} of the CPU during it"
                                  if entry.get("disturbed") else "") + ")")
        hw.cpu_tflops = entry["cpu_tflops"]
        hw.cpu_tflops_source = f"measured {entry['measured_at']} (float32 matmul, cached)"
        return hw
    before = _cpu_times()
    bw = measure_bandwidth()
    flops = measure_flops()
    share = _others_share(before, _cpu_times())
    if entry and entry.get("disturbed") and not refresh:  # a re-measurement of a disturbed one: keep the best
        bw, flops = max(bw, entry["bandwidth_gbps"]), max(flops, entry["cpu_tflops"])
    hw.bandwidth_gbps = round(bw, 1)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    disturbed = share >= DISTURBED_SHARE
    hw.bandwidth_source = (f"measured {stamp} (multi-threaded read of 512 MiB, median pass of {BANDWIDTH_SECONDS:g} s"
                           + (f"; other processes used {share:.0%} of the CPU during it: re-measured when idle"
                              if disturbed else "") + ")")
    hw.cpu_tflops = round(flops, 4)
    hw.cpu_tflops_source = f"measured {stamp} (float32 2048x2048 matmul)"
    cached[hw.fingerprint] = {"bandwidth_gbps": hw.bandwidth_gbps, "cpu_tflops": hw.cpu_tflops, "measured_at": stamp,
                              "others_cpu_share": round(share, 3), "disturbed": disturbed,
                              "identity": hw.identity()}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(cached, indent=2))
        tmp.replace(cache)
    except OSError:
        pass
    return hw
