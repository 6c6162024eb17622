"""What the user needs: parsed from flags and/or a YAML spec file (flags override the file).

Every value is checked here, so bad input fails with the field's name and the accepted form.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Optional


from .errors import InputError
from .iso639 import CODES
from .schemas import TASKS
from .units import parse_budget_gb, parse_size_gb, parse_tokens

MODALITIES = ("text", "image", "audio", "video")
PLATFORMS = ("linux", "windows", "macos", "android", "ios")
PERMISSIVE = {"apache-2.0", "mit", "bsd-3-clause", "bsd-2-clause"}
DEFAULT_CONTEXT = 8192
PHONE_CONTEXT = 4096  # default on --hardware of kind phone: LiteRT-LM's Gemma files are fixed to 4096 (a choice)
DEFAULT_HEADROOM = 0.10  # share of memory kept free for the OS and the app around the model


@dataclass
class Requirements:
    """The normalised requirements. Every value is checked by `build` (the only constructor used),
    so this is a plain dataclass: no validator to build on the CLI's hot path."""

    ram_gb: Optional[float] = None
    vram_gb: Optional[float] = None
    hardware: Optional[str] = None
    gpu: Optional[str] = None
    bandwidth_gbps: Optional[float] = None
    tflops: Optional[float] = None
    languages: list[str] = field(default_factory=list)
    modalities: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    context: int = DEFAULT_CONTEXT
    min_tps: Optional[float] = None
    max_ttft_ms: Optional[float] = None
    prompt_tokens: int = 512
    license: list[str] = field(default_factory=lambda: ["any"])
    platform: Optional[str] = None
    runtimes: list[str] = field(default_factory=list)
    max_download_gb: Optional[float] = None
    headroom: float = DEFAULT_HEADROOM
    prefer: Literal["quality", "speed", "memory"] = "quality"
    top: int = 3
    as_of: Optional[str] = None  # ISO date: what is offered then (None: today)
    lang_strict: bool = False  # languages the card lists only
    kv_cache: str = "f16"  # the KV cache's element type: f16, q8_0, q4_0 (llama.cpp --cache-type-k/v)
    concurrent_users: int = 1  # requests served at once: slots of `context` each; min_tps is then per user
    output_tokens: int = 256  # output tokens per request (where each user's decode sits in its context)
    requests_per_s: Optional[float] = None  # arrival rate: users in flight by Little's law, per stack
    gpus: Optional[int] = None  # GPUs of the --gpu/--vram kind in the machine (a profile gives its own)
    interconnect: Optional[str] = None  # between them: nvlink | pcie (default from the card: SXM -> NVLink)
    nodes: Optional[int] = None  # machines of that kind (a cluster): vLLM spans them, pipeline stages
    max_gpus: Optional[int] = None  # the most GPUs a vLLM deployment may take of them (replicas x TP x PP)

    @property
    def on(self):
        """The date the plan is for (`--as-of`, default today)."""
        import datetime

        return datetime.date.fromisoformat(self.as_of) if self.as_of else datetime.date.today()

    def model_dump(self) -> dict[str, Any]:
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), list) else v) for f in fields(self)}


SPEC_KEYS = {
    "ram": "ram_gb", "vram": "vram_gb", "hardware": "hardware", "gpu": "gpu", "bandwidth": "bandwidth_gbps",
    "bandwidth_gbps": "bandwidth_gbps", "tflops": "tflops", "lang": "languages", "languages": "languages",
    "modality": "modalities", "modalities": "modalities", "task": "tasks", "tasks": "tasks", "context": "context",
    "min_tps": "min_tps", "min-tps": "min_tps", "max_ttft_ms": "max_ttft_ms", "max-ttft-ms": "max_ttft_ms",
    "prompt_tokens": "prompt_tokens", "prompt-tokens": "prompt_tokens", "license": "license", "platform": "platform",
    "runtime": "runtimes", "runtimes": "runtimes", "max_download_gb": "max_download_gb",
    "max-download-gb": "max_download_gb", "headroom": "headroom", "prefer": "prefer", "top": "top",
    "as_of": "as_of", "as-of": "as_of", "lang_strict": "lang_strict", "lang-strict": "lang_strict",
    "kv_cache": "kv_cache", "kv-cache": "kv_cache",
    "concurrent_users": "concurrent_users", "concurrent-users": "concurrent_users", "users": "concurrent_users",
    "output_tokens": "output_tokens", "output-tokens": "output_tokens",
    "requests_per_s": "requests_per_s", "requests-per-s": "requests_per_s",
    "target_tps": "min_tps", "target-tps": "min_tps",
    "gpus": "gpus", "interconnect": "interconnect", "nodes": "nodes", "max_gpus": "max_gpus", "max-gpus": "max_gpus",
    # the decision record's front matter (`advisor plan`); not requirements
    "title": "title", "status": "status", "decision_makers": "decision_makers", "decision-makers": "decision_makers",
    "consulted": "consulted", "informed": "informed", "fleet": "fleet",
}


