"""Run a GGUF in a fresh process (profiling.runner) and turn the result into a MeasuredProfile."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Optional

from advisor.errors import AdvisorError
from advisor.schemas import MeasuredProfile, Source, Spread

TOOL_VERSION = "advisor 0.1.0"


class ProfileRunError(AdvisorError):
    exit_code = 1


@dataclass(frozen=True)
class RunSettings:
    context: int = 4096
    prompt_tokens: int = 512
    gen_tokens: int = 128
    repeats: int = 3
    threads: Optional[int] = None
    flash_attn: bool = False
    swa_full: bool = True
    n_batch: int = 512
    n_ubatch: int = 512
    fill: bool = False
    kv: str = "f16"


def run_gguf(path: str, s: RunSettings, timeout: float = 3600, preexec=None) -> dict:
    """Raw result dict of profiling.runner for this GGUF (raises ProfileRunError on failure).
    `preexec` runs in the child before exec (e.g. joining a memory cgroup, profiling.cgroup)."""
    cmd = [sys.executable, "-m", "profiling.runner", "--model", str(path), "--ctx", str(s.context),
           "--prompt-tokens", str(s.prompt_tokens), "--gen-tokens", str(s.gen_tokens), "--repeats", str(s.repeats),
           "--threads", str(s.threads or os.cpu_count() or 1), "--flash-attn", str(int(s.flash_attn)),
           "--swa-full", str(int(s.swa_full)), "--n-batch", str(s.n_batch), "--n-ubatch", str(s.n_ubatch),
           "--fill", str(int(s.fill)), "--type-k", s.kv, "--type-v", s.kv]
    return _run(cmd, timeout, "llama.cpp", preexec=preexec)


TORCH_DTYPES = {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}


def run_transformers(model_dir: str, quant: str, s: RunSettings, timeout: float = 3600) -> dict:
    """Raw result dict of profiling.hf_runner for a checkpoint folder."""
    cmd = [sys.executable, "-m", "profiling.hf_runner", "--dtype", TORCH_DTYPES[quant], "--model", model_dir,
           "--prompt-tokens", str(s.prompt_tokens), "--gen-tokens", str(s.gen_tokens), "--repeats", str(s.repeats),
           "--threads", str(s.threads or os.cpu_count() or 1)]
    if s.fill:
        cmd += ["--fill-to", str(s.context - 8)]
    return _run(cmd, timeout, "Transformers")


def synthetic_checkpoint(arch_json: str, gguf_arch: str, quant: str, timeout: float = 3600) -> str:
    """A cached checkpoint folder with random weights and the architecture's shapes (built in its own process)."""
    import hashlib

    from .synth import cache_dir

    key = hashlib.sha256(f"{gguf_arch}|{arch_json}|{quant}".encode()).hexdigest()[:16]
    out = cache_dir() / f"hf-{gguf_arch}-{key}-{quant}"
    if not (out / "config.json").exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "profiling.hf_runner", "--build", str(out), "--architecture", arch_json,
               "--gguf-arch", gguf_arch, "--dtype", TORCH_DTYPES[quant]]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.dirname(__file__)),
                                                             os.environ.get("PYTHONPATH", "")])}
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        if r.returncode != 0 or not (out / "config.json").exists():
            tail = "\n".join(r.stderr.strip().splitlines()[-8:])
            raise ProfileRunError(f"building the random-weight Transformers checkpoint failed:\n{tail}")
        from .synth import prune

        prune(out.parent, keep=out)
    else:
        os.utime(out)
    return str(out)


