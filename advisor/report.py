"""The recommendation as data (JSON) and as text for people (table, Markdown)."""

from __future__ import annotations

from .estimate import HardwareSpec
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
            "memory_gb": round(c.memory.total / 1e9, 2) if c.memory is not None else None,
            "memory_breakdown_gb": c.memory.breakdown_gb() if c.memory is not None else None,
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
              "bandwidth_gbps": hw.bandwidth_gbps, "backends": list(hw.backends), "detected": hw.detected}
    return {
        "requirements": req.model_dump(),
        "hardware": hw_rec,
        "recommendations": recs,
        "rejected": rejected,
        "relaxations": relaxations(cands, req, budget),
        "notes": (["no --ram, --vram or --hardware: the detected machine was used"] if hw.detected and not req.ram_gb
                  and not req.vram_gb else []),
    }


def render_table(rep: dict) -> str:
    hw = rep["hardware"]
    lines = [f"hardware: {hw['name']}; memory {hw['memory_gb']:.1f} GB ({hw['memory_kind']}), "
             f"bandwidth {hw['bandwidth_gbps']:g} GB/s"] + [f"note: {n}" for n in rep["notes"]]
    if rep["recommendations"]:
        lines.append("")
        for r in rep["recommendations"]:
            mem = f"{r['memory_gb']:.1f} GB" if r["memory_gb"] is not None else "built in"
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
            out.append(f"| {r['rank']} | {r['model']} | {r['quantization']} | {r['runtime']} | {r['memory_gb']} | "
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
