"""Hard constraints as data: what a stack breaks (Violation), what passes only by a claim (Note), and the
evaluated stack (Candidate). Sentences are made in advisor.explain."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .requirements import Requirements, license_ok
from .schemas import Model

# constraint ids, as the JSON carries them
MEMORY, LANGUAGE, MODALITY, RUNTIME_MODALITY, TASK, CONTEXT = (
    "memory", "language", "modality", "runtime_modality", "task", "context")
DECODE, TTFT, LICENSE, DOWNLOAD = "decode_tps", "ttft_ms", "license", "download"
SPEED_CONSTRAINTS = (DECODE, TTFT)  # what only a run measures


@dataclass
class Violation:
    """A broken constraint as data: the limit the requirements set, the stack's figure and its unit (numbers
    for quantities, ids for the rest). Sentences are made in advisor.explain."""

    constraint: str
    required: object
    actual: object
    unit: Optional[str] = None
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = {"constraint": self.constraint, "required": self.required, "actual": self.actual, "unit": self.unit}
        return {**out, **self.detail}


@dataclass
class Note:
    """A constraint met only by a claim or an extension (shown beside the pick), as data."""

    kind: str  # "language_claim" | "context_extension"
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"kind": self.kind, **self.detail}


@dataclass
class Candidate:
    model_id: str
    model: Model
    quant: str
    runtime: str
    backend: str
    memory: object = None
    speed: object = None
    quality: float = 0.0
    quality_basis: str = ""
    download_gb: float = 0.0
    violations: list[Violation] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    score: float = 0.0
    offload: object = None  # advisor.offload.OffloadPlan: -ngl N when the model fits only VRAM + RAM
    artifact: dict = field(default_factory=dict)  # advisor.artifacts.artifact_for: published or to be made
    serving: Optional[dict] = None  # N users at once (advisor.solve._serve_users): per user and aggregate tok/s
    budget_gb: Optional[float] = None  # the memory this stack's runtime can use (several GPUs: as it spreads a model)

    @property
    def feasible(self) -> bool:
        return not self.violations


def check(c: Candidate, req: Requirements, budget_gb: Optional[float]) -> None:
    m = c.model
    v = c.violations
    if c.memory is not None and budget_gb and c.offload is None:
        usable = budget_gb * (1 - req.headroom)
        need = c.memory.required / 1e9
        if need > usable:
            v.append(Violation(MEMORY, round(usable, 2), round(need, 2), "GB",
                               {"budget": budget_gb, "headroom": req.headroom}))
    v += model_violations(m, req, c.notes)
    for mod in req.modalities:
        if mod in m.modalities_in and not runtime_takes(m, c.runtime, mod):
            others = sorted({s.runtime for s in m.modality_support if mod in s.modalities})
            v.append(Violation(RUNTIME_MODALITY, mod, c.runtime, None, {"runtimes": others}))
    if req.min_tps is not None:
        if c.speed is None or c.speed.decode_tps < req.min_tps:
            v.append(Violation(DECODE, req.min_tps, round(c.speed.decode_tps, 2) if c.speed else None, "tokens/s"))
    if req.max_ttft_ms is not None:
        if c.speed is None or c.speed.ttft_ms is None or c.speed.ttft_ms > req.max_ttft_ms:
            v.append(Violation(TTFT, req.max_ttft_ms, round(c.speed.ttft_ms) if c.speed and c.speed.ttft_ms else None,
                               "ms"))
    fixed = c.artifact.get("context_length") if c.artifact else None
    if fixed and req.context > fixed:  # the published file is built for a fixed context (LiteRT-LM)
        v.append(Violation(CONTEXT, req.context, fixed, "tokens", {"artifact": c.artifact.get("file")}))
    if req.max_download_gb is not None and c.download_gb > req.max_download_gb:
        v.append(Violation(DOWNLOAD, req.max_download_gb, round(c.download_gb, 2), "GB"))


def model_violations(m: Model, req: Requirements, notes: Optional[list[Note]] = None) -> list[Violation]:
    """The constraints a model meets or breaks whatever its quantization and runtime (languages, inputs,
    tasks, context, licence); `notes` collects what passes only by a claim or an extension."""
    v: list[Violation] = []
    for lang in req.languages:
        if lang in m.languages:
            continue
        if m.languages_claim and req.lang_strict:
            v.append(Violation(LANGUAGE, lang, list(m.languages), None, {"claim": m.languages_claim, "strict": True}))
            continue
        if m.languages_claim:
            if notes is not None:
                notes.append(Note("language_claim", {"language": lang, "claim": m.languages_claim}))
            continue
        v.append(Violation(LANGUAGE, lang, list(m.languages)))
    for mod in req.modalities:
        if mod not in m.modalities_in:
            v.append(Violation(MODALITY, mod, list(m.modalities_in)))
        elif mod in m.modality_languages:  # the card lists the languages this input takes
            for lang in req.languages:
                if lang not in m.modality_languages[mod]:
                    v.append(Violation(LANGUAGE, lang, list(m.modality_languages[mod]), None, {"modality": mod}))
    for task in req.tasks:
        if task not in m.tasks and not (task == "chat" and "instruct" in m.tasks):
            v.append(Violation(TASK, task, list(m.tasks)))
    if m.architecture is not None:
        limit = m.architecture.extended_context_length or m.architecture.context_length
        if req.context > limit:
            v.append(Violation(CONTEXT, req.context, limit, "tokens"))
        elif req.context > m.architecture.context_length and notes is not None:
            notes.append(Note("context_extension", {"context": req.context, "native": m.architecture.context_length,
                                                    "method": m.architecture.extended_context_method}))
    if not license_ok(req, m.license):
        v.append(Violation(LICENSE, list(req.license), m.license))
    return v


def claimed_languages(m: Model, req: Requirements) -> int:
    """How many requested languages the model covers only by a broad claim (not listed by its card)."""
    return sum(1 for lang in req.languages if lang not in m.languages and m.languages_claim)


def runtime_takes(m: Model, runtime: str, modality: str) -> bool:
    """Whether this runtime accepts this input for this model (text always; platform APIs as documented)."""
    if modality == "text" or m.availability != "open-weights":
        return True
    return any(s.runtime == runtime and modality in s.modalities for s in m.modality_support)
