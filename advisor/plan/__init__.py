"""A plan for the review meeting and the repository: the recommendation as a decision (chosen option, the
options considered, consequences, risks, confirmation, sources) and the files that deploy the chosen stack.

`build_plan` returns data; advisor.plan.record writes the MADR decision record, advisor.plan.html the offline
report, advisor.plan.deploy the deploy files."""

from __future__ import annotations

import datetime
from typing import Any, Optional

from ..estimate import HardwareSpec
from ..kb import Catalog
from ..requirements import Requirements, to_spec

PLAN_KEYS = ("title", "status", "decision_makers", "consulted", "informed")


def build_plan(cat: Catalog, req: Requirements, hw: HardwareSpec, profiles=(), *, date: Optional[str] = None,
               meta: dict | None = None, options: int = 4) -> dict[str, Any]:
    """The plan as data. `meta`: the decision record's front matter from the spec (title, status,
    decision_makers, consulted, informed); `date`: the record's date (default: --as-of, else today)."""
    from ..report import recommend_report

    meta = dict(meta or {})
    rep = recommend_report(cat, build_req(req, options), hw, profiles, include_stacks=True)
    recs = rep["recommendations"]
    plan: dict[str, Any] = {
        **_head(meta, date or req.as_of),
        "requirements": to_spec(req), "hardware": rep["hardware"], "notes": rep["notes"],
        "chosen": recs[0] if recs else None, "options": recs, "rejected": rep["rejected"],
        "relaxations": rep["relaxations"], "stacks": rep["stacks"], "headroom": req.headroom,
    }
    plan["capacity"] = vllm_capacity(cat, plan["chosen"], req, hw) if recs else None
    plan["risks"] = risks(cat, plan["chosen"], req) if recs else []
    plan["sources"] = sources(cat, recs, hw)
    plan["confirmation"] = confirmation(plan["chosen"], req)
    return plan


def vllm_capacity(cat: Catalog, chosen: dict, req: Requirements, hw: HardwareSpec) -> Optional[dict]:
    """For a vLLM pick on a known NVIDIA GPU (a catalog accelerator, or a hardware profile's GPUs): the layouts,
    replicas and GPUs for the requirement's users, with time per token and to first token (advisor.serving),
    within the GPUs the hardware has. None for any other pick."""
    if chosen is None or chosen["runtime"] != "vllm":
        return None
    from ..serving import machine_gpu, plan_layouts

    found = machine_gpu(cat, hw)
    if found is None:
        return None
    _, gpu, count = found

    m = cat.models[chosen["model"]]
    bits = cat.quantizations[chosen["quantization"]].bits_per_weight or 16.0
    users = (chosen.get("serving") or {}).get("users", req.concurrent_users)  # a request rate's users in flight
    out = plan_layouts(m, gpu, users=users,
                       prompt_tokens=min(req.prompt_tokens, chosen["context"] - 1),
                       output_tokens=max(1, min(req.output_tokens, chosen["context"] - req.prompt_tokens)),
                       target_tps=req.min_tps, gpus_per_node=count,
                       max_gpus=min(count * max(1, hw.nodes), req.max_gpus or count * max(1, hw.nodes)),
                       max_model_len=chosen["context"],
                       kv_dtype="fp8" if req.kv_cache != "f16" else "auto", bits=bits)
    out.update(model=chosen["model"], repo=m.hf_repo or chosen["model"], bits=bits)
    return out


def build_req(req: Requirements, options: int) -> Requirements:
    """The requirements with room for the options a record compares (at least `options`)."""
    from dataclasses import replace

    return replace(req, top=max(req.top, options))


def _head(meta: dict, day: Optional[str]) -> dict[str, Any]:
    """The decision record's front matter: the spec's title, status and people, and its date (today if none)."""
    return {"schema_version": 1, "date": day or datetime.date.today().isoformat(), "title": meta.get("title"),
            "status": meta.get("status") or "proposed", "decision_makers": _list(meta.get("decision_makers")),
            "consulted": _list(meta.get("consulted")), "informed": _list(meta.get("informed"))}


def _list(v) -> list[str]:
    if v is None:
        return []
    return [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]


def risks(cat: Catalog, chosen: dict, req: Requirements) -> list[dict]:
    """What the review must know before signing, as data: figures not measured here, context beyond the
    native length, licence terms, a built-in's retirement, languages only claimed, a file still to be made."""
    m = cat.model(chosen["model"])
    out = []
    if chosen["basis"] != "measured":
        out.append({"kind": "not_measured", "basis": chosen["basis"]})
    for n in chosen["notes"]:
        if n["kind"] == "context_extension":
            out.append({"kind": "context_extension", **n["detail"]})
    lic = m.license.lower()
    if lic not in ("apache-2.0", "mit", "bsd-3-clause", "bsd-2-clause"):
        src = m.sources.get(_licence_source(m))
        out.append({"kind": "licence", "license": m.license, "source": src.ref if src else None})
    if m.lifecycle:
        out.append({"kind": "lifecycle", "model": chosen["model"],
                    "events": [e.model_dump(mode="json", exclude_none=True) for e in m.lifecycle]})
    claimed = [k for k, v in chosen["languages"].items() if v != "listed"]
    if claimed:
        out.append({"kind": "languages_claimed", "languages": claimed, "claim": m.languages_claim})
    if chosen["artifact"].get("status") == "to-be-made":
        out.append({"kind": "to_be_made", "from": chosen["artifact"].get("from"), "tool": chosen["artifact"].get("tool")})
    if chosen["artifact"].get("size_estimated_bytes"):
        out.append({"kind": "size_estimated", "bytes": chosen["artifact"]["size_estimated_bytes"]})
    return out


