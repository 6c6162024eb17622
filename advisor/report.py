"""The recommendation as data (JSON) and as text for people (table, Markdown)."""

from __future__ import annotations

from .estimate import HardwareSpec, offload_fields, peak_bytes, required_bytes
from .explain import violation_sentence, why
from .kb import Catalog
from .requirements import Requirements
from .solve import best_per_model, evaluate, nearest_misses, relaxations


def recommend_report(cat: Catalog, req: Requirements, hw: HardwareSpec, profiles=()) -> dict:
    cands = evaluate(cat, hw, req, profiles)
    budget = req.vram_gb or req.ram_gb or hw.memory_gb
    recs = []
    for i, c in enumerate(best_per_model(cands, req.top), 1):
        s = c.speed
        recs.append({
            "rank": i, "model": c.model_id, "hf_repo": c.model.hf_repo, "family": c.model.family,
            "quantization": cat.quantizations[c.quant].name, "runtime": c.runtime, "backend": c.backend,
            "context": req.context,
            "memory_required_gb": round(required_bytes(c.memory, c.offload) / 1e9, 2) if c.memory is not None else None,
            "memory_breakdown_gb": c.memory.breakdown_gb(required=True) if c.memory is not None else None,
            "memory_peak_gb": round(peak_bytes(c.memory, c.offload) / 1e9, 2) if c.memory is not None else None,
            **{k: (round(v, 2) if isinstance(v, float) else v) for k, v in offload_fields(c.offload, hw).items()},
            "decode_tps": round(s.decode_tps, 1) if s else None,
            "prefill_tps": round(s.prefill_tps, 1) if s and s.prefill_tps else None,
            "ttft_ms": round(s.ttft_ms) if s and s.ttft_ms else None,
            "basis": s.basis if s else "published",
            "quality": round(c.quality, 1), "score": round(c.score, 2), "license": c.model.license,
            "why": why(c),
        })
    rejected = [{
        "model": c.model_id, "quantization": cat.quantizations[c.quant].name, "runtime": c.runtime,
        "violations": [{"constraint": v.constraint, "required": v.required, "actual": v.actual} for v in c.violations],
        "why": [violation_sentence(c, v) for v in c.violations],
    } for c in nearest_misses(cands)]
    hw_rec = {"id": hw.hardware_id, "name": hw.name, "memory_gb": budget, "memory_kind": hw.memory_kind,
              "bandwidth_gbps": hw.bandwidth_gbps, "bandwidth_source": hw.bandwidth_source,
              "compute_tflops": hw.gpu_tflops if hw.memory_kind == "vram" else hw.cpu_tflops,
              "accelerator": hw.accelerator, "backends": list(hw.backends), "detected": hw.detected}
    return {
        "requirements": req.model_dump(),
        "hardware": hw_rec,
        "recommendations": recs,
        "rejected": rejected,
        "relaxations": relaxations(cands, req, budget),
        "notes": (["no --ram, --vram or --hardware: the detected machine was used"] if hw.detected and not req.ram_gb
                  and not req.vram_gb and not req.gpu else []) + [n for n in hw.notes if "--gpu" in n],
    }


def render_table(rep: dict) -> str:
    hw = rep["hardware"]
    lines = [f"hardware: {hw['name']}; memory {hw['memory_gb']:.1f} GB ({hw['memory_kind']}), "
             f"bandwidth {hw['bandwidth_gbps']:g} GB/s"] + [f"note: {n}" for n in rep["notes"]]
    if rep["recommendations"]:
        lines.append("")
        for r in rep["recommendations"]:
            mem = f"{r['memory_required_gb']:.2f} GB" if r["memory_required_gb"] is not None else "built in"
            tps = f"{r['decode_tps']:.1f} tok/s" if r["decode_tps"] else "published figures only"
            lines.append(f"{r['rank']}. {r['model']} {r['quantization']} on {r['runtime']} ({r['backend']}): "
                         f"{mem}, {tps} [{r['basis']}], licence {r['license']}")
            lines += [f"   - {w}" for w in r["why"]]
    else:
        lines.append("\nnothing fits these requirements.")
    if rep["rejected"]:
        lines.append("\nnearest misses:")
        for r in rep["rejected"]:
            lines.append(f"  {r['model']} {r['quantization']} on {r['runtime']}: " + "; ".join(r["why"]))
    if rep["relaxations"]:
        lines.append("\nto unlock more:")
        lines += [f"  {x['change']}  unlocks {x['unlocks']}" for x in rep["relaxations"]]
    return "\n".join(lines)


