"""The recommendation as data (JSON) and as text for people (table, Markdown)."""

from __future__ import annotations

from .estimate import HardwareSpec, budget_of, stack_record
from .explain import change_text, label, violation_sentence, why
from .kb import Catalog
from .requirements import Requirements
from .solve import best_per_model, evaluate, nearest_misses, relaxations


def recommend_report(cat: Catalog, req: Requirements, hw: HardwareSpec, profiles=(), *,
                     include_stacks: bool = False) -> dict:
    """The recommendation as data; `include_stacks` adds every evaluated stack in brief (`stacks`), with the
    Pareto fronts of quality against memory and against decode speed among the feasible ones."""
    cands = evaluate(cat, hw, req, profiles)
    budget = budget_of(req, hw)
    recs = [{"rank": i, **candidate_record(cat, c, req, hw, budget), "hf_repo": c.model.hf_repo,
             "family": c.model.family, "license": c.model.license, "why": why(c)}
            for i, c in enumerate(best_per_model(cands, req.top), 1)]
    rejected = [{
        "model": c.model_id, "quantization": c.quant, "quantization_name": cat.quantizations[c.quant].name,
        "runtime": c.runtime, "backend": c.backend,
        "violations": [v.as_dict() for v in c.violations],
        "why": [violation_sentence(c, v) for v in c.violations],
    } for c in nearest_misses(cands)]
    hw_rec = {"id": hw.hardware_id, "name": hw.name, "memory_gb": budget, "memory_kind": hw.memory_kind,
              "bandwidth_gbps": hw.bandwidth_gbps, "bandwidth_source": hw.bandwidth_source,
              "compute_tflops": hw.gpu_tflops if hw.memory_kind == "vram" else hw.cpu_tflops,
              "accelerator": hw.accelerator, "backends": list(hw.backends), "detected": hw.detected}
    out = {
        "requirements": req.model_dump(),
        "hardware": hw_rec,
        "recommendations": recs,
        "rejected": rejected,
        "relaxations": [{**x, "change": change_text(x)} for x in relaxations(cands, req, budget)],
        "notes": (["no --ram, --vram or --hardware: the detected machine was used"] if hw.detected and not req.ram_gb
                  and not req.vram_gb and not req.gpu else []) + list(hw.notes),
    }
    if include_stacks:
        out["stacks"] = stack_points(cands)
    return out


def stack_points(cands) -> list[dict]:
    """Every evaluated stack in brief (a chart's points): feasible ones first in rank order, then rejected
    ones with the constraints they fail; `pareto_memory` / `pareto_speed` mark the feasible fronts."""
    from .ranking import pareto_front

    feas = [c for c in cands if c.feasible]
    rej = sorted((c for c in cands if not c.feasible), key=lambda c: (c.model_id, c.quant, c.runtime, c.backend))
    pts = []
    for c in feas + rej:
        mem = c.memory.required / 1e9 if c.memory is not None and c.memory.total else None
        if c.offload is not None:
            mem = (c.offload.vram_bytes + c.offload.ram_bytes) / 1e9
        pts.append({"model": c.model_id, "family": c.model.family, "quantization": c.quant, "runtime": c.runtime,
                    "backend": c.backend, "memory_required_gb": round(mem, 3) if mem is not None else None,
                    "decode_tps": round(c.speed.decode_tps, 2) if c.speed else None,
                    "basis": c.speed.basis if c.speed else None, "quality": round(c.quality, 1),
                    "score": round(c.score, 2), "feasible": c.feasible,
                    "violations": sorted({v.constraint for v in c.violations}),
                    "pareto_memory": False, "pareto_speed": False})
    n = len(feas)
    for key, xk, lower in (("pareto_memory", "memory_required_gb", True), ("pareto_speed", "decode_tps", False)):
        for p, on in zip(pts[:n], pareto_front([(p[xk], p["quality"]) for p in pts[:n]], lower)):
            p[key] = on
    return pts


