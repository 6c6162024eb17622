"""Words for the solver's data: one place turns candidates and violations into sentences."""

from __future__ import annotations

from .constraints import (CONTEXT, DECODE, DOWNLOAD, LANGUAGE, LICENSE, MEMORY, MODALITY, RUNTIME_MODALITY, TASK,
                          TTFT, Candidate, Note, Violation)


LABELS = {MEMORY: "memory", LANGUAGE: "language", MODALITY: "input", RUNTIME_MODALITY: "input on this runtime",
          TASK: "task", CONTEXT: "context", DECODE: "decode speed", TTFT: "time to first token", LICENSE: "licence",
          DOWNLOAD: "download size"}


def label(constraint: str) -> str:
    """A constraint id as people read it."""
    return LABELS.get(constraint, constraint)


def memory_sentence(c: Candidate) -> str:
    b = c.memory.breakdown_gb(required=True)
    parts = f"weights {b['weights']:.2f} + KV {b['kv_cache']:.2f} + buffers {b['buffers']:.2f}"
    if b["encoders"]:
        parts += f" + encoders {b['encoders']:.2f}"
    ctx = c.memory.settings.get("n_ctx")
    slots = c.memory.settings.get("slots", 1)
    where = (f" at a context of {ctx} tokens" if ctx else "") + (f" for each of {slots} users" if slots > 1 else "")
    need = (c.offload.vram_bytes + c.offload.ram_bytes) if c.offload is not None else c.memory.required
    # rounded as the record rounds it (advisor.estimate.stack_record), so the words and the figures agree
    out = f"{c.model_id} {c.quant} needs {round(need / 1e9, 3):.2f} GB{where} ({parts})"
    if c.memory.reclaimable:
        out += (f"; the resident peak shows {c.memory.total / 1e9:.2f} GB with {c.memory.reclaimable / 1e9:.2f} GB "
                "of reclaimable file cache (mapped originals of repacked tensors)")
    if c.offload is not None:
        out += "; " + offload_sentence(c.offload, c.runtime)
    return out


def offload_sentence(p, runtime: str) -> str:
    """The split of a partial offload, with the flag that makes it."""
    flag = f"num_gpu {p.gpu_layers}" if runtime == "ollama" else f"-ngl {p.gpu_layers}"
    return (f"too large for VRAM whole, it runs split with {flag}: the output layer and {p.blocks_on_gpu} of "
            f"{p.layers} blocks in VRAM ({p.vram_bytes / 1e9:.2f} GB), the rest in RAM ({p.ram_bytes / 1e9:.2f} GB); "
            f"about {1 - p.gpu_share:.0%} of each token's reads run at the CPU's speed")


MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def when(date: str) -> str:
    """'2026-11' -> 'November 2026'; a full date as it is."""
    if len(date) == 7:
        return f"{MONTHS[int(date[5:]) - 1]} {date[:4]}"
    return date


def _ids(xs) -> str:
    return ", ".join(xs) if xs else "none"


def _num(x, unit: str | None, digits: int = 2) -> str:
    if x is None:
        return "not estimated (no speed figure for this device)"
    text = f"{x:.{digits}f}".rstrip("0").rstrip(".") if isinstance(x, float) else str(x)
    return f"{text} {unit}" if unit else text


