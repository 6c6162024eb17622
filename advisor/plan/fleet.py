"""A fleet: device classes that each get a stack, as one decision. Each class is the spec's requirements with
its own hardware and overrides; the summary says what ships (distinct models and files, download and storage),
which class is weakest and what limits it, and what standardising on one model costs each class.

    fleet:
      - {name: edge, hardware: raspberry-pi-5-8gb, count: 40}
      - {name: laptops, ram: 16GB, count: 200, overrides: {context: 16K}}
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from . import risks, sources

HARDWARE_KEYS = {"hardware": "hardware", "ram": "ram_gb", "vram": "vram_gb", "gpu": "gpu", "bandwidth": "bandwidth_gbps",
                 "tflops": "tflops"}
ENTRY_KEYS = {"name", "count", "overrides", *HARDWARE_KEYS}
FORM = "a list of {name, hardware: ID | ram/vram/gpu/bandwidth/tflops, count, overrides: {requirement keys}}"


def parse_fleet(entries: Any) -> list[dict]:
    """The spec's `fleet:` checked: each class named once, a count of at least 1, known keys only."""
    from ..requirements import SPEC_KEYS

    if not isinstance(entries, list) or not entries:
        raise InputError("--spec: fleet", "must be a non-empty list of device classes", FORM)
    out, names = [], set()
    for i, e in enumerate(entries):
        where = f"--spec: fleet[{i}]"
        if not isinstance(e, dict):
            raise InputError(where, "must be a mapping", FORM)
        bad = sorted(set(map(str, e)) - ENTRY_KEYS)
        if bad:
            raise InputError(f"{where}.{bad[0]}", "unknown key", ", ".join(sorted(ENTRY_KEYS)))
        name = str(e.get("name") or "").strip()
        if not name or name in names:
            raise InputError(f"{where}.name", "missing or repeated" if not name else f"'{name}' is repeated",
                             "a unique class name")
        names.add(name)
        try:
            count = int(e.get("count", 1))
        except (TypeError, ValueError):
            raise InputError(f"{where}.count", f"cannot read '{e.get('count')}'", "a whole number of at least 1") from None
        if count < 1:
            raise InputError(f"{where}.count", "must be at least 1", "a whole number of at least 1")
        over = e.get("overrides") or {}
        if not isinstance(over, dict):
            raise InputError(f"{where}.overrides", "must be a mapping", "requirement keys, e.g. {context: 16K}")
        raw_over = {}
        for k, v in over.items():
            if str(k) not in SPEC_KEYS or str(k) in ("fleet", "title", "status", "decision_makers", "decision-makers",
                                                      "consulted", "informed"):
                raise InputError(f"{where}.overrides.{k}", "unknown requirement key", "keys such as context, lang, task")
            raw_over[SPEC_KEYS[str(k)]] = v
        hw = {HARDWARE_KEYS[k]: e[k] for k in HARDWARE_KEYS if e.get(k) is not None}
        if not hw:
            raise InputError(f"{where}.hardware", "no hardware given", "hardware: ID, or ram/vram/gpu/bandwidth")
        out.append({"name": name, "count": count, "hardware_raw": hw, "overrides": raw_over})
    return out


def class_raw(base_raw: dict, cl: dict) -> dict:
    """A class's raw requirements: the fleet's shared ones (less any hardware), its hardware, its overrides."""
    common = {k: v for k, v in base_raw.items() if k not in HARDWARE_KEYS.values()}
    return {**common, **cl["hardware_raw"], **cl["overrides"]}


