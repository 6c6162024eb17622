"""Which file a stack runs: a published artifact (Hub repository, file, size, source) or one to be made, with
the steps (the runtime's `make` recipe from the knowledge base). Data only; advisor.explain words it."""

from __future__ import annotations

from typing import Optional

BUILDER_PRECISION = {"onnx_int4": "int4", "f16": "fp16", "bf16": "bf16", "f32": "fp32"}
MLX_BITS = {"mlx_4bit": 4, "mlx_8bit": 8}


def published(m, q: str, rt) -> list:
    """The published artifacts of this quantization in a format the runtime loads, best first: the vendor's own,
    then one with a listed size, then a single file."""
    arts = [a for a in m.artifacts if a.quantization == q and a.format in rt.formats and a.format != "platform"]
    return sorted(arts, key=lambda a: (not a.official, a.size_bytes is None or a.size_estimated, a.file is None))


def artifact_for(cat, m, q: str, runtime_id: str, estimated_bytes: Optional[int] = None) -> dict:
    """{"status": "built-in" | "published" | "to-be-made", ...} for one stack."""
    rt = cat.runtimes[runtime_id]
    if m.availability != "open-weights":
        return {"status": "built-in", "api": m.platform_api.api if m.platform_api else None}
    arts = published(m, q, rt)
    if arts:
        a = arts[0]
        key = getattr(a, "source", None)  # generated catalogs (benchmarks) build artifacts without sources
        src = (getattr(m, "sources", None) or {}).get(key)
        return {"status": "published", "hf_repo": a.hf_repo or m.hf_repo, "file": a.file, "format": a.format,
                "size_bytes": a.size_bytes if a.size_bytes and not a.size_estimated else None,
                "size_estimated_bytes": None if (a.size_bytes and not a.size_estimated) else estimated_bytes,
                "official": a.official, "note": getattr(a, "note", None), "source": src.ref if src else key,
                "context_length": getattr(a, "context_length", None),
                "alternatives": len(arts) - 1}
    origin = next((a.hf_repo for a in m.artifacts if a.format == "safetensors" and a.quantization in ("bf16", "f16")
                   and a.hf_repo), None) or m.hf_repo
    recipe = next((r for r in rt.make if q in r.quantizations), None)
    out = {"status": "to-be-made", "from": origin, "size_estimated_bytes": estimated_bytes}
    if recipe is None:
        return {**out, "tool": None, "steps": [], "source": None}
    name = (origin or "model").split("/")[-1]
    fields = {"hf_repo": origin, "name": name, "quant": q, "QUANT": q.upper(), "bits": MLX_BITS.get(q, 4),
              "builder_precision": BUILDER_PRECISION.get(q, q)}
    src = rt.sources.get(recipe.source)
    return {**out, "tool": recipe.tool, "steps": [s.format_map(fields) for s in recipe.steps], "note": recipe.note,
            "source": src.ref if src else recipe.source}


def artifact_url(a: dict, hf_repo: Optional[str] = None) -> Optional[str]:
    """The Hub page of a stack's file: the published file itself, or the repository a file is made from."""
    if a.get("status") == "published" and a.get("hf_repo"):
        return f"https://huggingface.co/{a['hf_repo']}" + (f"/blob/main/{a['file']}" if a.get("file") else "")
    origin = a.get("from") or hf_repo
    return f"https://huggingface.co/{origin}" if origin else None