def violation_sentence(c: Candidate, v: Violation) -> str:
    k = v.constraint
    if k == MEMORY and c.memory is not None:
        return (f"{memory_sentence(c)}; you allow {v.required:.2f} GB "
                f"({v.detail['budget']:g} GB less {v.detail['headroom']:.0%} headroom)")
    if k == LANGUAGE:
        if v.detail.get("modality"):
            return (f"{c.model_id} takes {v.detail['modality']} input in {_ids(v.actual)} only (its card's list), "
                    f"not '{v.required}'")
        if v.detail.get("strict"):
            return (f"{c.model_id} does not list '{v.required}'; it only claims {v.detail['claim']}, and "
                    "--lang-strict admits listed languages only")
        return f"{c.model_id} does not list '{v.required}' (its card lists {_ids(v.actual)}) and makes no broad language claim"
    if k == RUNTIME_MODALITY:
        where = (f"; it does on {', '.join(v.detail['runtimes'])}" if v.detail.get("runtimes")
                 else "; no runtime in the knowledge base is documented to take it")
        return f"{c.model_id} takes {v.required} input, but {v.actual} does not pass it{where}"
    if k == MODALITY:
        return f"{c.model_id} takes {_ids(v.actual)} as input, not {v.required}"
    if k == TASK:
        return f"{c.model_id} is not documented for {v.required}"
    if k == CONTEXT:
        return f"{c.model_id} supports a context of {v.actual} tokens; you need {v.required}"
    if k == DECODE:
        return (f"{c.model_id} {c.quant} on {c.runtime} decodes at about {_num(v.actual, v.unit, 1)}; "
                f"you need {_num(v.required, v.unit)}")
    if k == TTFT:
        return (f"{c.model_id} {c.quant} reaches the first token in about {_num(v.actual, v.unit, 0)}; "
                f"you allow {_num(v.required, v.unit)}")
    if k == LICENSE:
        return f"{c.model_id} is licensed {v.actual}; you accept {_ids(v.required)}"
    if k == DOWNLOAD:
        return f"{c.model_id} {c.quant} downloads {_num(v.actual, v.unit)}; you allow {_num(v.required, v.unit)}"
    return f"{c.model_id}: {k} requires {v.required}, is {v.actual}"


def _gb(n) -> str:
    return f"{n / 1e9:.2f} GB"


def artifact_sentence(a: dict) -> str:
    """Where the stack's file comes from: a published one (repository, file, size) or one to make (how)."""
    st = a.get("status")
    if st == "built-in":
        return "Nothing to download: built into the platform" + (f" ({a['api']})" if a.get("api") else "")
    if st == "published":
        where = a["hf_repo"] + (f"/{a['file']}" if a.get("file") else "")
        size = (_gb(a["size_bytes"]) if a.get("size_bytes") else
                f"about {_gb(a['size_estimated_bytes'])} (estimated from the shapes; no listed size)"
                if a.get("size_estimated_bytes") else "size not listed")
        who = "the vendor's own" if a.get("official") else "a community"
        return f"Published file: {where}, {size}, {who} upload [{a['source']}]"
    steps = "; ".join(a.get("steps") or [])
    size = f" (about {_gb(a['size_estimated_bytes'])})" if a.get("size_estimated_bytes") else ""
    if not steps:
        return f"No published file: to be made from {a.get('from')}{size}; no recipe is recorded for this runtime"
    return f"No published file: make it{size} from {a.get('from')} with {a['tool']}: {steps} [{a.get('source')}]"


def note_sentence(n: Note) -> str:
    d = n.detail
    if n.kind == "language_claim":
        return f"Language {d['language']}: not listed by the card, covered only by its claim of {d['claim']}"
    if n.kind == "context_extension":
        return (f"A context of {d['context']} tokens needs {d['method'] or 'the documented extension'} "
                f"(native {d['native']})")
    return f"{n.kind}: {d}"


def change_text(ch: dict) -> str:
    """A relaxation (advisor.solve.change_for) as the flag to give."""
    if "drop" in ch:
        return f"drop {ch['flag']} {ch['drop']}"
    unit = ch.get("unit")
    text = f"{ch['flag']} {ch['value']}{'GB' if unit == 'GB' else ''}"
    return text + (f" (in place of {ch['instead_of']})" if ch.get("instead_of") else "")