def _list(v: Any) -> list[str]:
    if v is None:
        return []
    items = v if isinstance(v, (list, tuple)) else [v]
    out: list[str] = []
    for item in items:
        out += [x.strip().lower() for x in str(item).split(",") if x.strip()]
    return out


def load_spec(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise InputError("--spec", f"no such file: {path}", "a YAML file of requirement keys")
    return parse_spec(p.read_text(errors="replace"), path)


def parse_spec(text: str, name: str = "the spec") -> dict[str, Any]:
    """Raw requirement values from the text of a YAML spec (a file, an upload); `name` says which in errors."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise InputError("--spec", f"{name} is not valid YAML{where}", "a YAML mapping of requirement keys") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError("--spec", f"{name} must hold a mapping", "keys such as ram, lang, task, context")
    out = {}
    for k, v in data.items():
        key = SPEC_KEYS.get(str(k))
        if key is None:
            raise InputError(f"--spec: {k}", "unknown key", ", ".join(sorted(set(SPEC_KEYS) - {"min-tps"})))
        out[key] = v
    return out


def build(raw: dict[str, Any]) -> Requirements:
    """Validate raw values (from flags and/or a spec file) into Requirements."""
    r: dict[str, Any] = {}
    if raw.get("ram_gb") is not None:
        r["ram_gb"] = parse_budget_gb(raw["ram_gb"], "--ram")
    if raw.get("vram_gb") is not None:
        r["vram_gb"] = parse_budget_gb(raw["vram_gb"], "--vram")
    if raw.get("hardware"):
        r["hardware"] = str(raw["hardware"]).lower()
    if raw.get("gpu"):
        r["gpu"] = str(raw["gpu"]).strip()
    for key, flag, form in (("bandwidth_gbps", "--bandwidth", "GB/s, e.g. --bandwidth 1008"),
                            ("tflops", "--tflops", "dense FP16 TFLOP/s, e.g. --tflops 165")):
        if raw.get(key) is not None:
            try:
                v = float(raw[key])
            except (TypeError, ValueError):
                raise InputError(flag, f"cannot read '{raw[key]}' as a number", form) from None
            if not v > 0:
                raise InputError(flag, "must be positive", form)
            r[key] = v
    langs = _list(raw.get("languages"))
    if any(x not in CODES for x in langs):
        from .iso639 import find

        langs = [x if x in CODES else (find(x) or x) for x in langs]
    bad = [x for x in langs if x not in CODES]
    if bad:
        raise InputError("--lang", f"unknown language {', '.join(bad)}",
                         "ISO 639-1 two-letter codes, e.g. sv, en, de, or a language's name (Swedish, svenska)")
    r["languages"] = sorted(set(langs))
    mods = _list(raw.get("modalities"))
    bad = [x for x in mods if x not in MODALITIES]
    if bad:
        raise InputError("--modality", f"unknown modality {', '.join(bad)}", ", ".join(MODALITIES))
    r["modalities"] = sorted(set(mods))
    tasks = _list(raw.get("tasks"))
    bad = [x for x in tasks if x not in TASKS]
    if bad:
        raise InputError("--task", f"unknown task {', '.join(bad)}", ", ".join(TASKS))
    r["tasks"] = sorted(set(tasks))
    if raw.get("context") is not None:
        r["context"] = parse_tokens(raw["context"], "--context")
    if raw.get("prompt_tokens") is not None:
        r["prompt_tokens"] = parse_tokens(raw["prompt_tokens"], "--prompt-tokens")
    if raw.get("output_tokens") is not None:
        r["output_tokens"] = parse_tokens(raw["output_tokens"], "--output-tokens")
    if raw.get("concurrent_users") is not None:
        try:
            n = int(str(raw["concurrent_users"]))
        except ValueError:
            raise InputError("--concurrent-users", f"cannot read '{raw['concurrent_users']}'",
                             "a whole number from 1 to 4096") from None
        if not 1 <= n <= 4096:
            raise InputError("--concurrent-users", "must be 1 to 4096", "a whole number from 1 to 4096")
        r["concurrent_users"] = n
    if raw.get("requests_per_s") is not None:
        try:
            rate = float(raw["requests_per_s"])
        except (TypeError, ValueError):
            raise InputError("--requests-per-s", f"cannot read '{raw['requests_per_s']}'",
                             "a positive number of requests per second, e.g. 2") from None
        if not 0 < rate < float("inf"):
            raise InputError("--requests-per-s", "must be a positive number",
                             "a positive number of requests per second, e.g. 2")
        r["requests_per_s"] = rate
    for key, flag, what, top in (("gpus", "--gpus", "GPUs", 64), ("nodes", "--nodes", "machines", 64),
                                 ("max_gpus", "--max-gpus", "GPUs", 4096)):
        if raw.get(key) is not None:
            accepted = f"a whole number of {what} from 1 to {top}"
            try:
                k = int(str(raw[key]))
            except ValueError:
                raise InputError(flag, f"cannot read '{raw[key]}'", accepted) from None
            if not 1 <= k <= top:
                raise InputError(flag, f"must be 1 to {top}", accepted)
            r[key] = k
    if raw.get("interconnect") is not None:
        ic = str(raw["interconnect"]).strip().lower()
        if ic not in ("nvlink", "pcie"):
            raise InputError("--interconnect", f"unknown interconnect '{raw['interconnect']}'", "nvlink or pcie")
        r["interconnect"] = ic
    for key, flag in (("min_tps", "--min-tps"), ("max_ttft_ms", "--max-ttft-ms"), ("max_download_gb", "--max-download-gb")):
        if raw.get(key) is not None:
            try:
                v = float(raw[key]) if key != "max_download_gb" else parse_size_gb(raw[key], flag)
            except (TypeError, ValueError):
                raise InputError(flag, f"cannot read '{raw[key]}' as a number", "a non-negative number") from None
            if v < 0:
                raise InputError(flag, "must not be negative", "a non-negative number")
            r[key] = v
    lic = _list(raw.get("license")) or ["any"]
    r["license"] = lic
    if raw.get("platform"):
        plat = str(raw["platform"]).lower()
        if plat not in PLATFORMS:
            raise InputError("--platform", f"unknown platform '{plat}'", ", ".join(PLATFORMS))
        r["platform"] = plat
    r["runtimes"] = _list(raw.get("runtimes"))
    if raw.get("headroom") is not None:
        try:
            h = float(str(raw["headroom"]).rstrip("%")) / (100 if str(raw["headroom"]).endswith("%") else 1)
        except ValueError:
            raise InputError("--headroom", f"cannot read '{raw['headroom']}'", "a share such as 0.1 or 10%") from None
        if not 0 <= h < 0.9:
            raise InputError("--headroom", "must be between 0 and 0.9", "a share such as 0.1 or 10%")
        r["headroom"] = h
    if raw.get("prefer"):
        p = str(raw["prefer"]).lower()
        if p not in ("quality", "speed", "memory"):
            raise InputError("--prefer", f"unknown preference '{p}'", "quality, speed, memory")
        r["prefer"] = p
    if raw.get("top") is not None:
        try:
            t = int(raw["top"])
        except (TypeError, ValueError):
            raise InputError("--top", f"cannot read '{raw['top']}'", "a whole number from 1 to 50") from None
        if not 1 <= t <= 50:
            raise InputError("--top", "must be 1 to 50", "a whole number from 1 to 50")
        r["top"] = t
    if raw.get("as_of") is not None:
        from .lifecycle import parse_date

        r["as_of"] = parse_date(raw["as_of"]).isoformat()
    if raw.get("lang_strict") is not None:
        v = raw["lang_strict"]
        if isinstance(v, str):
            if v.lower() not in ("true", "false", "yes", "no"):
                raise InputError("--lang-strict", f"cannot read '{v}'", "true or false")
            v = v.lower() in ("true", "yes")
        r["lang_strict"] = bool(v)
    if raw.get("kv_cache") is not None:
        kv = str(raw["kv_cache"]).strip().lower()
        if kv not in KV_CACHE_TYPES:
            raise InputError("--kv-cache", f"unknown KV cache type '{raw['kv_cache']}'", ", ".join(KV_CACHE_TYPES))
        r["kv_cache"] = kv
    return Requirements(**r)


# the KV cache types a requirement may ask for: llama.cpp's --cache-type-k/v values that the estimates model
KV_CACHE_TYPES = ("f16", "q8_0", "q4_0")


LICENSE_CLASSES = ("any", "permissive", "commercial")


def check_ids(req: Requirements, cat) -> None:
    """The requirement values that name catalog entries (runtimes, licences, hardware) must name one: an
    unknown id is bad input (exit 2 with the accepted ids), never a silent "nothing fits"."""
    bad = [r for r in req.runtimes if r not in cat.runtimes]
    if bad:
        raise InputError("--runtime", f"unknown runtime {', '.join(repr(b) for b in bad)}", ", ".join(sorted(cat.runtimes)))
    known = sorted({m.license.lower() for m in cat.models.values()})
    bad = [x for x in req.license if x not in LICENSE_CLASSES and x not in known]
    if bad:
        raise InputError("--license", f"unknown licence {', '.join(repr(b) for b in bad)} (no catalog model has it)",
                         ", ".join(LICENSE_CLASSES) + ", or a licence id of the catalog: " + ", ".join(known))
    if req.hardware:
        cat.hw(req.hardware)


def license_ok(req: Requirements, license_id: str) -> bool:
    want = set(req.license)
    if "any" in want:
        return True
    lic = license_id.lower()
    if "permissive" in want and lic in PERMISSIVE:
        return True
    if "commercial" in want and (lic in PERMISSIVE or lic == "gemma"):
        return True
    return lic in want


# the spec keys `to_spec` writes, in this order, each with its Requirements field
SPEC_OUT = (("hardware", "hardware"), ("ram", "ram_gb"), ("vram", "vram_gb"), ("gpu", "gpu"),
            ("bandwidth", "bandwidth_gbps"), ("tflops", "tflops"), ("languages", "languages"),
            ("lang_strict", "lang_strict"), ("modalities", "modalities"), ("tasks", "tasks"), ("context", "context"),
            ("min_tps", "min_tps"), ("max_ttft_ms", "max_ttft_ms"), ("prompt_tokens", "prompt_tokens"),
            ("license", "license"), ("platform", "platform"), ("runtimes", "runtimes"),
            ("max_download_gb", "max_download_gb"), ("headroom", "headroom"), ("prefer", "prefer"), ("top", "top"),
            ("as_of", "as_of"), ("kv_cache", "kv_cache"), ("concurrent_users", "concurrent_users"),
            ("output_tokens", "output_tokens"), ("requests_per_s", "requests_per_s"), ("gpus", "gpus"),
            ("interconnect", "interconnect"), ("nodes", "nodes"), ("max_gpus", "max_gpus"))


def to_spec(req: Requirements) -> dict[str, Any]:
    """The requirements as the YAML spec `advisor recommend --spec` reads: only the values that differ from
    the defaults, so `build(parse_spec(yaml.dump(to_spec(r))))` gives `r` back."""
    default = Requirements()
    out: dict[str, Any] = {}
    for key, fld in SPEC_OUT:
        v = getattr(req, fld)
        if v == getattr(default, fld) or v is None:
            continue
        if fld in ("ram_gb", "vram_gb"):
            v = f"{v:g}GB"
        out[key] = list(v) if isinstance(v, list) else v
    return out


def spec_yaml(req: Requirements) -> str:
    import yaml

    return yaml.safe_dump(to_spec(req), sort_keys=False, allow_unicode=True)


# a relaxation's flag (advisor.solve.change_for) and the raw requirement key it changes
FLAG_KEYS = {"--ram": "ram_gb", "--vram": "vram_gb", "--lang": "languages", "--modality": "modalities",
             "--task": "tasks", "--context": "context", "--min-tps": "min_tps", "--max-ttft-ms": "max_ttft_ms",
             "--max-download-gb": "max_download_gb", "--license": "license", "--hardware": "hardware",
             "--concurrent-users": "concurrent_users"}


def apply_change(raw: dict[str, Any], change: dict) -> dict[str, Any]:
    """Raw requirements with one relaxation (advisor.solve.change_for) applied: a new value for its flag,
    a value dropped from a list, a licence admitted, `instead_of` removed."""
    key = FLAG_KEYS.get(change.get("flag", ""))
    if key is None:
        raise InputError("change", f"unknown flag {change.get('flag')!r}", ", ".join(FLAG_KEYS))
    out = dict(raw)
    if "drop" in change:
        out[key] = [x for x in _list(out.get(key)) if x != str(change["drop"]).lower()]
    elif key == "license":
        have = [x for x in _list(out.get(key)) if x != "any"]
        out[key] = sorted(set(have) | {str(change["value"]).lower()})
    else:
        out[key] = change["value"]
    if change.get("instead_of"):
        out.pop(FLAG_KEYS[change["instead_of"]], None)
    return out