def _licence_source(m) -> Optional[str]:
    prov = getattr(m, "provenance", {}) or {}
    v = prov.get("license")
    return v[0] if isinstance(v, list) and v else v


def sources(cat: Catalog, recs: list[dict], hw: HardwareSpec | list[HardwareSpec]) -> list[dict]:
    """Every source behind the options' figures: the models' and runtimes' sources, the artifacts', the
    hardware's (one machine, or each class's of a fleet); deduplicated, sorted."""
    seen: dict[str, dict] = {}
    for r in recs:
        m = cat.model(r["model"])
        for key, s in m.sources.items():
            seen.setdefault(s.ref, {"for": r["model"], "key": key, "kind": s.kind, "ref": s.ref, "title": s.title})
        rt = cat.runtimes[r["runtime"]]
        for key, s in rt.sources.items():
            seen.setdefault(s.ref, {"for": r["runtime"], "key": key, "kind": s.kind, "ref": s.ref, "title": s.title})
        a = r.get("artifact") or {}
        if a.get("source"):
            seen.setdefault(a["source"], {"for": f"{r['model']} {r['quantization']}", "key": "artifact",
                                          "kind": "artifact", "ref": a["source"], "title": None})
    for h in hw if isinstance(hw, list) else [hw]:
        if h.bandwidth_source:
            seen.setdefault(h.bandwidth_source, {"for": h.name if isinstance(hw, list) else "hardware",
                                                 "key": "bandwidth", "kind": "hardware",
                                                 "ref": h.bandwidth_source, "title": h.name})
    return sorted(seen.values(), key=lambda s: (s["for"], s["key"], s["ref"]))


def confirmation(chosen: Optional[dict], req: Requirements) -> dict:
    """How the decision is confirmed: measured already (the basis), or the verify command to run on the target."""
    if chosen is None:
        return {}
    return {"basis": chosen["basis"], "command": "advisor verify --spec requirements.yaml --on-target",
            "synthetic_command": "advisor verify --spec requirements.yaml --on-target --synthetic"}


FORMATS = ("md", "html", "both", "json")


def _writer(out, written: list):
    """put(relative path, text, mode): each file whole or not at all (a temporary name, then a rename), so a
    failed run leaves the earlier plan intact."""
    import os

    def put(rel: str, text: str, mode: int = 0o644) -> None:
        p = out / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(text)
        os.chmod(tmp, mode)
        tmp.replace(p)
        written.append(rel)

    return put


def write_plan(cat: Catalog, req: Requirements, hw: HardwareSpec, out_dir, profiles=(), *, fmt: str = "both",
               date: Optional[str] = None, meta: dict | None = None) -> dict[str, Any]:
    """Write decision.md and/or report.html, and deploy/, into `out_dir`; returns the plan with `files` (the
    paths written) and `deploy` (each deploy file's content). Files are written whole or not at all (a
    temporary name, then a rename), so a failed run leaves the earlier plan intact."""
    from pathlib import Path

    from . import deploy, html, record
    from ..report import context_sweep

    plan = build_plan(cat, req, hw, profiles, date=date, meta=meta)
    files = deploy.deploy_files(cat, plan, req, hw)
    out = Path(out_dir)
    written = []
    put = _writer(out, written)

    if fmt in ("md", "both", "json"):
        put("decision.md", record.render(plan))
    if fmt in ("html", "both", "json"):
        stacks = [(r["model"], r["quantization"], r["runtime"]) for r in plan["options"][:4]]
        put("report.html", html.render(plan, context_sweep(cat, hw, stacks, profiles) if stacks else []))
    for name, text in sorted(files.items()):
        put(f"deploy/{name}", text, 0o755 if name.endswith(".sh") else 0o644)
    plan["deploy"] = files
    plan["files"] = written
    return plan


def write_fleet_plan(cat: Catalog, base_raw: dict, classes: list[dict], out_dir, profiles=(), *, fmt: str = "both",
                     date: Optional[str] = None, meta: dict | None = None, standardise: bool = False) -> dict[str, Any]:
    """A fleet as one decision: decision.md and report.html over every class, and deploy/<class>/ with each
    class's files (its requirements, its stack's commands, its verify.sh)."""
    from pathlib import Path

    from . import deploy, fleet, html, record

    fp = fleet.plan_fleet(cat, base_raw, classes, profiles, standardise=standardise)
    head = _head(meta or {}, date or base_raw.get("as_of"))
    out, written, deploy_all = Path(out_dir), [], {}
    put = _writer(out, written)

    for c in fp["classes"]:
        if c["chosen"] is None:
            continue
        sub = {**head, "chosen": c["chosen"], "hardware": {"memory_gb": c["memory_gb"]}}
        files = deploy.deploy_files(cat, sub, c["_req"], c["_spec"])
        deploy_all[c["name"]] = files
    plan = {**head, "fleet": fleet.public(fp), "requirements": to_spec_raw(base_raw)}
    if fmt in ("md", "both", "json"):
        put("decision.md", record.render_fleet(plan))
    if fmt in ("html", "both", "json"):
        put("report.html", html.render_fleet(plan))
    for name, files in deploy_all.items():
        for fname, text in sorted(files.items()):
            put(f"deploy/{name}/{fname}", text, 0o755 if fname.endswith(".sh") else 0o644)
    plan["deploy"] = deploy_all
    plan["files"] = written
    return plan


def to_spec_raw(raw: dict) -> dict:
    """The fleet's shared requirements as spec keys (the classes carry their hardware)."""
    from ..requirements import build

    from .fleet import HARDWARE_KEYS

    return to_spec(build({k: v for k, v in raw.items() if k not in HARDWARE_KEYS.values()}))
