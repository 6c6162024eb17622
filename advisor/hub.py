"""Refresh the recorded artifacts from the Hugging Face Hub: the listing read through `huggingface_hub`
(`HfApi.list_repo_tree`) gives each published file's size in bytes; `--write` records it in the model's knowledge
file with the listing as its source. Data out; the CLI prints it."""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Optional

from .errors import AdvisorError


class HubError(AdvisorError):
    exit_code = 1


def listed_sizes(repo: str, revision: str = "main") -> dict[str, int]:
    """path -> size in bytes of every file in the repository at that revision (one listing, recursive)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

    try:
        entries = list(HfApi().list_repo_tree(repo, revision=revision, recursive=True))
    except OfflineModeIsEnabled:
        raise HubError("the Hub cannot be read: HF_HUB_OFFLINE is set (unset it to refresh from the Hub)") from None
    except RepositoryNotFoundError:
        raise HubError(f"the Hub has no repository {repo} (or it is gated or private)") from None
    except (HfHubHTTPError, OSError) as e:
        raise HubError(f"the Hub listing of {repo} failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
    except Exception as e:  # noqa: BLE001 - the HTTP client's connection errors (no network, DNS) are not OSErrors
        raise HubError(f"the Hub cannot be reached for {repo} ({type(e).__name__}: "
                       f"{(str(e).splitlines() or [''])[0][:160]}); nothing was changed") from None
    return {e.path: int(e.size) for e in entries if getattr(e, "size", None) is not None and hasattr(e, "lfs")}


def refresh(cat, model_ids: list[str], revision: str = "main") -> list[dict]:
    """Per recorded published artifact of these models: the size recorded and the size listed now."""
    out: list[dict] = []
    cache: dict[str, dict[str, int]] = {}
    for mid in model_ids:
        m = cat.model(mid)
        for a in m.artifacts:
            repo = a.hf_repo or m.hf_repo
            if a.format == "platform" or not repo:
                continue
            if repo not in cache:
                cache[repo] = listed_sizes(repo, revision)
            files = cache[repo]
            if a.file:
                listed = files.get(a.file)
                status = "missing" if listed is None else "same" if listed == a.size_bytes else "updated"
            else:  # a multi-file artifact (MLX, AWQ, ONNX folder): the download is every file of the repository
                listed = sum(files.values()) if files else None
                status = "missing" if not files else "same" if listed == a.size_bytes else "updated"
            out.append({"model": mid, "hf_repo": repo, "file": a.file, "quantization": a.quantization,
                        "recorded_bytes": a.size_bytes, "recorded_estimated": a.size_estimated,
                        "listed_bytes": listed, "status": status,
                        "listing": f"https://huggingface.co/{repo}/tree/{revision}"})
    return out


def _line_for(text: str, repo: str, file: Optional[str], model_repo: Optional[str]) -> Optional[re.Match]:
    """The flow-style artifact line (`- {format: ..., hf_repo: REPO, file: FILE, ...}`) of this file; a line
    without hf_repo is the model's own repository's."""
    for m in re.finditer(r"^( *- \{.*\})\s*$", text, re.M):
        line = m.group(1)
        if "quantization:" not in line:
            continue
        named = re.search(r"hf_repo: *\"?([^\",}]+)\"?[,}]", line)
        if (named.group(1).strip() if named else model_repo) != repo:
            continue
        has_file = re.search(r"\bfile: *\"?([^\",}]+)\"?", line)
        if (file is None and has_file is None) or (file is not None and has_file and has_file.group(1) == file):
            return m
    return None


def write(cat, rows: list[dict], today: Optional[str] = None) -> list[str]:
    """Record the listed sizes (status 'updated') in the models' knowledge files; returns the files changed.
    Each updated artifact's source becomes the listing (kind hf_files), added to the file's sources."""
    today = today or datetime.date.today().isoformat()
    changed: list[str] = []
    by_model: dict[str, list[dict]] = {}
    for r in rows:
        if r["status"] == "updated":
            by_model.setdefault(r["model"], []).append(r)
    for mid, rs in by_model.items():
        path = Path(cat.root).parent / cat.files[f"models/{mid}"]
        text = path.read_text()
        keys: dict[str, str] = {}
        n0 = max((int(k) for k in re.findall(r"^ *hub-tree-(\d+):", text, re.M)), default=0)
        replaced: set[str] = set()
        for r in rs:
            m = _line_for(text, r["hf_repo"], r["file"], cat.models[mid].hf_repo)
            if m is None:
                continue
            key = keys.setdefault(r["listing"], f"hub-tree-{n0 + len(keys) + 1}")
            line = m.group(1)
            line = re.sub(r",? *size_estimated: *(true|false)", "", line)
            if re.search(r"size_bytes: *\d+", line):
                line = re.sub(r"size_bytes: *\d+", f"size_bytes: {r['listed_bytes']}", line)
            else:
                line = re.sub(r"(, *official:|, *source:)", f", size_bytes: {r['listed_bytes']}\\1", line, count=1)
            old = re.search(r"source: *([A-Za-z0-9_.-]+)", line)
            if old:
                replaced.add(old.group(1))
            line = re.sub(r"source: *[A-Za-z0-9_.-]+", f"source: {key}", line)
            text = text[:m.start(1)] + line + text[m.end(1):]
        if not keys:
            continue
        i = text.index("\nsources:\n") + len("\nsources:\n")
        indent = re.match(r" *", text[i:]).group(0) or "  "
        new = "".join(f'{indent}{key}: {{kind: hf_files, ref: "{ref}", title: "Hub file listing read with '
                      f'huggingface_hub HfApi.list_repo_tree", retrieved: "{today}"}}\n'
                      for ref, key in keys.items() if f"\n{indent}{key}:" not in text)
        text = text[:i] + new + text[i:]
        for old in replaced - set(keys.values()):  # a source no fact names any more leaves the file
            definition = re.compile(r"^ *" + re.escape(old) + r": *\{.*\}\s*\n", re.M)
            rest = definition.sub("", text, count=1)
            if definition.search(text) and not re.search(r"(?<![\w.-])" + re.escape(old) + r"(?![\w.-])", rest):
                text = rest
        path.write_text(text)
        changed.append(str(path))
    return changed