def why(c: Candidate) -> list[str]:
    out = []
    if c.memory is not None and c.memory.total:
        out.append(memory_sentence(c) + ".")
    else:
        out.append(f"{c.model_id} is built into the platform: nothing to download, memory managed by the OS.")
    if c.speed is not None:
        # rounded as the record rounds them (advisor.estimate.stack_record), so the words and the figures agree
        lo, hi = (round(x, 2) for x in c.speed.decode_tps_range)
        s = f"Decodes about {round(c.speed.decode_tps, 2):.1f} tokens/s (range {lo:.1f}-{hi:.1f}, {c.speed.basis})"
        if c.serving:
            s += ((f" at {c.serving['requests_per_s']:g} requests/s (Little's law: {c.serving['users']} in flight)"
                   if c.serving.get("requests_per_s") else "")
                  + f" for each of {c.serving['users']} users decoding together, {c.serving['aggregate_tok_s']:.1f} "
                  f"in all (one user alone: {c.serving['single_stream_tok_s']:.1f})")
        if c.speed.ttft_ms:
            t = c.speed.ttft_ms
            s += f"; first token after about " + (f"{t / 1000:.1f} s" if t >= 1000 else f"{t:.0f} ms")
        out.append(s + ".")
    out.append(f"Quality {c.quality:.1f}: {c.quality_basis}.")
    if c.artifact:
        out.append(artifact_sentence(c.artifact) + ".")
    out += [note_sentence(n) + "." for n in c.notes]
    return out


def unreachable_sentence(model_id: str, r: dict) -> str:
    cause = r["cause"]
    if cause == "no-api":
        return (f"{model_id} is a system component with no public API: no application can call it, "
                "so it is never a candidate")
    if cause == "platform" and "runtime" in r:
        return (f"{model_id} is reached only through {r['runtime']} on {r['required']}; "
                f"the platform here is {r['actual'] or 'unknown'}")
    if cause == "npu":
        return (f"{model_id} needs an NPU of at least {r['required']:g} TOPS (a Copilot+ PC); "
                f"this hardware has {r['actual']:g} TOPS")
    if cause == "runtime":
        return f"{model_id} runs on {_ids(r['required'])}; you allow only {_ids(r['actual'])}"
    if cause == "platform":
        return (f"no allowed runtime for {model_id} runs on {r['required']}: the allowed ones are "
                f"{_ids(r['actual'])}")
    if cause == "backend":
        return f"its runtimes need a backend among {_ids(r['required'])}; this hardware offers {_ids(r['actual'])}"
    if cause == "retired":
        out = (f"{model_id} was removed" + (f" from {r['channel']}" if r.get("channel") else "")
               + f" in {when(r['date'])}, before {r['as_of']}")
        if r.get("successor"):
            out += f"; its successor is {r['successor']} (`advisor why {r['successor']}`)"
        return out + "; `--as-of` an earlier date plans for a device before the change"
    if cause == "not-yet-offered":
        if not r.get("from"):
            return f"{model_id} is not offered on {r['as_of']}: no date of availability is known"
        out = (f"{model_id} is not offered yet on {r['as_of']}: it becomes available"
               + (f" on {r['channel']}" if r.get("channel") else "") + f" in {when(r['from'])}")
        if r.get("preview"):
            out += f" (preview from {when(r['preview'])})"
        return out
    if cause == "runtime-catalog":
        return f"{model_id} is not in the catalog of {_ids(r['actual'])}, which runs only its own models"
    if cause == "architecture" and r.get("hf_class") is None:
        return f"{model_id} is not loaded by {_ids(r['actual'])}"
    if cause == "architecture":
        return (f"{model_id} ({r['hf_class']}) is not loaded by {_ids(r['actual'])} (see `advisor runtime list` and "
                "each runtime's architecture rules)")
    if cause == "no-stack":
        return f"{model_id}: no runtime in the knowledge base loads its artifacts here"
    return f"{model_id}: {cause}"


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
            out.append(f"{mid} fits ({rep['stacks_feasible']} of its {n} stack{'s' if n > 1 else ''} meet every requirement) but ranks "
                       f"{rep['rank']} of {rep['feasible_models']}: its best stack {stack} scores {best['score']:.1f}, "
                       f"behind {top['model']} {top['quantization']} at {top['score']:.1f} "
                       f"(ranking: {rep['prefer']}). `--top {rep['rank']}` would list it.")
        out += best["why"]
        return out
    out.append(f"None of {mid}'s {n} stacks meets the requirements." if n > 1 else
               f"{mid}'s one stack does not meet the requirements.")
    for con, k in rep["violation_counts"].items():
        out.append(f"{label(con)[0].upper() + label(con)[1:]} fails in {k} of {n} stacks.")
    if best:
        out.append(f"Nearest: {best['quantization']} on {best['runtime']}: " + "; ".join(best["why"]) + ".")
    if rep["needs"]:
        out.append(f"It would fit with: {' and '.join(change_text(ch) for ch in rep['needs'])}.")
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
    out = (f"running {model_id} {quant} on {runtime} with {what}: context {s.context}, a {s.prompt_tokens}-token "
           f"prompt and {s.gen_tokens} generated tokens x {s.repeats} repeats"
           + (", then the whole context filled" if s.fill else ""))
    if seconds:
        out += f"; expected about {seconds:.0f} s after loading (from the estimate)"
    return out + " (Ctrl-C stops it and the runner)"


