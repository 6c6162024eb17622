"""Words for the solver's data: one place turns candidates and violations into sentences."""

from __future__ import annotations

from .solve import Candidate, Violation


def memory_sentence(c: Candidate) -> str:
    b = c.memory.breakdown_gb()
    parts = f"weights {b['weights']:.1f} + KV {b['kv_cache']:.1f} + buffers {b['buffers']:.1f}"
    if b["encoders"]:
        parts += f" + encoders {b['encoders']:.1f}"
    ctx = c.memory.settings.get("n_ctx")
    where = f" at {ctx // 1024}K context" if ctx else ""
    return f"{c.model_id} {c.quant.upper()} needs {c.memory.total / 1e9:.1f} GB{where} ({parts})"


def violation_sentence(c: Candidate, v: Violation) -> str:
    if v.constraint == "memory" and c.memory is not None:
        return f"{memory_sentence(c)}; you allow {v.required}"
    if v.constraint == "language":
        return f"{c.model_id} does not list '{v.required}' (its card lists {v.actual}) and makes no broad language claim"
    if v.constraint == "modality":
        return f"{c.model_id} takes {v.actual} as input, not {v.required}"
    if v.constraint == "task":
        return f"{c.model_id} is not documented for {v.required}"
    if v.constraint == "context":
        return f"{c.model_id} supports {v.actual}; you need {v.required}"
    if v.constraint == "decode speed":
        return f"{c.model_id} {c.quant.upper()} on {c.runtime} decodes at about {v.actual}; you need {v.required}"
    if v.constraint == "time to first token":
        return f"{c.model_id} {c.quant.upper()} reaches the first token in about {v.actual}; you allow {v.required}"
    if v.constraint == "licence":
        return f"{c.model_id} is licensed {v.actual}; you accept {v.required}"
    if v.constraint == "download":
        return f"{c.model_id} {c.quant.upper()} is a {v.actual} download; you allow {v.required}"
    return f"{c.model_id}: {v.constraint} requires {v.required}, is {v.actual}"


def why(c: Candidate) -> list[str]:
    out = []
    if c.memory is not None and c.memory.total:
        out.append(memory_sentence(c) + ".")
    else:
        out.append(f"{c.model_id} is built into the platform: nothing to download, memory managed by the OS.")
    if c.speed is not None:
        lo, hi = c.speed.decode_tps_range
        s = f"Decodes about {c.speed.decode_tps:.1f} tokens/s (range {lo:.1f}-{hi:.1f}, {c.speed.basis})"
        if c.speed.ttft_ms:
            s += f"; first token after about {c.speed.ttft_ms / 1000:.1f} s"
        out.append(s + ".")
    out.append(f"Quality {c.quality:.1f}: {c.quality_basis}.")
    out += [n[0].upper() + n[1:] + "." for n in c.notes]
    return out
