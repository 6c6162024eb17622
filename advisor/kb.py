"""Load and validate knowledge/ into one immutable Catalog.

Layout (one entity per file, the id is the file name without .yaml):

    knowledge/families/<id>.yaml
    knowledge/models/<family>/<id>.yaml
    knowledge/quantizations/<id>.yaml
    knowledge/runtimes/<id>.yaml
    knowledge/hardware/<id>.yaml

``validate_tree`` returns one Problem per mistake (file, field, message) and
never raises on bad data; ``load_catalog`` raises KnowledgeBaseError when the
tree has problems.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ValidationError

from .arch import count_params
from .errors import KnowledgeBaseError, NotFoundError
from .schemas import LABEL_FIELDS, Accelerator, Family, Hardware, MeasuredProfile, Model, Quantization, Runtime, Source, Sourced

PARAMS_TOLERANCE = 0.05  # stated vs implied parameter count
_ID = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")

KINDS: dict[str, type[Sourced]] = {
    "families": Family,
    "models": Model,
    "quantizations": Quantization,
    "runtimes": Runtime,
    "hardware": Hardware,
    "accelerators": Accelerator,
    "profiles": MeasuredProfile,
}
# where each kind's files live under the knowledge root (default: a folder named after the kind)
FOLDERS = {"accelerators": "hardware/accelerators"}


@dataclass(frozen=True, order=True)
class Problem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}" if self.field else f"{self.file}: {self.message}"


@dataclass(frozen=True)
class Catalog:
    root: Path
    families: Mapping[str, Family]
    models: Mapping[str, Model]
    quantizations: Mapping[str, Quantization]
    runtimes: Mapping[str, Runtime]
    hardware: Mapping[str, Hardware]
    profiles: Mapping[str, MeasuredProfile] = field(default_factory=dict)
    accelerators: Mapping[str, Accelerator] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)  # "kind/id" -> path relative to root's parent
    key: str = ""  # the tree key (files' sizes and mtimes) when loaded from a knowledge folder

    def model(self, model_id: str) -> Model:
        return _get(self.models, model_id, "model", "MODEL")

    def hw(self, hardware_id: str) -> Hardware:
        return _get(self.hardware, hardware_id.lower(), "hardware", "--hardware")

    def accelerator_named(self, name: str) -> Optional[tuple[str, Accelerator]]:
        """The accelerator whose id, catalog name or a device name (as NVML / nvidia-smi print it) is exactly
        `name` (case, spaces, 'NVIDIA' and 'GeForce' ignored); None when none is. Never a partial match: the
        A10 is not the A100, and 'NVIDIA A100 80GB' names no one card (PCIe and SXM4 differ)."""
        return accelerator_named(self.accelerators, name)

    def accelerator(self, accel_id: str) -> Accelerator:
        return _get(self.accelerators, accel_id, "accelerator", "--gpu")

    def quant_id(self, text: str) -> str:
        """The quantization id `text` names: the id in any case ('Q4_K_M', 'q4_k_m') or the display name
        (`AWQ (W4, group 128, GEMM)`), so what any command prints is what `--quant` takes."""
        t = str(text).strip()
        if t.lower() in self.quantizations:
            return t.lower()
        for qid, q in self.quantizations.items():
            if q.name.lower() == t.lower():
                return qid
        _get(self.quantizations, t.lower(), "quantization", "--quant")  # raises, naming the accepted ids
        raise AssertionError("unreachable")

    def quant(self, quant_id: str) -> Quantization:
        return self.quantizations[self.quant_id(quant_id)]

    def runtime(self, runtime_id: str) -> Runtime:
        return _get(self.runtimes, runtime_id.lower(), "runtime", "--runtime")


LIST_COMMANDS = {"model": "advisor catalog", "hardware": "advisor hardware list", "accelerator": "advisor hardware gpus",
                 "quantization": "advisor quantization list", "runtime": "advisor runtime list"}


def _get(table: Mapping[str, Any], key: str, what: str, field_name: str | None = None):
    try:
        return table[key]
    except KeyError:
        ids = sorted(table)
        near = [k for k in ids if key.lower() in k or k in key.lower()][:5]
        if len(ids) <= 30:
            hint = ", ".join(ids)
        else:
            hint = (("near: " + ", ".join(near) + "; ") if near else "") + f"all: `{LIST_COMMANDS.get(what, 'advisor catalog')}`"
        raise NotFoundError(field_name or what, f"unknown {what} id '{key}'", hint) from None


def default_root() -> Path:
    env = os.environ.get("ADVISOR_KNOWLEDGE")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parent.parent / "knowledge"
    if repo.is_dir():
        return repo
    from importlib.resources import files  # installed wheel: packaged copy

    return Path(str(files("advisor") / "knowledge"))


# --------------------------------------------------------------------------- loading


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root.parent))
    except ValueError:
        return str(path)


def _files(root: Path):
    for kind in KINDS:
        base = root / FOLDERS.get(kind, kind)
        if not base.is_dir():
            continue
        pattern = {"models": "*/*.yaml", "profiles": "**/*.yaml"}.get(kind, "*.yaml")
        for path in sorted(base.glob(pattern)):
            yield kind, path
        for path in sorted(base.rglob("*")):
            if kind == "hardware" and "accelerators" in path.relative_to(base).parts:
                continue
            if path.is_file() and path.suffix in (".yml", ".json"):
                yield kind, path  # reported as misnamed below


def _loc(loc: tuple) -> str:
    return ".".join(str(x) for x in loc)


def _pydantic_problems(file: str, err: ValidationError) -> list[Problem]:
    out = []
    for e in err.errors():
        loc = _loc(e["loc"])
        if e["type"] == "extra_forbidden":
            out.append(Problem(file, loc, "unknown field"))
        elif e["type"] == "missing":
            out.append(Problem(file, loc, "missing required field"))
        else:
            msg = e["msg"].removeprefix("Value error, ")
            out.append(Problem(file, loc, msg))
    return out


def _parse(kind: str, path: Path, root: Path) -> tuple[Any, list[Problem]]:
    rel = _rel(path, root)
    if path.suffix != ".yaml":
        return None, [Problem(rel, "", "knowledge files end in .yaml")]
    if not _ID.match(path.stem):
        return None, [Problem(rel, "", "file name must be a lower-case id (a-z, 0-9, '-', '.', '_')")]
    import yaml  # only when validating: a cached catalog needs no YAML

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader is an order of magnitude faster
    try:
        with path.open("rb") as fh:
            data = yaml.load(fh, Loader=loader)
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else "?"
        return None, [Problem(rel, "yaml", f"line {line}: {e.problem}")]
    except yaml.YAMLError as e:
        return None, [Problem(rel, "yaml", str(e))]
    if not isinstance(data, dict):
        return None, [Problem(rel, "yaml", "the file must hold a mapping of fields")]
    if "id" in data:
        return None, [Problem(rel, "id", "the id comes from the file name; remove it from the file")]
    try:
        return KINDS[kind].model_validate(data), []
    except ValidationError as e:
        return None, _pydantic_problems(rel, e)


# --------------------------------------------------------------------------- checks


def _is_set(value: Any) -> bool:
    return value is not None and value != [] and value != {} and value is not False


def _fact_paths(entity: BaseModel) -> list[tuple[str, BaseModel | None]]:
    """Top-level fact fields that the file set, with the sub-model when it is one."""
    out = []
    for name in sorted(entity.model_fields_set):
        if name in LABEL_FIELDS:
            continue
        value = getattr(entity, name)
        if not _is_set(value):
            continue
        if isinstance(value, list) and value and isinstance(value[0], BaseModel) and "source" in type(value[0]).model_fields:
            continue  # every item names its own source
        if isinstance(value, dict) and value and all(
            isinstance(v, BaseModel) and "source" in type(v).model_fields for v in value.values()
        ):
            continue
        out.append((name, value if isinstance(value, BaseModel) else None))
    return out


def _valid_path(entity: BaseModel, path: str) -> bool:
    obj: Any = entity
    for part in path.split("."):
        if isinstance(obj, BaseModel) and part in type(obj).model_fields:
            obj = getattr(obj, part)
        else:
            return False
    return True


def _source_refs(entity: BaseModel, prefix: str = "") -> list[tuple[str, str]]:
    """(field path, source key) for every `source` field inside the entity."""
    out = []
    for name in type(entity).model_fields:
        value = getattr(entity, name)
        path = f"{prefix}{name}"
        if name in ("source", "course_source") and isinstance(value, str):
            out.append((path, value))
        elif isinstance(value, BaseModel):
            out.extend(_source_refs(value, path + "."))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    out.extend(_source_refs(item, f"{path}.{i}."))
        elif isinstance(value, dict) and name not in ("sources", "provenance"):
            for k, item in value.items():
                if isinstance(item, BaseModel):
                    out.extend(_source_refs(item, f"{path}.{k}."))
    return out


def _check_sources(file: str, e: Sourced) -> list[Problem]:
    probs = []
    used: set[str] = set()
    for key, val in sorted(e.provenance.items()):
        keys = [val] if isinstance(val, str) else val
        for k in keys:
            used.add(k)
            if k not in e.sources:
                probs.append(Problem(file, f"provenance.{key}", f"unknown source '{k}'"))
        if not _valid_path(e, key):
            probs.append(Problem(file, f"provenance.{key}", "names no field of this entity"))
    for path, key in _source_refs(e):
        used.add(key)
        if key not in e.sources:
            probs.append(Problem(file, path, f"unknown source '{key}'"))
    for name, sub in _fact_paths(e):
        if name in e.provenance:
            continue
        if sub is not None:
            missing = [
                f for f in sorted(sub.model_fields_set)
                if _is_set(getattr(sub, f)) and f"{name}.{f}" not in e.provenance
            ]
            for f in missing:
                probs.append(Problem(file, f"{name}.{f}", "missing source (add it to provenance)"))
        else:
            probs.append(Problem(file, name, "missing source (add it to provenance)"))
    for key in sorted(set(e.sources) - used):
        probs.append(Problem(file, f"sources.{key}", "never referenced"))
    return probs


def _check_model(file: str, mid: str, m: Model, ids: dict[str, set[str]]) -> list[Problem]:
    probs = []
    if not re.match(r"^[a-z0-9]+(?:[.-][a-z0-9]+)*$", mid):
        probs.append(Problem(file, "", "model ids are kebab-case (a-z, 0-9, '-', '.')"))
    if m.family not in ids["families"]:
        probs.append(Problem(file, "family", f"unknown family '{m.family}'"))
    for i, art in enumerate(m.artifacts):
        if art.quantization not in ids["quantizations"]:
            probs.append(Problem(file, f"artifacts.{i}.quantization", f"unknown quantization '{art.quantization}'"))
        if art.format != "platform" and not (art.hf_repo or m.hf_repo):
            probs.append(Problem(file, f"artifacts.{i}.hf_repo", "downloadable artifacts need a repository"))
    if m.params_b is None and m.availability == "open-weights":
        probs.append(Problem(file, "params_b", "open-weights models need params_b (from the card or config)"))
    if m.successor and m.successor not in ids["models"]:
        probs.append(Problem(file, "successor", f"unknown model '{m.successor}'"))
    if m.platform_api and m.platform_api.runtime not in ids["runtimes"]:
        probs.append(Problem(file, "platform_api.runtime", f"unknown runtime '{m.platform_api.runtime}'"))
    if m.availability == "open-weights":
        if not m.hf_repo:
            probs.append(Problem(file, "hf_repo", "open-weights models name their repository"))
        if m.architecture is None:
            probs.append(Problem(file, "architecture", "open-weights models need their config numbers"))
    else:
        if m.hf_repo:
            probs.append(Problem(file, "hf_repo", f"a {m.availability} model has no public weights"))
    if m.availability == "platform-builtin" and m.platform_api is None:
        probs.append(Problem(file, "platform_api", "platform-builtin models say how they are reached"))
    if m.languages_claim_count and not m.languages_claim:
        probs.append(Problem(file, "languages_claim", "languages_claim_count needs the claim's wording"))
    a = m.architecture
    if a is not None and m.params_b is None:
        probs.append(Problem(file, "params_b", "a model with an architecture states its parameter count"))
    elif a is not None:
        if a.attention_heads % a.kv_heads:
            probs.append(Problem(file, "architecture.kv_heads", "must divide attention_heads"))
        if a.experts and a.experts_per_token > a.experts:
            probs.append(Problem(file, "architecture.experts_per_token", "must not exceed experts"))
        if a.sliding_window_pattern and a.sliding_window is None:
            probs.append(Problem(file, "architecture.sliding_window", "a pattern needs a window"))
        implied = count_params(a, sum(e.params_b for e in m.encoders))
        stated = m.params_b * 1e9
        dev = implied.total / stated - 1
        if abs(dev) > PARAMS_TOLERANCE:
            probs.append(Problem(
                file, "params_b",
                f"stated {m.params_b:g} B but the architecture implies {implied.total / 1e9:.3f} B "
                f"({dev:+.1%}); check the copied config",
            ))
        if a.experts and m.active_params_b:
            dev = implied.active / (m.active_params_b * 1e9) - 1
            if abs(dev) > PARAMS_TOLERANCE:
                probs.append(Problem(
                    file, "active_params_b",
                    f"stated {m.active_params_b:g} B but the architecture implies "
                    f"{implied.active / 1e9:.3f} B active ({dev:+.1%})",
                ))
        if a.experts and not m.active_params_b:
            probs.append(Problem(file, "active_params_b", "mixture-of-experts models state their active parameters"))
    if m.active_params_b and m.params_b and m.active_params_b > m.params_b:
        probs.append(Problem(file, "active_params_b", "must not exceed params_b"))
    return probs


def _check_runtime(file: str, r: Runtime, ids: dict[str, set[str]]) -> list[Problem]:
    return [
        Problem(file, f"quantizations.{i}", f"unknown quantization '{q}'")
        for i, q in enumerate(r.quantizations) if q not in ids["quantizations"]
    ]


def _check_profile(file: str, p: MeasuredProfile, ids: dict[str, set[str]]) -> list[Problem]:
    probs = []
    if p.model not in ids["models"] and p.model_architecture is None:
        probs.append(Problem(file, "model", f"unknown model '{p.model}' (give model_architecture for models outside the catalog)"))
    if p.quantization not in ids["quantizations"]:
        probs.append(Problem(file, "quantization", f"unknown quantization '{p.quantization}'"))
    if p.runtime not in ids["runtimes"]:
        probs.append(Problem(file, "runtime", f"unknown runtime '{p.runtime}'"))
    return probs


def _check_hardware(file: str, h: Hardware) -> list[Problem]:
    probs = []
    if h.memory_kind == "vram" and h.gpu is None:
        probs.append(Problem(file, "gpu", "memory_kind vram needs the gpu"))
    if h.gpu and h.gpu.memory_gb_each and h.memory_kind == "vram":
        total = h.gpu.memory_gb_each * h.gpu.count
        if abs(total - h.memory_gb) > 0.5:
            probs.append(Problem(file, "memory_gb", f"{h.memory_gb:g} differs from gpu memory {total:g}"))
    return probs


# --------------------------------------------------------------------------- public


def validate_tree(root: Path | str | None = None) -> tuple[dict[str, dict[str, Any]], list[Problem], dict[str, str]]:
    """Parse and check every file; return (entities by kind, problems, files)."""
    root = Path(root) if root is not None else default_root()
    entities: dict[str, dict[str, Any]] = {k: {} for k in KINDS}
    files: dict[str, str] = {}
    problems: list[Problem] = []
    if not root.is_dir():
        return entities, [Problem(str(root), "", "knowledge directory not found")], files
    for kind, path in _files(root):
        rel = _rel(path, root)
        entity, probs = _parse(kind, path, root)
        problems.extend(probs)
        if entity is None:
            continue
        eid = path.stem
        if eid in entities[kind]:
            problems.append(Problem(rel, "", f"duplicate id '{eid}' (also {files[f'{kind}/{eid}']})"))
            continue
        entities[kind][eid] = entity
        files[f"{kind}/{eid}"] = rel
    if not files and not problems:
        return entities, [Problem(str(root), "", "no knowledge files found (expected folders "
                                  + ", ".join(sorted({FOLDERS.get(k, k) for k in KINDS})) + " with YAML files)")], files

    ids = {k: set(v) for k, v in entities.items()}
    for kind, table in entities.items():
        for eid, e in table.items():
            file = files[f"{kind}/{eid}"]
            problems.extend(_check_sources(file, e))
            if kind == "models":
                problems.extend(_check_model(file, eid, e, ids))
                if Path(file).parent.name != e.family and e.family in ids["families"]:
                    problems.append(Problem(file, "family", f"file lies under '{Path(file).parent.name}/' but family is '{e.family}'"))
            elif kind == "runtimes":
                problems.extend(_check_runtime(file, e, ids))
            elif kind == "hardware":
                problems.extend(_check_hardware(file, e))
            elif kind == "profiles":
                problems.extend(_check_profile(file, e, ids))
    return entities, sorted(problems), files


def _tree_key(root: Path) -> str:
    """Hash of every knowledge file's path, size and mtime (and the schema version)."""
    import hashlib

    from .schemas import SCHEMA_VERSION

    h = hashlib.sha256(f"{SCHEMA_VERSION}|{Path(__file__).stat().st_mtime_ns}|{root.resolve()}".encode())
    for path in sorted(root.rglob("*")):
        if path.is_file():
            st = path.stat()
            h.update(f"{path.relative_to(root)}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def cache_dir() -> Path | None:
    """The user's cache folder for advisor, or None when caching is off (ADVISOR_NO_CACHE)."""
    if os.environ.get("ADVISOR_NO_CACHE"):
        return None
    try:
        from platformdirs import user_cache_dir
    except ImportError:  # pragma: no cover
        return None
    return Path(user_cache_dir("advisor"))


def write_cache(path: Path, obj, stale: str) -> None:
    """Pickle `obj` to `path` atomically (a temporary file, then a rename) and remove the other files
    matching `stale` (caches of earlier knowledge trees). A cache that cannot be written is skipped."""
    import pickle

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        for old in path.parent.glob(stale):
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        pass


def _cache_path(key: str) -> Path | None:
    d = cache_dir()
    return d / f"catalog-{key}.pickle" if d is not None else None


def _norm_device(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", s.lower().replace("geforce", "").replace("nvidia", ""))


def accelerator_named(accelerators: Mapping[str, Accelerator], name: str) -> Optional[tuple[str, Accelerator]]:
    key = name.strip().lower()
    if key in accelerators:
        return key, accelerators[key]
    want = _norm_device(name)
    for aid, a in sorted(accelerators.items()):
        if want and (want == _norm_device(aid) or want in {_norm_device(n) for n in list(a.device_names) + [a.name]}):
            return aid, a
    return None


# words after a card's name that make it another card ("RTX 4070 Ti" is not the RTX 4070, nor "RTX 4090 Laptop GPU"
# the RTX 4090)
_VARIANT_WORDS = r"(?:ti|super|laptop|mobile|max[^a-z0-9]?q|xtx?)"


def _name_pattern(name: str) -> Optional["re.Pattern"]:
    words = [w for w in re.findall(r"[a-z0-9]+", name.lower()) if w not in ("nvidia", "geforce")]
    return re.compile(r"(?<![a-z0-9])" + r"[^a-z0-9]*".join(words) + r"(?![a-z0-9])"
                      + r"(?![^a-z0-9]+" + _VARIANT_WORDS + r"(?![a-z0-9]))") if words else None


def accelerator_in(accelerators: Mapping[str, Accelerator], text: str) -> Optional[tuple[str, Accelerator]]:
    """The accelerator a run's device description names: the longest catalog or device name found in it as whole
    words ('Apple M2 Ultra (76-core GPU)' names the M2 Ultra; 'NVIDIA A100 80GB' names neither the A10, whose name
    it contains only as part of a word, nor one A100 card; 'RTX 4070 Ti' does not name the RTX 4070: a variant
    word after a name makes it another card). None when no name is found, or when the longest names found belong
    to different entries."""
    low = text.lower()
    best: list[tuple[int, str]] = []
    for aid, a in accelerators.items():
        for n in list(a.device_names) + [a.name]:
            pat = _name_pattern(n)
            m = pat.search(low) if pat else None
            if m:
                best.append((m.end() - m.start(), aid))
    if not best:
        return None
    top = max(k for k, _ in best)
    ids = {aid for k, aid in best if k == top}
    if len(ids) != 1:
        return None
    aid = ids.pop()
    return aid, accelerators[aid]


def _with_device_figures(profiles: dict, accelerators: Mapping[str, Accelerator]) -> dict:
    """A published GPU run that names a catalog device (`accelerator_in`) and lacks its bandwidth or compute
    takes them from that device's catalog entry, so every GPU run with a known device enters the efficiency fits. The figure says where it came from
    (`bandwidth_basis`, and a source `accelerator-catalog` in the provenance); a run's own figures are kept.
    Compute is `Accelerator.prefill_tflops`, the figure `--gpu` plans with."""
    out = {}
    for pid, p in profiles.items():
        if p.backend == "cpu" or (p.bandwidth_gbps and p.compute_tflops):
            out[pid] = p
            continue
        hit = accelerator_in(accelerators, p.hardware)
        if hit is None:
            out[pid] = p
            continue
        aid, a = hit
        where = f"knowledge/hardware/accelerators/{aid}.yaml"
        upd: dict = {}
        prov = dict(p.provenance)
        if not p.bandwidth_gbps:
            upd["bandwidth_gbps"] = a.bandwidth_gbps
            upd["bandwidth_basis"] = f"the device's peak bandwidth from {where} (the run names no bandwidth)"
            prov["bandwidth_gbps"] = "accelerator-catalog"
        tflops, _ = a.prefill_tflops()
        if not p.compute_tflops and tflops:
            upd["compute_tflops"] = tflops
            prov["compute_tflops"] = "accelerator-catalog"
        if not upd:
            out[pid] = p
            continue
        src = Source(kind="vendor_doc", ref=where, title=f"{a.name} in the accelerator catalog",
                     note="figures the run does not state, taken from the catalog entry of the device it names")
        upd["sources"] = {**p.sources, "accelerator-catalog": src}
        upd["provenance"] = prov
        out[pid] = p.model_copy(update=upd)
    return out


def load_catalog(root: Path | str | None = None) -> Catalog:
    """The validated catalog; cached (pickled validated objects) keyed on the files' sizes and mtimes.

    The cache holds only what this function wrote after a clean validation, in the user's own
    cache folder; any change to a knowledge file changes the key and re-validates the tree.
    """
    import pickle

    root = Path(root) if root is not None else default_root()
    key = _tree_key(root) if root.is_dir() else ""
    cache = _cache_path(key) if key else None
    if cache is not None and cache.exists():
        import gc

        enabled = gc.isenabled()
        gc.disable()  # unpickling allocates ~100k objects and no cycles: collections would only cost time
        try:
            with open(cache, "rb") as f:
                entities, files = pickle.load(f)
            frozen = {k: MappingProxyType(v) for k, v in entities.items()}
            return Catalog(root=root, files=MappingProxyType(files), key=key, **frozen)
        except Exception:  # noqa: BLE001 - a stale or foreign cache is rebuilt, never trusted
            pass
        finally:
            if enabled:
                gc.enable()
    entities, problems, files = validate_tree(root)
    if problems:
        raise KnowledgeBaseError(problems)
    entities = {k: dict(sorted(v.items())) for k, v in entities.items()}
    if "profiles" in entities:
        entities["profiles"] = _with_device_figures(entities["profiles"], entities.get("accelerators", {}))
    if cache is not None:
        write_cache(cache, (entities, files), "catalog-*.pickle")
    frozen = {k: MappingProxyType(v) for k, v in entities.items()}
    return Catalog(root=root, files=MappingProxyType(files), key=key, **frozen)