def plan_fleet(cat, base_raw: dict, classes: list[dict], profiles=(), *, standardise: bool = False) -> dict:
    """Each class's best stack (or, standardised, the one model every class can run), and the summary."""
    from ..api import resolve
    from ..report import candidate_record
    from ..solve import best_per_model, evaluate, relaxations

    rows = []
    for cl in classes:
        raw = class_raw(base_raw, cl)
        try:
            req, spec = resolve(cat, raw)
        except InputError as e:
            raise InputError(f"--spec: fleet {cl['name']}: {e.field}", e.problem, e.accepted) from None
        cands = evaluate(cat, spec, req, profiles)
        budget = req.vram_gb or req.ram_gb or spec.memory_gb
        best = best_per_model(cands, len(cat.models))
        rows.append({"class": cl, "req": req, "spec": spec, "budget": budget, "best": {c.model_id: c for c in best},
                     "order": [c.model_id for c in best], "relax": relaxations(cands, req, budget)})
    everywhere = [m for m in (rows[0]["order"] if rows else []) if all(m in r["best"] for r in rows)]
    # the one model for all: the highest quality weighted by each class's device count
    standard = max(everywhere, key=lambda m: (sum(r["class"]["count"] * r["best"][m].quality for r in rows), m),
                   default=None)
    out_classes = []
    for r in rows:
        top = r["best"][r["order"][0]] if r["order"] else None
        picks = {"best": top, "standard": r["best"].get(standard) if standard else None}
        recs = {k: _record(cat, p, r) if p else None for k, p in picks.items()}
        chosen, other = ("standard", "best") if standardise else ("best", "standard")
        rec = recs[chosen]
        out_classes.append({
            "_req": r["req"], "_spec": r["spec"],
            "name": r["class"]["name"], "count": r["class"]["count"], "hardware": r["spec"].name,
            "memory_gb": r["budget"], "headroom": r["req"].headroom, "chosen": rec, "alternative": recs[other],
            "best_model": top.model_id if top else None, "best_quality": round(top.quality, 1) if top else None,
            "standard_quality": round(picks["standard"].quality, 1) if picks["standard"] else None,
            "quality_given_up": round(top.quality - picks["standard"].quality, 1) if picks["standard"] and top else None,
            "limits": [x for x in r["relax"][:2]],
            "risks": risks(cat, rec, r["req"]) if rec else [],
        })
    return {"standardised": standardise, "standard_model": standard, "classes": out_classes,
            "summary": summary(out_classes),
            "alternative_summary": summary(out_classes, "alternative") if standard else None,
            "sources": sources(cat, [c["chosen"] for c in out_classes if c["chosen"]],
                               [c["_spec"] for c in out_classes])}


def _record(cat, pick, r: dict) -> dict:
    """A class's stack as the record every command prints, with its licence and its reasons."""
    from ..explain import why
    from ..report import candidate_record

    rec = candidate_record(cat, pick, r["req"], r["spec"], r["budget"])
    rec.update(license=pick.model.license, why=why(pick))
    return rec


def public(fp: dict) -> dict:
    """The fleet plan without the resolved objects (for JSON)."""
    return {**fp, "classes": [{k: v for k, v in c.items() if not k.startswith("_")} for c in fp["classes"]]}


def summary(classes: list[dict], key: str = "chosen") -> dict:
    """What the fleet ships with each class's `key` stack (chosen, or the alternative not taken)."""
    chosen = [{**c, "chosen": c[key]} for c in classes if c[key]]
    files: dict[tuple, float] = {}
    for c in chosen:
        x = c["chosen"]
        files[(x["model"], x["quantization"], x["runtime"])] = x["download_gb"]
    weakest = min(chosen, key=lambda c: (c["chosen"]["quality"], c["name"]), default=None)
    return {
        "devices": sum(c["count"] for c in classes),
        "classes_without_stack": [c["name"] for c in classes if not c[key]],
        "models": sorted({c["chosen"]["model"] for c in chosen}),
        "artifacts": [{"model": m, "quantization": q, "runtime": rt, "download_gb": round(gb, 3)}
                      for (m, q, rt), gb in sorted(files.items())],
        "download_gb": round(sum(files.values()), 3),
        "storage_gb": round(sum(c["count"] * c["chosen"]["download_gb"] for c in chosen), 3),
        "weakest": {"class": weakest["name"], "model": weakest["chosen"]["model"],
                    "quality": weakest["chosen"]["quality"], "limits": weakest["limits"]} if weakest else None,
    }
