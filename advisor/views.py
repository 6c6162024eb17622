"""Plain-data views of catalog entities (for JSON output, the UI and reports)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from .schemas import LABEL_FIELDS, Hardware, Model

ARCH_FIELDS = (
    "layers", "hidden_size", "intermediate_size", "attention_heads", "kv_heads", "head_dim",
    "vocab_size", "context_length", "sliding_window", "sliding_window_pattern", "tie_embeddings",
    "experts", "experts_per_token", "moe_intermediate_size",
)


def model_record(model_id: str, m: Model, quants: dict | None = None) -> dict[str, Any]:
    """The model with the issue's field names first, then the rest of the schema.

    With `quants` (the catalog's quantizations), artifacts without a listed size get a
    computed one, marked `size_estimated: true` with its `size_basis`.
    """
    data = m.model_dump(mode="json")
    if quants is not None:
        from .weights import artifact_size

        for art, rec in zip(m.artifacts, data["artifacts"]):
            ws = artifact_size(m, art, quants[art.quantization])
            if ws is not None:
                rec["size_bytes"] = ws.bytes
                rec["size_estimated"] = ws.estimated
                rec["size_basis"] = ws.basis
    arch = data.pop("architecture")
    if arch is not None:
        arch = {**{k: arch.get(k) for k in ARCH_FIELDS}, **{k: v for k, v in arch.items() if k not in ARCH_FIELDS}}
    rec = {
        "id": model_id,
        "family": data.pop("family"),
        "name": data.pop("name"),
        "hf_repo": data.pop("hf_repo"),
        "params_b": data.pop("params_b"),
        "active_params_b": data.pop("active_params_b") or m.params_b,
        "architecture": arch,
    }
    for k in ("languages", "languages_claim", "languages_claim_count", "modalities_in", "modalities_out",
              "tasks", "license", "availability", "platforms", "benchmarks", "artifacts"):
        rec[k] = data.pop(k)
    rec.update(data)
    return rec


def hardware_record(hw_id: str, h: Hardware) -> dict[str, Any]:
    data = h.model_dump(mode="json")
    rec = {"id": hw_id}
    for k in ("name", "memory_gb", "memory_kind", "bandwidth_gbps", "platform", "backends", "npu_tops"):
        rec[k] = data.pop(k)
    rec.update(data)
    return rec


def accelerator_record(acc_id: str, a) -> dict[str, Any]:
    data = a.model_dump(mode="json")
    rec = {"id": acc_id}
    for k in ("name", "vendor", "kind", "memory_gb", "memory_type", "bandwidth_gbps", "backends"):
        rec[k] = data.pop(k)
    c = a.compute
    rec["fp16_tflops"] = c.fp16_tflops or c.bf16_tflops
    rec["sources"] = {k: v.ref for k, v in a.sources.items()}
    data.pop("sources", None)
    rec.update(data)
    return rec


def _sources_for(m: BaseModel, path: str) -> list[str]:
    prov = m.provenance  # type: ignore[attr-defined]
    parts = path.split(".")
    for i in range(len(parts), 0, -1):
        key = ".".join(parts[:i])
        if key in prov:
            v = prov[key]
            return [v] if isinstance(v, str) else list(v)
    return []


def _fmt(v: Any) -> str:
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) if v else "(none)"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def model_facts(m: Model) -> list[tuple[str, str, list[str]]]:
    """(field, value, source keys) for every fact the file states."""
    out: list[tuple[str, str, list[str]]] = []
    skip = LABEL_FIELDS | {"corrections"}
    for name in type(m).model_fields:
        if name in skip:
            continue
        v = getattr(m, name)
        if v is None or v == [] or v == {}:
            continue
        if isinstance(v, BaseModel):
            for sub in type(v).model_fields:
                sv = getattr(v, sub)
                if sv is None or (sub not in v.model_fields_set):
                    continue
                out.append((f"{name}.{sub}", _fmt(sv), _sources_for(m, f"{name}.{sub}")))
        elif isinstance(v, list) and isinstance(v[0], BaseModel):
            for i, item in enumerate(v):
                d = item.model_dump(exclude={"source"}, exclude_none=True)
                label = ", ".join(f"{k}={_fmt(x)}" for k, x in d.items())
                out.append((f"{name}[{i}]", label, [item.source]))
        else:
            out.append((name, _fmt(v), _sources_for(m, name)))
    return out
