"""`advisor profile`: run one stack on this machine, store it, compare it with the prediction."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from advisor.errors import AdvisorError, InputError
from advisor.estimate import StackEstimate, detected_spec, estimate_stack, threads_view
from advisor.gguf import FILE_TYPES
from advisor.kb import Catalog
from advisor.schemas import MeasuredProfile

from .measure import RunSettings, run_gguf, to_profile
from advisor.store import save_profile


class NotEnoughMemory(AdvisorError):
    exit_code = 1


@dataclass
class ProfileOutcome:
    profile: MeasuredProfile
    path: Path
    estimate: StackEstimate
    artifact: str
    comparison: list[tuple[str, Optional[float], Optional[float], str]]  # metric, predicted, measured, unit

    def as_dict(self) -> dict:
        return {
            "profile": self.profile.model_dump(mode="json", exclude_none=True),
            "stored_at": str(self.path),
            "artifact": self.artifact,
            "synthetic": self.profile.synthetic,
            "comparison": [
                {"metric": k, "predicted": p, "measured": m, "unit": u,
                 "error": (p / m - 1) if (p is not None and m) else None}
                for k, p, m, u in self.comparison
            ],
        }


def check_gguf_file(file: str) -> None:
    """--file must be a GGUF: checked before anything runs (bad input, exit 2; never a loader traceback)."""
    if not os.path.isfile(file):
        raise InputError("--file", f"no such file: {file}", "a path to a .gguf file")
    with open(file, "rb") as f:
        magic = f.read(4)
    if magic != b"GGUF":
        raise InputError("--file", f"{file} is not a GGUF file (it does not start with the GGUF magic bytes)",
                         "a .gguf file, e.g. one llama-quantize wrote")


def _artifact(cat: Catalog, model_id: str, quant: str, file: Optional[str], synthetic: bool) -> tuple[str, bool]:
    m = cat.model(model_id)
    if file:
        check_gguf_file(file)
        return file, False
    if synthetic:
        from .synth import build

        return str(build(m.architecture, quant)), True
    from .download import fetch_artifact

    for art in m.artifacts:
        if art.format == "gguf" and art.quantization == quant and art.file:
            size = art.size_bytes if (art.size_bytes and not art.size_estimated) else None
            return str(fetch_artifact(art.hf_repo or m.hf_repo, art.file, size)), False
    raise InputError("--quant", f"the knowledge base lists no {quant} GGUF file for {model_id}",
                     "--file PATH for a local GGUF, or --synthetic")


def expected_seconds(est: StackEstimate, s: RunSettings) -> Optional[float]:
    """How long the run should take, from the estimate: a warm-up (the prompt and 16 decode steps), each
    repeat's prompt and generated tokens, and the fill of the whole context when asked (its attention
    grows with the position: about half again the prefill at the start)."""
    sp = est.speed
    if sp is None or not sp.decode_tps:
        return None
    pre = sp.prefill_tps or sp.decode_tps * 4
    one = s.prompt_tokens / pre + s.gen_tokens / sp.decode_tps
    total = 2.0 + s.prompt_tokens / pre + 16 / sp.decode_tps + s.repeats * one
    if s.fill and s.context > s.prompt_tokens + s.gen_tokens + 8:
        total += 1.5 * (s.context - 8) / pre
    return total


def profile_stack(cat: Catalog, model_id: str, quant: str, *, runtime: str = "llama.cpp", file: Optional[str] = None,
                  synthetic: bool = False, settings: RunSettings = RunSettings(), force: bool = False,
                  profiles_dir: Optional[str] = None, announce=None) -> ProfileOutcome:
    """`announce(text)` is told what will run and how long it should take before the run starts."""
    m = cat.model(model_id)
    q = cat.quant_id(quant)
    if runtime not in PROFILED_RUNTIMES:
        raise InputError("--runtime", f"profiling supports {' and '.join(PROFILED_RUNTIMES)}, not '{runtime}'",
                         ", ".join(PROFILED_RUNTIMES))
    if m.availability != "open-weights" or m.architecture is None:
        raise InputError("MODEL", f"{m.name} has no downloadable weights ({m.availability})", "an open-weights model")
    hf = runtime == "transformers"
    if hf:
        check_transformers(m, q, synthetic)
    elif q not in FILE_TYPES:
        raise InputError("--quant", f"llama.cpp runs GGUF quantizations, not {q}", ", ".join(FILE_TYPES))
    if file and not hf:
        check_gguf_file(file)
    # the machine as the runner uses it: on fewer threads than its cores, their bandwidth and share of the
    # FLOP/s, recorded as a configuration of the machine (-threadsN)
    spec = threads_view(detected_spec(), settings.threads or os.cpu_count() or 1)
    if hf:
        # DynamicCache grows with the tokens actually held: the prompt, the warm-up steps and the generated
        # ones, or the whole context when the run fills it
        ctx = settings.context if settings.fill else min(settings.prompt_tokens + settings.gen_tokens + 8,
                                                         settings.context)
        est = estimate_stack(cat, model_id, q, runtime, ctx, spec, prompt_tokens=settings.prompt_tokens,
                             gen_tokens=settings.gen_tokens)
    else:
        overrides = {"flash_attn": settings.flash_attn, "swa_full": settings.swa_full,
                     "n_ubatch": settings.n_ubatch, "n_batch": settings.n_batch}

        def llama_estimate(machine):
            return estimate_stack(cat, model_id, q, runtime, settings.context, machine,
                                  prompt_tokens=settings.prompt_tokens, gen_tokens=settings.gen_tokens, kv=settings.kv,
                                  frontend="llama-cpp-python", overrides=overrides)

        est = llama_estimate(spec)
    from advisor.hardware import detect

    avail = detect(measure=False).ram_available_gb * 1e9
    if est.memory.required > avail and not force:
        raise NotEnoughMemory(
            f"{model_id} {q} on {runtime} at {settings.context} tokens is predicted to need "
            f"{est.memory.required / 1e9:.2f} GB, more than the {avail / 1e9:.2f} GB available now; "
            "use --context to ask for less, or --force")
    if announce is not None:
        from advisor.explain import run_plan

        announce(run_plan(model_id, q, runtime, settings, synthetic, file, expected_seconds(est, settings)))
    if hf:
        from .measure import run_transformers

        path, synth = _checkpoint(m, q, file, synthetic)
        raw = run_transformers(path, q, settings)
    else:
        path, synth = _artifact(cat, model_id, q, file, synthetic)
        raw = run_gguf(path, settings)
    prof = to_profile(raw, model=model_id, quantization=q, hardware_name=spec.name, fingerprint=spec.fingerprint,
                      bandwidth_gbps=spec.bandwidth_gbps, bandwidth_basis=spec.bandwidth_source,
                      compute_tflops=spec.cpu_tflops, synthetic=synth, s=settings, artifact=path)
    stored = save_profile(prof, profiles_dir)
    ran = None if hf else kernels_spec(spec, prof)
    if ran is not None:  # the llama.cpp build ran other kernels than the CPU offers: compare with those
        est = llama_estimate(ran)
    return ProfileOutcome(prof, stored, est, path, _comparison(est, prof))


def kernels_spec(spec, prof: MeasuredProfile):
    """The machine as the run used it, where the llama.cpp build compiled kernels for fewer of the CPU's
    SIMD flags than the CPU has (its flags and its own fingerprint); None where it used them all."""
    import dataclasses

    from advisor.hardware import KERNEL_FLAGS

    if set(prof.cpu_simd) == set(spec.simd) & KERNEL_FLAGS:
        return None
    return dataclasses.replace(spec, simd=tuple(prof.cpu_simd), fingerprint=prof.hardware_fingerprint)


PROFILED_RUNTIMES = ("llama.cpp", "transformers")
HF_SYNTH_ARCHS = ("qwen2", "qwen3", "llama", "phi3", "gemma3")


def check_transformers(m, q: str, synthetic: bool) -> None:
    """Transformers (PyTorch) on the CPU runs 16/32-bit checkpoints; random weights for the dense text-only
    families only (the runner imports PyTorch in its own process: here only whether it is installed)."""
    import importlib.util

    from advisor.gguf import gguf_arch

    from .measure import TORCH_DTYPES

    if q not in TORCH_DTYPES:
        raise InputError("--quant", f"the Transformers profile runs 16- and 32-bit checkpoints, not {q}",
                         ", ".join(TORCH_DTYPES))
    if not (importlib.util.find_spec("torch") and importlib.util.find_spec("transformers")):
        raise InputError("--runtime", "Transformers and PyTorch are not installed",
                         "pip install 'advisor[transformers]', or --runtime llama.cpp")
    arch = gguf_arch(m.architecture)
    if synthetic and (arch not in HF_SYNTH_ARCHS or m.architecture.experts or m.encoders):
        raise InputError("MODEL", f"random-weight Transformers models of '{arch}'"
                         + (" with image/audio encoders" if m.encoders else "") + " are not supported yet",
                         "a text-only model of " + ", ".join(HF_SYNTH_ARCHS) + " (dense), or --file DIR")


def _checkpoint(m, q: str, file: Optional[str], synthetic: bool) -> tuple[str, bool]:
    """The Transformers checkpoint folder: a local one, a random-weight one, or the listed repository's."""
    if file:
        if not os.path.isdir(file) or not os.path.isfile(os.path.join(file, "config.json")):
            raise InputError("--file", f"no checkpoint folder at {file}", "a folder with config.json and safetensors files")
        return file, False
    if synthetic:
        from advisor.gguf import gguf_arch

        from .measure import synthetic_checkpoint

        return synthetic_checkpoint(m.architecture.model_dump_json(), gguf_arch(m.architecture), q), True
    from .download import fetch_checkpoint

    return str(fetch_checkpoint(m.hf_repo)), False


def _comparison(est: StackEstimate, prof: MeasuredProfile) -> list:
    s = est.speed
    comparison = [
        ("memory_peak_gb", est.memory.total / 1e9, prof.peak_rss_bytes / 1e9 if prof.peak_rss_bytes else None, "GB"),
        ("decode_tps", s.decode_tps if s else None, prof.decode_tokens_per_s.median, "tokens/s"),
        ("prefill_tps", s.prefill_tps if s else None,
         prof.prefill_tokens_per_s.median if prof.prefill_tokens_per_s else None, "tokens/s"),
        ("ttft_ms", s.ttft_ms if s else None, prof.ttft_ms.median if prof.ttft_ms else None, "ms"),
    ]
    return comparison