# --------------------------------------------------------------------------- the web UI's words

PART_LABELS = {"weights": "weights", "kv_cache": "KV cache", "buffers": "buffers", "overhead": "runtime overhead",
               "encoders": "encoders (image/audio)"}
BASIS_COLOURS = {"measured": "green", "calibrated": "blue", "estimated": "orange", "published": "violet"}


def part_label(part: str) -> str:
    return PART_LABELS.get(part, part)


def basis_badge(basis: str | None) -> str:
    """A figure's basis as a coloured Streamlit Markdown badge."""
    b = basis or "none"
    return f":{BASIS_COLOURS.get(b, 'gray')}-badge[{UI['basis']}: {b}]"


def violation_text(v: dict) -> tuple[str, str, str]:
    """(constraint, required, actual) of a violation record as a table shows them."""
    unit = v.get("unit")

    def fmt(x) -> str:
        if x is None:
            return "unknown"
        if isinstance(x, (list, tuple)):
            return ", ".join(map(str, x)) or "none"
        if isinstance(x, float):
            x = f"{x:.2f}".rstrip("0").rstrip(".")
        return f"{x} {unit}" if unit else str(x)

    return label(v["constraint"]), fmt(v.get("required")), fmt(v.get("actual"))


def check_rows(checks: list[dict]) -> list[dict]:
    """`advisor verify`'s table: each check's requirement, prediction, measurement, error and result."""
    def num(x):
        return None if x is None else round(x, 2)

    return [{"check": c["check"], "required": c["required"] or "(no requirement)", "predicted": num(c["predicted"]),
             "measured": num(c["measured"]), "unit": c["unit"],
             "error": f"{c['error']:+.0%}" if c["error"] is not None else "-", "result": c["status"]} for c in checks]