def render_markdown(rep: dict) -> str:
    hw = rep["hardware"]
    out = [f"# Recommendation", "", f"**Hardware:** {hw['name']}, {hw['memory_gb']:.1f} GB {hw['memory_kind']}, "
           f"{hw['bandwidth_gbps']:g} GB/s", ""]
    if rep["recommendations"]:
        out += ["| rank | model | quantization | runtime | memory GB | decode tok/s | basis | licence |",
                "|---|---|---|---|---|---|---|---|"]
        for r in rep["recommendations"]:
            out.append(f"| {r['rank']} | {r['model']} | {r['quantization']} | {r['runtime']} | {r['memory_required_gb']} | "
                       f"{r['decode_tps']} | {r['basis']} | {r['license']} |")
        for r in rep["recommendations"]:
            out += ["", f"## {r['rank']}. {r['model']} {r['quantization']}"] + [f"- {w}" for w in r["why"]]
    else:
        out.append("**Nothing fits these requirements.**")
    if rep["rejected"]:
        out += ["", "## Rejected (nearest misses)"] + [f"- **{r['model']} {r['quantization']}**: " + "; ".join(r["why"])
                                                       for r in rep["rejected"]]
    if rep["relaxations"]:
        out += ["", "## What would unlock more"] + [f"- `{x['change']}` unlocks {x['unlocks']}" for x in rep["relaxations"]]
    return "\n".join(out)


def why_report(cat: Catalog, req: Requirements, hw: HardwareSpec, model_id: str, profiles=()) -> dict:
    """One model's fate under the requirements, as data (`advisor why`)."""
    from .explain import why_model_sentences
    from .solve import _distance, change_for, unreachable

    cands = evaluate(cat, hw, req, profiles)
    budget = req.vram_gb or req.ram_gb or hw.memory_gb
    mine = [c for c in cands if c.model_id == model_id]
    ranked = best_per_model(cands, len(cat.models))
    rep: dict = {"model": model_id, "requirements": req.model_dump(),
                 "hardware": {"id": hw.hardware_id, "name": hw.name, "memory_gb": budget},
                 "prefer": req.prefer, "stacks_total": len(mine),
                 "stacks_feasible": sum(c.feasible for c in mine), "feasible_models": len(ranked)}

    def stack(c) -> dict:
        return {"quantization": cat.quantizations[c.quant].name, "quant_id": c.quant, "runtime": c.runtime,
                "backend": c.backend,
                "feasible": c.feasible, "score": round(c.score, 2), "quality": round(c.quality, 1),
                "memory_required_gb": round(required_bytes(c.memory, c.offload) / 1e9, 2) if c.memory is not None else None,
                "memory_peak_gb": round(peak_bytes(c.memory, c.offload) / 1e9, 2) if c.memory is not None else None,
                "decode_tps": round(c.speed.decode_tps, 1) if c.speed else None,
                "basis": c.speed.basis if c.speed else None,
                "violations": [{"constraint": v.constraint, "required": v.required, "actual": v.actual}
                               for v in c.violations],
                "why": why(c) if c.feasible else [violation_sentence(c, v) for v in c.violations]}

    if not mine:
        rep.update(verdict="unreachable", unreachable=unreachable(cat, hw, req, cat.model(model_id)), stacks=[])
    else:
        feasible = [c for c in mine if c.feasible]
        if feasible:
            pos = next(i for i, c in enumerate(ranked, 1) if c.model_id == model_id)
            rep.update(verdict="recommended" if pos <= req.top else "outranked", rank=pos, best=stack(feasible[0]),
                       outranked_by=[{"model": c.model_id, "quantization": cat.quantizations[c.quant].name,
                                      "score": round(c.score, 2)} for c in ranked[:pos - 1]][:req.top])
        else:
            near = min(mine, key=lambda c: (len(c.violations), _distance(c), -c.score))
            counts: dict[str, int] = {}
            for c in mine:
                for v in c.violations:
                    counts[v.constraint] = counts.get(v.constraint, 0) + 1
            needs = [ch for ch in (change_for(v, near, req) for v in near.violations) if ch]
            rep.update(verdict="rejected", best=stack(near), violation_counts=counts, needs=needs)
        rep["stacks"] = [stack(c) for c in mine]
    rep["why"] = why_model_sentences(rep)
    return rep


def render_why_table(rep: dict) -> str:
    lines = [f"{rep['model']}: {rep['verdict']} (hardware: {rep['hardware']['name']})", ""]
    lines += [f"- {w}" for w in rep["why"]]
    if rep["stacks"]:
        lines += ["", "stacks:"]
        for s in rep["stacks"][:12]:
            mem = f"{s['memory_required_gb']:.2f} GB" if s["memory_required_gb"] is not None else "built in"
            state = "fits" if s["feasible"] else "fails " + ", ".join(v["constraint"] for v in s["violations"])
            lines.append(f"  {s['quant_id'].upper():8s} {s['runtime']:17s} {s['backend']:6s} {mem:>9s}  "
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
            state = "fits" if s["feasible"] else "fails " + ", ".join(v["constraint"] for v in s["violations"])
            out.append(f"| {s['quantization']} | {s['runtime']} | {s['backend']} | {s['memory_required_gb']} | "
                       f"{s['decode_tps']} | {s['score']} | {state} |")
    return "\n".join(out)