def candidate_record(cat: Catalog, c, req: Requirements, hw: HardwareSpec, budget) -> dict:
    """One evaluated stack under the same field names as `estimate` (advisor.estimate.stack_record), plus what
    only the solver knows: download size, quality, score, notes."""
    budget = c.budget_gb or budget  # several GPUs: what this stack's runtime can use of them
    fits = None
    if c.memory is not None and budget:
        fits = not any(v.constraint == "memory" for v in c.violations)
    rec = stack_record(c.model_id, c.quant, cat.quantizations[c.quant].name, c.runtime, c.backend,
                       min(req.context, c.model.architecture.extended_context_length
                           or c.model.architecture.context_length) if c.model.architecture else req.context,
                       c.memory, c.offload, c.speed,
                       c.speed.basis if c.speed else ("published" if c.model.published_performance else "none"),
                       hw, fits, budget)
    rec.update(download_gb=round(c.download_gb, 3), quality=round(c.quality, 1), score=round(c.score, 2),
               languages={lang: "listed" if lang in c.model.languages else "claimed" for lang in req.languages},
               artifact=c.artifact,
               notes=[n.as_dict() for n in c.notes])
    if c.serving:
        rec["serving"] = c.serving
    return rec


def _unlocks(x: dict) -> str:
    u = x["unlocks"]
    return f"{u['model']} {u['quantization']} on {u['runtime']}"


def render_table(rep: dict) -> str:
    hw = rep["hardware"]
    lines = [f"hardware: {hw['name']}; memory {hw['memory_gb']:.1f} GB ({hw['memory_kind']}), "
             f"bandwidth {hw['bandwidth_gbps']:g} GB/s"] + [f"note: {n}" for n in rep["notes"]]
    if rep["recommendations"]:
        lines.append("")
        for r in rep["recommendations"]:
            mem = f"{r['memory_required_gb']:.2f} GB" if r["memory_required_gb"] is not None else "built in"
            tps = (f"{r['decode_tps']:.1f} tok/s" if r["decode_tps"] else "published figures only"
                   if r["basis"] == "published" else "no speed figure published")
            langs = "".join(f", {k} {'listed' if v == 'listed' else 'claimed only'}" for k, v in r["languages"].items())
            lines.append(f"{r['rank']}. {r['model']} {r['quantization']} on {r['runtime']} ({r['backend']}): "
                         f"{mem}, {tps} [{r['basis']}], licence {r['license']}{langs}")
            lines += [f"   - {w}" for w in r["why"]]
    else:
        lines.append("\nnothing fits these requirements.")
    if rep["rejected"]:
        lines.append("\nnearest misses:")
        for r in rep["rejected"]:
            lines.append(f"  {r['model']} {r['quantization']} on {r['runtime']}: " + "; ".join(r["why"]))
    if rep["relaxations"]:
        lines.append("\nto unlock more:")
        lines += [f"  {change_text(x)}  unlocks {_unlocks(x)}" for x in rep["relaxations"]]
    return "\n".join(lines)


def render_markdown(rep: dict) -> str:
    hw = rep["hardware"]
    out = ["# Recommendation", "", f"**Hardware:** {hw['name']}, {hw['memory_gb']:.1f} GB {hw['memory_kind']}, "
           f"{hw['bandwidth_gbps']:g} GB/s", ""]
    if rep["recommendations"]:
        out += ["| rank | model | quantization | runtime | memory GB | decode tok/s | basis | licence | languages |",
                "|---|---|---|---|---|---|---|---|---|"]
        for r in rep["recommendations"]:
            langs = ", ".join(f"{k} {'listed' if v == 'listed' else 'claimed only'}" for k, v in r["languages"].items())
            out.append(f"| {r['rank']} | {r['model']} | {r['quantization']} | {r['runtime']} | {r['memory_required_gb']} | "
                       f"{r['decode_tps']} | {r['basis']} | {r['license']} | {langs} |")
        for r in rep["recommendations"]:
            out += ["", f"## {r['rank']}. {r['model']} {r['quantization']}"] + [f"- {w}" for w in r["why"]]
    else:
        out.append("**Nothing fits these requirements.**")
    if rep["rejected"]:
        out += ["", "## Rejected (nearest misses)"] + [f"- **{r['model']} {r['quantization']}**: " + "; ".join(r["why"])
                                                       for r in rep["rejected"]]
    if rep["relaxations"]:
        out += ["", "## What would unlock more"] + [f"- `{change_text(x)}` unlocks {_unlocks(x)}" for x in rep["relaxations"]]
    return "\n".join(out)