UI = {
    "app_title": "advisor: choose, defend and verify a small language model",
    "page_recommend": "Recommend", "page_why": "Why", "page_compare": "Compare", "page_catalog": "Catalog",
    "page_profiles": "Profiles and verify",
    # sidebar
    "upload_spec": "Requirements spec (YAML)",
    "upload_spec_help": "The file `advisor recommend --spec` reads; it fills this sidebar.",
    "hardware": "Hardware", "hw_mode_this": "this machine", "hw_mode_profile": "a profile", "hw_mode_custom": "custom",
    "hardware_profile": "Hardware profile", "ram_gb": "RAM (GB)", "vram_gb": "VRAM (GB)",
    "ram_help": "The memory budget on this machine's CPU (--ram); with VRAM, the system RAM beside the GPU.",
    "gpu": "GPU", "bandwidth": "Bandwidth (GB/s)", "tflops": "TFLOP/s (FP16)", "none": "none",
    "languages": "Languages", "languages_placeholder": "search by name or code: Swedish, svenska, sv",
    "lang_strict": "Only languages the card lists",
    "lang_strict_help": "A broad claim ('over 140 languages') is then not enough (--lang-strict).",
    "modalities": "Inputs", "tasks": "Tasks", "context": "Context (tokens)",
    "min_tps": "Min decode tok/s", "max_ttft": "Max TTFT (ms)", "prompt_tokens": "Prompt tokens (for TTFT)",
    "license": "Licence", "any": "any", "all": "all", "platform": "Platform", "runtimes": "Runtimes",
    "max_download": "Max download (GB)", "max_download_help": "0: only what is already on the platform (built-ins).",
    "headroom": "Headroom (share of memory kept free)",
    "kv_cache": "KV cache", "kv_cache_help": "f16, or quantized by llama.cpp (--cache-type-k/v): less memory per token.",
    "users": "Users at once", "users_help": "Requests served together (--concurrent-users): a KV cache of the context for each, and the speed each user sees.", "prefer": "Prefer", "top": "How many",
    "rate": "Requests per second", "rate_help": "An arrival rate instead of users at once (--requests-per-s): each stack serves the requests in flight it implies at its own speed (Little's law).",
    "output_tokens": "Output tokens per request", "gpus": "GPUs",
    "gpus_help": "GPUs of this kind in the machine (--gpus): memory adds up; llama.cpp and Ollama run them one at a time, vLLM uses all of them (tensor parallel).",
    "interconnect": "Between the GPUs", "interconnect_help": "NVLink or PCIe (--interconnect; default NVLink for SXM cards).",
    "as_of": "As of", "as_of_help": "What is offered on this date (default today): built-ins come and go.",
    "load_error": "The requirements could not be read: {error}",
    # recommend
    "hardware_line": "Hardware: {name}; memory {gb:.1f} GB ({kind}), bandwidth {bw:g} GB/s",
    "top_pick": "Top pick: {model} {quant} on {runtime} ({backend})",
    "memory": "Memory that must fit", "built_in": "built in", "decode": "Decode", "range": "range {lo:.1f}-{hi:.1f}",
    "no_speed": "no speed figure", "ttft": "Time to first token", "prefill": "prefill {tps:g} tok/s",
    "quality": "Quality", "basis": "basis", "licence_line": "licence **{licence}**",
    "ranked": "Ranked recommendations", "col_rank": "rank", "col_model": "model", "col_quant": "quantization",
    "col_runtime": "runtime", "col_backend": "backend", "col_memory": "memory", "col_share": "of budget",
    "col_decode": "tok/s", "col_basis": "basis", "col_quality": "quality", "col_licence": "licence",
    "col_artifact": "file", "artifact_link": "Hub", "col_stack": "stack", "col_constraint": "constraint",
    "col_required": "required", "col_actual": "actual", "col_score": "score", "col_verdict": "verdict",
    "nothing_fits": "Nothing fits these requirements. The changes below would unlock a stack.",
    "relaxations": "What would unlock more", "relax_button": "{change}: unlocks {model} {quant} on {runtime}",
    "pareto": "Trade-offs", "pareto_axis": "Quality against", "axis_memory": "memory that must fit (GB)",
    "axis_speed": "decode speed", "axis_decode": "decode tokens/s (log)", "axis_quality": "quality (T-score)",
    "axis_context": "context (tokens)", "axis_decode_full": "decode tokens/s with the context full",
    "axis_decode_measured": "measured decode tokens/s", "axis_decode_predicted": "predicted decode tokens/s",
    "show_rejected": "Show rejected stacks", "rejected": "rejected", "front": "Pareto front",
    "hover_fails": "fails:", "hover_quality": "quality", "hover_memory": "memory", "hover_decode": "decode tok/s",
    "budget_line": "budget {gb:g} GB", "usable_line": "less headroom {gb:.2f} GB",
    "fleet_best": "best for the class", "fleet_chosen": "chosen", "fleet_usable": "usable (budget less headroom)",
    "pareto_caption": "{n} of {total} stacks meet every requirement; each is a point ({missing} without a figure on "
                      "this axis are not drawn). The front joins the stacks no other beats on both axes.",
    "misses": "Nearest misses", "misses_why": "Each miss in words",
    "export": "Export", "export_spec": "Requirements (YAML spec)", "export_json": "Result (JSON)",
    "export_md": "Result (Markdown)",
    "cli_equivalent": "# advisor recommend --spec requirements.yaml\n{spec}",
    # why
    "pick_model": "Model", "verdict": "{model}: {verdict}", "needs": "It would need:", "fits": "fits",
    "fails": "fails",
    # compare
    "pick_stacks": "Stacks to compare (two to four, of those that meet the requirements)",
    "pick_two": "Pick at least two stacks.",
    "sweep_caption": "Memory that must fit and decode speed with the context full, at each context up to the "
                     "model's longest; the budget is the red line.",
    # catalog
    "tab_models": "Models", "tab_quants": "Quantizations", "tab_runtimes": "Runtimes", "tab_hardware": "Hardware",
    "tab_gpus": "GPUs and accelerators", "filter_text": "Search", "filter_family": "Family",
    "col_family": "family", "col_params": "params (B)", "col_active": "active (B)", "col_languages": "languages listed",
    "col_availability": "availability", "col_repo": "weights", "hub_link": "Hub",
    "models_count": "{n} of {total} models", "model_view": "A model's facts", "col_field": "field",
    "col_value": "value", "col_source": "source", "sources": "Sources", "col_key": "key", "col_kind": "kind",
    "col_ref": "reference", "col_note": "note", "corrections": "Corrections to the course",
    "col_course": "the course says", "col_primary": "the primary source says", "col_name": "name",
    "col_format": "format", "col_bits": "bits/weight",
    # profiles
    "stored_profiles": "Measured profiles",
    "profiles_count": "{shipped} runs ship with the knowledge base; {mine} measured on this machine.",
    "col_hardware": "hardware", "col_threads": "threads", "col_decode_measured": "decode measured",
    "col_decode_predicted": "decode predicted", "col_memory_measured": "peak GB measured",
    "col_memory_predicted": "peak GB predicted", "col_skipped": "not predicted because",
    "profiles_caption": "Predicted before calibration: each run is predicted for its own machine (bandwidth, "
                        "compute, threads) with no run of that machine informing the estimate.",
    "measured": "measured", "predicted": "predicted",
    "verify_here": "Verify a stack on this machine",
    "needs_profile_extra": "Running a model needs the profile extra: pip install -e '.[profile]' (llama.cpp through "
                           "llama-cpp-python, and gguf).",
    "pick_stack": "Stack (llama.cpp engine, CPU)", "gen_tokens": "Generated tokens", "repeats": "Repeats",
    "fill": "Fill the context (full-context memory peak; slower)",
    "run_verify": "Profile with random weights of its real shapes",
    "verify_running": "Building and running {stack} (random weights, real shapes)",
    "verify_done": "Stored: {path}", "pass": "PASS", "fail": "FAIL",
}


