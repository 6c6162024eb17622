"""`advisor verify`: recommend, run the pick on this machine, and check each constraint.

The pick is the best recommendation this machine can run: an open-weights model with a GGUF
quantization on llama.cpp or Ollama (same engine, through llama-cpp-python), or a 16/32-bit
checkpoint on Transformers (PyTorch on the CPU, the transformers extra); with --synthetic an
architecture the synthetic builders support. When that is not the top
recommendation the report says which stacks were passed over and why. When nothing is
predicted to meet every requirement but some stacks miss only the predicted speed or TTFT,
the best of those is run: measuring is how to settle a predicted miss.

The run uses the requirements' context and prompt length and llama-server's defaults (the
settings the recommendation assumed: flash attention on, trimmed sliding-window caches,
n_batch 2048). The memory prediction is the recommendation's own; speed and TTFT are
predicted before the run for its settings. The run is stored as a measured profile, so
later estimates on this machine are calibrated by it.

Checks (PASS or FAIL):
- memory: measured peak resident memory within the budget less headroom (the same usable
  memory `recommend` allows);
- decode speed: measured median decode tokens/s at least --min-tps;
- time to first token: measured median at most --max-ttft-ms for --prompt-tokens.
A check without a requirement (no --min-tps, say) is reported as `info`, not failed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from advisor.errors import AdvisorError, InputError
from advisor.explain import violation_sentence
from advisor.gguf import FILE_TYPES

from .measure import RunSettings

LLAMA_ENGINE = ("llama.cpp", "ollama")


class NothingToVerify(AdvisorError):
    exit_code = 3


@dataclass
class Check:
    name: str
    required: Optional[str]
    predicted: Optional[float]
    measured: Optional[float]
    unit: str
    status: str   # PASS | FAIL | info

    def as_dict(self) -> dict:
        err = (self.predicted / self.measured - 1) if (self.predicted is not None and self.measured) else None
        return {"check": self.name, "required": self.required, "predicted": self.predicted,
                "measured": self.measured, "unit": self.unit, "error": err, "status": self.status}


@dataclass
class VerifyOutcome:
    pick: dict
    passed_over: list[dict]
    checks: list[Check]
    profile_path: str
    synthetic: bool
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status != "FAIL" for c in self.checks)

    def as_dict(self) -> dict:
        return {"result": "PASS" if self.ok else "FAIL", "pick": self.pick, "passed_over": self.passed_over,
                "checks": [c.as_dict() for c in self.checks], "profile": self.profile_path,
                "synthetic": self.synthetic, "notes": self.notes}


def runnable_reason(c, synthetic: bool) -> Optional[str]:
    """Why this candidate cannot be profiled here (None when it can)."""
    m = c.model
    if m.availability != "open-weights" or m.architecture is None:
        return f"{c.model_id} has no downloadable weights ({m.availability})"
    if c.runtime == "transformers":
        return _transformers_reason(c, synthetic)
    if c.runtime not in LLAMA_ENGINE:
        return f"{c.runtime} is not profiled yet (llama.cpp and Transformers only)"
    if c.quant not in FILE_TYPES:
        return f"{c.quant} is not a GGUF type llama.cpp's quantizer makes"
    if c.backend != "cpu":
        return f"backend {c.backend}: the harness runs llama.cpp on the CPU"
    if synthetic:
        from advisor.gguf import gguf_arch

        from .synth import SUPPORTED_ARCHS

        arch = gguf_arch(m.architecture)
        if arch not in SUPPORTED_ARCHS:
            return f"the synthetic builder does not support {arch} yet"
    return None


def _transformers_reason(c, synthetic: bool) -> Optional[str]:
    from .profile import check_transformers

    if c.backend != "cpu":
        return f"backend {c.backend}: the harness runs Transformers on the CPU"
    try:
        check_transformers(c.model, c.quant, synthetic)
    except InputError as e:
        return e.problem
    return None


def verify(cat, req, spec, *, synthetic: bool, file: Optional[str], gen_tokens: int, repeats: int,
           threads: Optional[int], fill: bool, force: bool, profiles_dir: Optional[str], user_profiles=(),
           announce=None, stack: Optional[tuple[str, str, str]] = None) -> VerifyOutcome:
    """Run the pick of the requirements here and check each requirement; `stack` (model, quantization id,
    runtime) runs that stack instead, feasible or not (the web UI's chosen stack)."""
    from advisor.solve import evaluate

    from .profile import profile_stack

    if not spec.detected:
        raise InputError("--hardware", "verify runs the pick on this machine; give --ram/--vram (a budget on this "
                         "machine) instead of another machine's profile, or --on-target when this machine is that "
                         "device", "--ram 4GB, or --hardware ID --on-target on the device itself")
    cands = evaluate(cat, spec, req, user_profiles)
    seen: set[str] = set()
    passed_over, pick = [], None
    # the recommendation's feasible stacks first; when none, the best stacks that miss only the
    # predicted speed or TTFT: those are what the run measures
    from advisor.solve import SPEED_CONSTRAINTS as measured_only
    speed_only = [c for c in cands if c.violations and all(v.constraint in measured_only for v in c.violations)]
    ordered = [c for c in cands if c.feasible] or speed_only
    if stack is not None:
        ordered = [c for c in cands if (c.model_id, c.quant, c.runtime) == tuple(stack)]
        if not ordered:
            raise InputError("stack", f"{' '.join(stack)} is not a stack of this catalog on this machine",
                             "a model, quantization id and runtime from `advisor why MODEL`")
        why_not = runnable_reason(ordered[0], synthetic)
        if why_not is not None:
            raise NothingToVerify(why_not)
    for c in ordered:
        if c.model_id in seen:
            continue
        seen.add(c.model_id)
        why_not = runnable_reason(c, synthetic)
        if why_not is None:
            pick = c
            break
        # the model's best stack cannot run here: try its other feasible stacks before moving on
        alt = next((o for o in ordered if o.model_id == c.model_id and runnable_reason(o, synthetic) is None), None)
        if alt is not None:
            passed_over.append({"model": c.model_id, "quantization": c.quant, "runtime": c.runtime,
                                "reason": why_not + f"; verifying its {alt.quant} on {alt.runtime} instead"})
            pick = alt
            break
        passed_over.append({"model": c.model_id, "quantization": c.quant, "runtime": c.runtime, "reason": why_not})
    if pick is None:
        raise NothingToVerify("no feasible stack can be run here with llama.cpp or Transformers"
                              + (": " + "; ".join(p["reason"] for p in passed_over) if passed_over else
                                 " (nothing fits the requirements; see `advisor recommend`)"))
    a = pick.model.architecture
    ctx = min(req.context, a.extended_context_length or a.context_length)
    prompt = min(req.prompt_tokens, max(ctx - gen_tokens - 8, 1))
    # the settings the recommendation assumed: llama-server's defaults (flash attention on, sliding-window
    # caches trimmed, n_batch 2048, n_ubatch 512)
    s = RunSettings(context=ctx, prompt_tokens=prompt, gen_tokens=gen_tokens, repeats=repeats, threads=threads,
                    fill=fill, flash_attn=True, swa_full=False, n_batch=2048, n_ubatch=512, kv=req.kv_cache)
    hf = pick.runtime == "transformers"
    out = profile_stack(cat, pick.model_id, pick.quant, runtime="transformers" if hf else "llama.cpp", file=file,
                        synthetic=synthetic, settings=s, force=force, profiles_dir=profiles_dir, announce=announce)
    est, prof = out.estimate, out.profile
    budget = req.vram_gb or req.ram_gb or spec.memory_gb
    usable = budget * (1 - req.headroom) if budget else None
    # the working set of llama.cpp as llama-server would hold it: the resident peak, less the clean file
    # pages of tensors llama.cpp repacked (reclaimable; at most the file-backed pages resident), less the
    # Python interpreter measured before loading, plus llama-server's own process (advisor.memory)
    from advisor.memory import LlamaCppSettings

    mem_meas = interp = drop = None
    if prof.peak_rss_bytes and hf:
        mem_meas = prof.peak_rss_bytes / 1e9  # the whole process: PyTorch is part of what the estimate counts
    elif prof.peak_rss_bytes:
        drop = min(est.memory.reclaimable, prof.rss_file_bytes or 0)
        interp = int(prof.settings.get("rss_before_load") or 0)
        mem_meas = (prof.peak_rss_bytes - drop - interp + LlamaCppSettings(ctx).base_overhead) / 1e9
    promised = pick.memory.required / 1e9 if pick.memory is not None else est.memory.required / 1e9
    checks = [Check("memory", f"<= {usable:.2f} GB ({budget:g} GB less {req.headroom:.0%} headroom)" if usable else None,
                    promised, mem_meas, "GB",
                    "info" if usable is None or mem_meas is None else ("PASS" if mem_meas <= usable else "FAIL"))]
    sp = est.speed
    dec = prof.decode_tokens_per_s.median
    checks.append(Check("decode speed", f">= {req.min_tps:g} tokens/s" if req.min_tps is not None else None,
                        sp.decode_tps if sp else None, dec, "tokens/s",
                        "info" if req.min_tps is None else ("PASS" if dec >= req.min_tps else "FAIL")))
    ttft = prof.ttft_ms.median if prof.ttft_ms else None
    checks.append(Check("time to first token", f"<= {req.max_ttft_ms:g} ms" if req.max_ttft_ms is not None else None,
                        sp.ttft_ms if sp else None, ttft, "ms",
                        "info" if req.max_ttft_ms is None or ttft is None else
                        ("PASS" if ttft <= req.max_ttft_ms else "FAIL")))
    if hf:
        notes = [f"memory: measured peak RSS of the Transformers process {mem_meas:.2f} GB (PyTorch included, as the "
                 "estimate counts it); predicted: what `recommend` computed for this stack" if mem_meas is not None
                 else "memory: no RSS reading"]
    else:
        notes = [f"memory: measured peak RSS {prof.peak_rss_bytes / 1e9:.2f} GB, less {drop / 1e9:.2f} GB of reclaimable "
                 f"file cache (mapped originals of repacked tensors) and the {interp / 1e9:.2f} GB Python interpreter, "
                 f"plus llama-server's {LlamaCppSettings(ctx).base_overhead / 2**20:.0f} MiB process; predicted: what "
                 "`recommend` computed for this stack" if mem_meas is not None else "memory: no RSS reading"]
    notes += [f"run: {prof.runtime_version or 'llama-cpp-python'}, context {ctx}, prompt {prompt} tokens, "
             f"{gen_tokens} generated x {repeats} repeats" + (", context filled for the memory peak" if fill else
                                                               ", context not filled (memory peak after the prompt)")]
    notes += list(prof.notes)  # e.g. a llama.cpp build without the CPU's fastest kernels
    if pick.runtime not in ("llama.cpp", "transformers"):
        notes.append(f"the pick runs on {pick.runtime}; verified with the same engine (llama.cpp) "
                     "through llama-cpp-python")
    if out.profile.synthetic:
        notes.append(f"synthetic {'checkpoint' if hf else 'GGUF'}: random weights with the model's exact shapes; speed "
                     "and memory are the real model's, the text is meaningless")
    if not pick.feasible:
        notes.append("nothing is predicted to meet every requirement; the best stack that misses only the "
                     "predicted speed or TTFT was run to measure it: " + "; ".join(
                         violation_sentence(pick, v) for v in pick.violations))
    pick_rec = {"model": pick.model_id, "quantization": pick.quant,
                "quantization_name": cat.quantizations[pick.quant].name, "runtime": pick.runtime,
                "context": ctx, "artifact": out.artifact}
    return VerifyOutcome(pick_rec, passed_over, checks, str(out.path), bool(out.profile.synthetic), notes)
