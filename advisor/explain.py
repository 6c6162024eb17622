"""Words for the solver's data: one place turns candidates and violations into sentences."""

from __future__ import annotations

from .solve import Candidate, Violation


def memory_sentence(c: Candidate) -> str:
    b = c.memory.breakdown_gb(required=True)
    parts = f"weights {b['weights']:.1f} + KV {b['kv_cache']:.1f} + buffers {b['buffers']:.1f}"
    if b["encoders"]:
        parts += f" + encoders {b['encoders']:.1f}"
    ctx = c.memory.settings.get("n_ctx")
    where = f" at {ctx // 1024}K context" if ctx else ""
    need = (c.offload.vram_bytes + c.offload.ram_bytes) if c.offload is not None else c.memory.required
    out = f"{c.model_id} {c.quant.upper()} needs {need / 1e9:.1f} GB{where} ({parts})"
    if c.memory.reclaimable:
        out += (f"; the resident peak shows {c.memory.total / 1e9:.1f} GB with {c.memory.reclaimable / 1e9:.1f} GB "
                "of reclaimable file cache (mapped originals of repacked tensors)")
    if c.offload is not None:
        out += "; " + offload_sentence(c.offload, c.runtime)
    return out


def offload_sentence(p, runtime: str) -> str:
    """The split of a partial offload, with the flag that makes it."""
    flag = f"num_gpu {p.gpu_layers}" if runtime == "ollama" else f"-ngl {p.gpu_layers}"
    return (f"too large for VRAM whole, it runs split with {flag}: the output layer and {p.blocks_on_gpu} of "
            f"{p.layers} blocks in VRAM ({p.vram_bytes / 1e9:.1f} GB), the rest in RAM ({p.ram_bytes / 1e9:.1f} GB); "
            f"about {1 - p.gpu_share:.0%} of each token's reads run at the CPU's speed")


def violation_sentence(c: Candidate, v: Violation) -> str:
    if v.constraint == "memory" and c.memory is not None:
        return f"{memory_sentence(c)}; you allow {v.required}"
    if v.constraint == "language":
        return f"{c.model_id} does not list '{v.required}' (its card lists {v.actual}) and makes no broad language claim"
    if v.constraint == "modality":
        if v.detail.get("runtime"):
            where = (f"; it does on {', '.join(v.detail['runtimes'])}" if v.detail.get("runtimes")
                     else "; no runtime in the knowledge base is documented to take it")
            return f"{c.model_id} takes {v.detail['modality']} input, but {c.runtime} does not pass it{where}"
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


def unreachable_sentence(model_id: str, r: dict) -> str:
    cause = r["cause"]
    if cause == "no-api":
        return (f"{model_id} is a system component with no public API: no application can call it, "
                "so it is never a candidate")
    if cause == "platform" and "runtime" in r:
        return f"{model_id} is reached only through {r['runtime']} on {r['required']}; the platform here is {r['actual']}"
    if cause == "npu":
        return (f"{model_id} needs an NPU of at least {r['required']:g} TOPS (a Copilot+ PC); "
                f"this hardware has {r['actual']:g} TOPS")
    if cause == "runtime":
        return f"{model_id} runs on {r['required']}; you allow only {r['actual']}"
    if cause == "platform":
        return f"no allowed runtime for {model_id} supports the platform: needs {r['required']}, allowed {r['actual']}"
    if cause == "backend":
        return f"its runtimes need a backend among {r['required']}; this hardware offers {r['actual']}"
    return f"{model_id}: {r.get('detail', cause)}"


def why_model_sentences(rep: dict) -> list[str]:
    """The verdict on one model (`advisor why`), from why_report's data."""
    mid, verdict = rep["model"], rep["verdict"]
    best = rep.get("best")
    out: list[str] = []
    if verdict == "unreachable":
        out += [unreachable_sentence(mid, r) + "." for r in rep["unreachable"]]
        return out
    n = rep["stacks_total"]
    if verdict in ("recommended", "outranked"):
        stack = f"{best['quantization']} on {best['runtime']} ({best['backend']})"
        if verdict == "recommended":
            out.append(f"{mid} is recommended at rank {rep['rank']} of {rep['feasible_models']} models that fit: "
                       f"its best stack is {stack}, score {best['score']:.1f}.")
        else:
            top = rep["outranked_by"][0]
            out.append(f"{mid} fits ({rep['stacks_feasible']} of its {n} stacks meet every requirement) but ranks "
                       f"{rep['rank']} of {rep['feasible_models']}: its best stack {stack} scores {best['score']:.1f}, "
                       f"behind {top['model']} {top['quantization']} at {top['score']:.1f} "
                       f"(ranking: {rep['prefer']}). `--top {rep['rank']}` would list it.")
        out += best["why"]
        return out
    out.append(f"None of {mid}'s {n} stacks meets the requirements.")
    for con, k in rep["violation_counts"].items():
        out.append(f"{con} fails in {k} of {n} stacks.")
    if best:
        out.append(f"Nearest: {best['quantization']} on {best['runtime']}: " + "; ".join(best["why"]) + ".")
    if rep["needs"]:
        out.append(f"It would fit with: {' and '.join(rep['needs'])}.")
    return out


def estimate_lines(rec: dict, ctx: int, prompt_tokens: int, hardware_name: str) -> list[str]:
    """The `estimate` command's table: the same two memory figures and fit rule as `recommend`."""
    b = rec["memory_breakdown_gb"]
    out = [f"{rec['model']} {rec['quantization']} on {rec['runtime']} ({rec['backend']}), context {ctx}: {hardware_name}",
           f"memory   must fit {rec['memory_required_gb']:.2f} GB; resident peak {rec['memory_peak_gb']:.2f} GB  "
           f"(weights {b['weights']:.2f} + KV {b['kv_cache']:.2f} + buffers {b['buffers']:.2f} + overhead "
           f"{b['overhead']:.2f}" + (f" + encoders {b['encoders']:.2f}" if b["encoders"] else "") + ")"]
    if rec["decode_tps"] is not None:
        lo, hi = rec["decode_tps_range"]
        out.append(f"decode   {rec['decode_tps']:.1f} tokens/s  (range {lo:.1f}-{hi:.1f})")
    else:
        out.append("decode   not estimated: no bandwidth for this device (give --gpu or --bandwidth)")
    if rec["prefill_tps"] is not None:
        out.append(f"prefill  {rec['prefill_tps']:.0f} tokens/s;  time to first token {rec['ttft_ms']:.0f} ms "
                   f"for {prompt_tokens} prompt tokens")
    out.append(f"basis    {rec['basis']}")
    if rec.get("fits") is False:
        out.append(f"warning  must fit {rec['memory_required_gb']:.2f} GB, more than the {rec['memory_budget_gb']:g} GB "
                   "budget less 10% headroom")
    return out


def run_plan(model_id: str, quant: str, runtime: str, s, synthetic: bool, file, seconds) -> str:
    """What `profile` / `verify` are about to run, and how long it should take."""
    what = ("a random-weight copy with the real shapes" if synthetic else f"the file {file}" if file
            else "the published weights (downloaded first if not cached)")
    out = (f"running {model_id} {quant.upper()} on {runtime} with {what}: context {s.context}, a {s.prompt_tokens}-token "
           f"prompt and {s.gen_tokens} generated tokens x {s.repeats} repeats"
           + (", then the whole context filled" if s.fill else ""))
    if seconds:
        out += f"; expected about {seconds:.0f} s after loading (from the estimate)"
    return out + " (Ctrl-C stops it and the runner)"