def users_not_verified(n: int, rate: "float | None" = None) -> str:
    who = f"{rate:g} requests/s" if rate else f"{n} users at once"
    return (f"note: verify measures one stream; the figures for {who} (a KV cache each, the speed each user "
            "sees) are predictions it does not check, so the requirements are checked as for one user")


INTERCONNECT_NAMES = {"nvlink": "NVLink", "pcie": "PCIe: 42.56 us per all-reduce, NCCL on 8 RTX 4090s"}
CAPACITY_COLUMNS = ("layout", "GPUs", "KV tokens", "max concurrency", "users per replica", "replicas", "total GPUs",
                    "ms per token", "tok/s per user", "aggregate tok/s", "TTFT ms")
CAPACITY_WIDTHS = (8, 4, 11, 15, 17, 8, 10, 12, 14, 15, 7)


def capacity_cells(r: dict) -> list[str]:
    """One layout of advisor.serving.plan_layouts as the capacity table's cells (a refused one: its reason)."""
    head = [f"TP{r['tp']} PP{r['pp']}", str(r["gpus"])]
    if r["refused"]:
        return head + [f"not used: {r['refused']}"]
    return head + [f"{r['kv_tokens']:,}", f"{r['max_concurrency']:g}",
                   f"{r['users_per_replica']} of {r['max_users_per_replica']}", str(r["replicas"]), str(r["total_gpus"]),
                   f"{r['tpot_ms']:.1f}", f"{r['per_user_tok_s']:.1f}", f"{r['aggregate_tok_s']:,.0f}", f"{r['ttft_ms']:.0f}"]


