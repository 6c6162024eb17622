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
import shutil
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

SIMD_FLAGS = (
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
    "neon", "asimd", "asimddp", "dotprod", "i8mm", "sve", "sve2", "bf16", "fphp", "asimdhp",
)


@dataclass
class GpuInfo:
    name: str
    memory_gb: float
    driver: Optional[str] = None


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
    bandwidth_gbps: Optional[float] = None
    bandwidth_source: Optional[str] = None
    cpu_tflops: Optional[float] = None
    cpu_tflops_source: Optional[str] = None

    @property
    def fingerprint(self) -> str:
        """Stable id of the machine for matching stored profiles."""
        gpu = "+".join(g.name for g in self.gpus) or "nogpu"
        raw = f"{self.os}|{self.arch}|{self.cpu_model}|{self.cores_logical}|{round(self.ram_gb)}|{gpu}"
        import hashlib

        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["fingerprint"] = self.fingerprint
        return d


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


def _nvidia() -> list[GpuInfo]:
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) >= 2:
            try:
                gpus.append(GpuInfo(parts[0], float(parts[1]) / 1024, parts[2] if len(parts) > 2 else None))
            except ValueError:
                continue
    return gpus


def measure_bandwidth(size_mb: int = 512, threads: int | None = None, repeats: int = 5) -> float:
    """Peak read bandwidth in GB/s: threads summing disjoint slices of one large array."""
    import numpy as np
    from concurrent.futures import ThreadPoolExecutor

    threads = threads or os.cpu_count() or 1
    n = size_mb * 2**20 // 8
    data = np.ones(n, dtype=np.int64)
    slices = np.array_split(data, threads)
    best = 0.0
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(np.sum, slices))  # warm-up: touch every page
        for _ in range(repeats):
            t0 = time.perf_counter()
            list(pool.map(np.sum, slices))
            dt = time.perf_counter() - t0
            best = max(best, data.nbytes / dt / 1e9)
    return best


def measure_flops(n: int = 2048, repeats: int = 3) -> float:
    """float32 matrix-multiply throughput in TFLOP/s (numpy's BLAS, all cores)."""
    import numpy as np

    a = np.ones((n, n), dtype=np.float32)
    b = np.ones((n, n), dtype=np.float32)
    a @ b  # warm-up
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        best = max(best, 2 * n**3 / (time.perf_counter() - t0) / 1e12)
    return best


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
    if entry and "cpu_tflops" in entry:
        hw.bandwidth_gbps = entry["bandwidth_gbps"]
        hw.bandwidth_source = f"measured {entry['measured_at']} (read test, cached in {cache})"
        hw.cpu_tflops = entry["cpu_tflops"]
        hw.cpu_tflops_source = f"measured {entry['measured_at']} (float32 matmul, cached)"
        return hw
    bw = measure_bandwidth()
    hw.bandwidth_gbps = round(bw, 1)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    hw.bandwidth_source = f"measured {stamp} (multi-threaded read of 512 MiB)"
    hw.cpu_tflops = round(measure_flops(), 4)
    hw.cpu_tflops_source = f"measured {stamp} (float32 2048x2048 matmul)"
    cached[hw.fingerprint] = {"bandwidth_gbps": hw.bandwidth_gbps, "cpu_tflops": hw.cpu_tflops, "measured_at": stamp}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(cached, indent=2))
        tmp.replace(cache)
    except OSError:
        pass
    return hw