def why_report(cat: Catalog, req: Requirements, hw: HardwareSpec, model_id: str, profiles=()) -> dict:
    """One model's fate under the requirements, as data (`advisor why`)."""
    from .explain import why_model_sentences
    from .solve import _distance, change_for, unreachable

    cands = evaluate(cat, hw, req, profiles)
    budget = budget_of(req, hw)
    mine = [c for c in cands if c.model_id == model_id]
    ranked = best_per_model(cands, len(cat.models))
    rep: dict = {"model": model_id, "requirements": req.model_dump(),
                 "hardware": {"id": hw.hardware_id, "name": hw.name, "memory_gb": budget},
                 "prefer": req.prefer, "stacks_total": len(mine),
                 "stacks_feasible": sum(c.feasible for c in mine), "feasible_models": len(ranked)}

    def stack(c) -> dict:
        return {**candidate_record(cat, c, req, hw, budget), "feasible": c.feasible,
                "violations": [v.as_dict() for v in c.violations],
                "why": why(c) if c.feasible else [violation_sentence(c, v) for v in c.violations]}

    if not mine:
        rep.update(verdict="unreachable", unreachable=unreachable(cat, hw, req, cat.model(model_id), model_id),
                   stacks=[])
    else:
        feasible = [c for c in mine if c.feasible]
        if feasible:
            pos = next(i for i, c in enumerate(ranked, 1) if c.model_id == model_id)
            rep.update(verdict="recommended" if pos <= req.top else "outranked", rank=pos, best=stack(feasible[0]),
                       outranked_by=[{"model": c.model_id, "quantization": c.quant, "runtime": c.runtime,
                                      "score": round(c.score, 2)} for c in ranked[:pos - 1]][:req.top])
        else:
            near = min(mine, key=lambda c: (len(c.violations), _distance(c), -c.score))
            counts: dict[str, int] = {}
            for c in mine:
                for v in c.violations:
                    counts[v.constraint] = counts.get(v.constraint, 0) + 1
            needs = [{**ch, "change": change_text(ch)} for ch in (change_for(v, near, req) for v in near.violations)
                     if ch]
            rep.update(verdict="rejected", best=stack(near), violation_counts=counts, needs=needs)
        # the stacks that meet every requirement first, each group in rank order
        rep["stacks"] = [stack(c) for c in sorted(mine, key=lambda c: not c.feasible)]
    rep["why"] = why_model_sentences(rep)
    return rep


def render_why_table(rep: dict) -> str:
    lines = [f"{rep['model']}: {rep['verdict']} (hardware: {rep['hardware']['name']})", ""]
    lines += [f"- {w}" for w in rep["why"]]
    if rep["stacks"]:
        lines += ["", "stacks:"]
        for s in rep["stacks"][:12]:
            mem = f"{s['memory_required_gb']:.2f} GB" if s["memory_required_gb"] is not None else "built in"
            state = "fits" if s["feasible"] else "fails " + ", ".join(label(v["constraint"]) for v in s["violations"])
            lines.append(f"  {s['quantization']:8s} {s['runtime']:17s} {s['backend']:6s} {mem:>9s}  "
                         f"{(str(s['decode_tps']) + ' tok/s') if s['decode_tps'] else '':>12s}  score {s['score']:6.1f}  {state}")
        if len(rep["stacks"]) > 12:
            lines.append(f"  ... {len(rep['stacks']) - 12} more (--format json)")
    return "\n".join(lines)