def serving_lines(s: dict) -> list[str]:
    """The capacity table of `advisor capacity --concurrent-users`: one line per layout, then the choice."""
    want = f" at {s['target_tps']:g} tok/s each" if s.get("target_tps") else ""
    rate = (f" ({s['requests_per_s']:g} requests/s in flight by Little's law)" if s.get("requests_per_s") else "")
    out = ["", f"{s['users']} users{rate}{want}, {s['prompt_tokens']} prompt + {s['output_tokens']} output tokens "
               f"each, nodes of {s['gpus_per_node']} x {s['gpu']} ({INTERCONNECT_NAMES[s['interconnect']]}), at most "
               f"{s['max_gpus']} GPUs:",
           " ".join(f"{h:>{w}}" for h, w in zip(CAPACITY_COLUMNS, CAPACITY_WIDTHS)) + "  bound"]
    for r in s["layouts"]:
        cells = capacity_cells(r)
        out.append(" ".join(f"{x:>{w}}" for x, w in zip(cells, CAPACITY_WIDTHS))
                   + ("" if r["refused"] else f"  {r['bound']}"))
    c, f = s["chosen"], s["fastest"]
    if c is None:
        out.append(f"no layout serves {s['users']} users{want} within {s['max_gpus']} GPUs: try --max-gpus "
                   f"{s['max_gpus'] * 2}, a lower --target-tps, or --kv-cache-dtype fp8")
    else:
        out.append(f"fewest GPUs: TP {c['tp']} x PP {c['pp']}, {c['replicas']} replica(s) = {c['total_gpus']} GPUs; "
                   f"{c['per_user_tok_s']:g} tok/s per user, {c['ttft_ms']:.0f} ms to first token"
                   + (" (expert parallel across its GPUs: --enable-expert-parallel)" if c["expert_parallel"] else ""))
        if f is not c:
            out.append(f"fastest per user: TP {f['tp']} x PP {f['pp']}, {f['replicas']} replica(s) = {f['total_gpus']} "
                       f"GPUs at {f['per_user_tok_s']:g} tok/s per user")
    out.append(roofline_basis(s["roofline"]))
    return out


def roofline_basis(k: dict) -> str:
    """Where a capacity table's time per token comes from (advisor.serving.FITTED and its check)."""
    return (f"ms per token = max(bytes / ({k['eff_bw']:g} x datasheet bandwidth), FLOPs / ({k['mfu']:g} x 16-bit "
            f"peak)) + the other users' prompts mixed in + {k['overhead_ms']:g} ms per step + {k['allreduce_us']:g} us "
            f"per all-reduce ({k['pcie_allreduce_us']:g} over PCIe); fitted on published vLLM runs, checked on others: {k['check']}; KV tokens and "
            "concurrency as vLLM logs them at start-up, checked by python -m benchmarks.bench_vllm_kv")


def capacity_lines(rec: dict) -> list[str]:
    """`advisor capacity` as a table: one line per TP layout, the arithmetic of each column in the header."""
    out = [f"{rec['model']} on {rec['gpu']} ({rec['gpu_total_gib']:g} GiB as CUDA reports it), vLLM with "
           f"--max-model-len {rec['max_model_len']} --gpu-memory-utilization {rec['gpu_memory_utilization']:g} "
           f"--kv-cache-dtype {rec['kv_cache_dtype']}",
           "per GPU: requested = total x utilisation; KV = requested - weights - activation - non-torch",
           f"{'TP':>3} {'requested':>9} {'weights':>8} {'activ.':>7} {'non-torch':>9} {'KV GiB':>7} "
           f"{'KV tokens':>11} {'max concurrency':>16}"]
    for r in rec["layouts"]:
        if r["refused"]:
            out.append(f"{r['tp']:>3}  refused by vLLM: {r['refused']}")
            continue
        conc = f"{r['max_concurrency']:.2f}x" + ("" if r["starts"] else " (does not start)")
        out.append(f"{r['tp']:>3} {r['requested_gib']:>9.2f} {r['weights_gib']:>8.2f} {r['activation_gib']:>7.2f} "
                   f"{r['non_torch_gib']:>9.2f} {r['available_kv_gib']:>7.2f} {r['kv_tokens']:>11,} {conc:>16}")
        out += [f"      {n}" for n in r["notes"]]
    out.append("KV tokens and concurrency as vLLM logs them (\"GPU KV cache size\", \"Maximum concurrency for "
               f"{rec['max_model_len']} tokens per request\"); checked against published logs: "
               "python -m benchmarks.bench_vllm_kv")
    return out