def _die_with_parent() -> None:
    """In the child before exec: on Linux, SIGKILL when the parent dies (Ctrl-C, kill, a timeout of the
    caller), so no runner keeps the cores busy after the command that started it is gone."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _show_progress(line: str, started: float) -> None:
    try:
        d = json.loads(line)
    except ValueError:
        return
    phase = d.pop("phase", "")
    parts = []
    if "repeat" in d:
        parts.append(f"repeat {d['repeat']}/{d['repeats']}")
    if phase == "decode":
        parts.append(f"{d['tokens']}/{d['gen_tokens']} tokens")
    elif "prompt_tokens" in d:
        parts.append(f"{d['prompt_tokens']} prompt tokens")
    elif "tokens" in d:
        parts.append(f"{d['tokens']} tokens")
    sys.stderr.write(f"  [{time.monotonic() - started:6.1f} s] {phase} {', '.join(parts)}\n")
    sys.stderr.flush()


def _run(cmd: list[str], timeout: float, what: str, *, quiet: Optional[bool] = None,
         preexec=None) -> dict:
    """Run a runner in a child process that dies with this one; its progress lines go to stderr (unless
    quiet, the default when stderr is not a terminal and ADVISOR_PROGRESS is unset)."""
    import threading

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.dirname(__file__)),
                                                         os.environ.get("PYTHONPATH", "")])}
    if quiet is None:
        quiet = not (os.environ.get("ADVISOR_PROGRESS") or sys.stderr.isatty())

    def pre():
        _die_with_parent()
        if preexec is not None:
            preexec()

    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=pre if os.name == "posix" else None)
    err_lines: list[str] = []
    verbose = bool(os.environ.get("ADVISOR_VERBOSE"))
    seen_amx = []  # the loader's AMX buffer line comes long before a crash's last lines

    def read_err():
        for line in proc.stderr:
            if "AMX model buffer" in line:
                seen_amx.append(True)
            if line.startswith("@@PROGRESS@@"):
                if not quiet:
                    _show_progress(line[len("@@PROGRESS@@"):], started)
            else:
                if verbose:  # llama.cpp's / PyTorch's own log, shown only with --verbose
                    sys.stderr.write(line)
                err_lines.append(line.rstrip("\n"))
                del err_lines[:-200]

    out_chunks: list[str] = []
    readers = [threading.Thread(target=read_err, daemon=True),
               threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()), daemon=True)]
    for t in readers:
        t.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired as e:
        proc.kill()
        proc.wait()
        raise ProfileRunError(f"the profile run did not finish within {timeout:.0f} s") from e
    except BaseException:  # Ctrl-C or any error here: the runner must not outlive the command
        proc.kill()
        proc.wait()
        raise
    for t in readers:
        t.join(timeout=10)
    out = "".join(out_chunks)
    for line in out.splitlines():
        if line.startswith("@@RESULT@@"):
            return json.loads(line[len("@@RESULT@@"):])
    tail = "\n".join(x for x in err_lines if x.strip())
    hint = _crash_hint(proc.returncode, bool(seen_amx))
    tail = "\n".join(tail.splitlines()[-8:])
    raise ProfileRunError(f"{what} run failed (exit {proc.returncode}):\n{tail}" + (f"\n{hint}" if hint else ""))


def _crash_hint(returncode: int, loaded_amx: bool) -> str:
    """What to do about a crash whose cause is known."""
    if returncode == -11 and loaded_amx:
        return ("llama.cpp crashed in its AMX kernels (it loaded the weights into an AMX buffer): GCC builds of "
                "llama.cpp optimise the AMX tile configuration away and the first matrix product faults "
                "(https://github.com/ggml-org/llama.cpp/pull/26954). Rebuild llama-cpp-python without AMX: "
                "CMAKE_ARGS=\"$(python3 tools/llama_cmake_args.py)\" pip install --force-reinstall --no-cache-dir "
                "--no-deps llama-cpp-python")
    return ""


def _spread(values: list[float]) -> Spread:
    return Spread(n=len(values), min=min(values), median=statistics.median(values), max=max(values))


def to_profile(raw: dict, *, model: str, quantization: str, hardware_name: str, fingerprint: str,
               bandwidth_gbps: Optional[float], bandwidth_basis: str, compute_tflops: Optional[float],
               synthetic: bool, s: RunSettings, artifact: str) -> MeasuredProfile:
    runs = raw["runs"]
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    settings = dict(raw["settings"])
    settings["artifact"] = os.path.basename(artifact)
    if raw["rss"].get("before_load"):
        settings["rss_before_load"] = raw["rss"]["before_load"]  # the Python interpreter and llama_cpp import
    hf = raw.get("runtime") == "transformers"
    from advisor.hardware import KERNEL_FLAGS, build_kernel_flags, detect, fingerprint_of

    me = detect(measure=False)
    # bandwidth_gbps and compute_tflops are the caller's: for a run on fewer threads than the cores, those of the
    # threads used (advisor.estimate.threads_view), which also names the configuration (-threadsN)
    native = sorted(set(me.simd) & KERNEL_FLAGS)
    # the flags llama.cpp's kernels use: a build without some of the CPU's features runs other kernels, so
    # it is another machine (its own identity and fingerprint, unless the caller names a configuration)
    kernels = native if hf else build_kernel_flags(me.simd, raw.get("system_info"))
    identity = me.identity()
    notes = []
    if kernels != native:
        identity["simd"] = kernels
        base, _, config = fingerprint.partition("-")
        own = base == me.fingerprint and (not config or config.startswith("threads"))
        if own:  # this machine (or its thread configuration) with other kernels: another machine's identity
            fingerprint = fingerprint_of(identity) + (f"-{config}" if config else "")
        notes.append(f"llama.cpp here was built without kernels for the CPU's {', '.join(sorted(set(native) - set(kernels)))}: "
                     + ("the run is recorded as a machine of its own" if own else
                        f"the run is recorded under the configuration fingerprint {fingerprint}"))
    return MeasuredProfile(
        cpu_simd=kernels, machine_identity=identity, notes=notes,
        model=model, quantization=quantization, runtime="transformers" if hf else "llama.cpp",
        runtime_version=f"{'transformers' if hf else 'llama-cpp-python'} {raw['runtime_version']}", backend="cpu",
        hardware=hardware_name, hardware_fingerprint=fingerprint, bandwidth_gbps=bandwidth_gbps,
        bandwidth_basis=bandwidth_basis, compute_tflops=compute_tflops, threads=settings.get("threads"),
        context=s.context, prompt_tokens=s.prompt_tokens, gen_tokens=s.gen_tokens,
        decode_tokens_per_s=_spread([r["decode_tps"] for r in runs]),
        prefill_tokens_per_s=_spread([r["prefill_tps"] for r in runs]),
        ttft_ms=_spread([r["ttft_ms"] for r in runs]),
        load_s=raw["load_s"], peak_rss_bytes=raw["rss"]["peak"], rss_anon_bytes=raw["rss"]["anon_end"],
        rss_file_bytes=raw["rss"]["file_end"], buffers_mib=raw["buffers_mib"],
        settings={k: v for k, v in settings.items() if isinstance(v, (int, float, str, bool)) or v is None},
        synthetic=synthetic, tool_version=TOOL_VERSION, measured_at=stamp,
        sources={"run": Source(kind="measured", ref=f"advisor profile run {stamp} on {hardware_name}",
                               note=raw.get("system_info"))},
        provenance={k: "run" for k in (
            "decode_tokens_per_s", "prefill_tokens_per_s", "ttft_ms", "load_s", "peak_rss_bytes", "rss_anon_bytes",
            "rss_file_bytes", "buffers_mib", "settings", "bandwidth_gbps", "compute_tflops", "threads",
            "hardware_fingerprint", "runtime_version", "measured_at", "backend", "quantization", "context",
            "prompt_tokens", "gen_tokens", "synthetic", "tool_version", "bandwidth_basis", "hardware", "model",
            "runtime", "cpu_simd", "machine_identity")},
    )