def render_why_markdown(rep: dict) -> str:
    out = [f"# Why {rep['model']}: {rep['verdict']}", "", f"**Hardware:** {rep['hardware']['name']}", ""]
    out += [f"- {w}" for w in rep["why"]]
    if rep["stacks"]:
        out += ["", "| quantization | runtime | backend | memory GB | decode tok/s | score | verdict |",
                "|---|---|---|---|---|---|---|"]
        for s in rep["stacks"]:
            state = "fits" if s["feasible"] else "fails " + ", ".join(label(v["constraint"]) for v in s["violations"])
            out.append(f"| {s['quantization']} | {s['runtime']} | {s['backend']} | {s['memory_required_gb']} | "
                       f"{s['decode_tps']} | {s['score']} | {state} |")
    return "\n".join(out)


# contexts a sweep walks through (tokens), up to the model's longest
SWEEP_CONTEXTS = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072)


def context_sweep(cat: Catalog, hw: HardwareSpec, stacks: list[tuple[str, str, str]], profiles=(),
                  contexts=SWEEP_CONTEXTS, gen_tokens: int = 128) -> list[dict]:
    """Memory and decode speed of each (model, quantization, runtime) as the context grows: at each context
    the memory that must fit and the decode speed with the context full (the prompt fills it, less the
    generated tokens). One row per stack and context; contexts beyond the model's longest are left out."""
    from .errors import AdvisorError
    from .estimate import estimate_stack

    rows = []
    for model_id, quant, runtime in stacks:
        m = cat.model(model_id)
        longest = (m.architecture.extended_context_length or m.architecture.context_length) if m.architecture else 0
        for ctx in contexts:
            if ctx > longest:
                break
            try:
                est = estimate_stack(cat, model_id, quant, runtime, ctx, hw, prompt_tokens=max(1, ctx - gen_tokens),
                                     gen_tokens=gen_tokens, extra_profiles=profiles)
            except AdvisorError:
                break
            rec = est.as_dict()
            rows.append({"stack": f"{model_id} {quant} {runtime}", "model": model_id, "quantization": quant,
                         "runtime": runtime, "context": ctx, "memory_required_gb": rec["memory_required_gb"],
                         "decode_tps": rec["decode_tps"], "basis": rec["basis"], "fits": rec["fits"]})
    return rows


def profile_comparison(cat: Catalog, profiles) -> list[dict]:
    """Each stored run beside the advisor's prediction for its own machine (its bandwidth, compute, threads,
    SIMD), before calibration: no run of that machine informs the estimate. Runs the catalog cannot predict
    (an unknown model, a GPU run without its machine's figures) carry the reason instead."""
    from .errors import AdvisorError
    from .estimate import estimate_stack, spec_of_run
    from .speed import machine_of

    rows = []
    for p in profiles:
        row = {"model": p.model, "quantization": p.quantization, "runtime": p.runtime, "backend": p.backend,
               "hardware": p.hardware, "threads": p.threads, "context": p.context, "prompt_tokens": p.prompt_tokens,
               "synthetic": p.synthetic, "decode_measured": p.decode_tokens_per_s.median,
               "decode_predicted": None, "memory_measured_gb": round(p.peak_rss_bytes / 1e9, 3)
               if p.peak_rss_bytes else None, "memory_predicted_gb": None, "skipped": None}
        try:
            est = estimate_stack(cat, p.model, p.quantization, p.runtime, p.context, spec_of_run(p),
                                 prompt_tokens=p.prompt_tokens, gen_tokens=p.gen_tokens,
                                 exclude_fingerprint=machine_of(p), exclude_same_cpu=True)
        except AdvisorError as e:
            row["skipped"] = str(e)
        else:
            if est.speed is not None:
                row["decode_predicted"] = round(est.speed.decode_tps, 2)
            row["memory_predicted_gb"] = round(est.memory.total / 1e9, 3)
        rows.append(row)
    return rows
