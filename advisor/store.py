"""The user's profile store: one YAML file per measured run, grouped by machine fingerprint.

Writes are atomic (a temporary file in the same folder, fsync, then rename), so an
interrupted or failed run never damages profiles already stored.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Optional


from advisor.errors import InputError
from advisor.schemas import MeasuredProfile


def store_dir(override: str | os.PathLike | None = None) -> Path:
    if override:
        return Path(override)
    env = os.environ.get("ADVISOR_PROFILES_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("advisor")) / "profiles"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-")


def profile_id(p: MeasuredProfile) -> str:
    stamp = (p.measured_at or "").replace(":", "").replace("-", "")
    return _slug(f"{p.model}-{p.quantization}-{p.runtime}-{p.backend}-ctx{p.context}-{stamp}")


def save_profile(p: MeasuredProfile, directory: str | os.PathLike | None = None) -> Path:
    base = store_dir(directory) / (p.hardware_fingerprint or "unknown")
    base.mkdir(parents=True, exist_ok=True)
    path = base / f"{profile_id(p)}.yaml"
    data = p.model_dump(mode="json", exclude_none=True, exclude_defaults=False)
    data.pop("schema_version", None)
    fd, tmp = tempfile.mkstemp(dir=base, prefix=".tmp-", suffix=".yaml")
    try:
        with os.fdopen(fd, "w") as fh:
            import yaml

            yaml.safe_dump(data, fh, sort_keys=False, allow_unicode=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_profiles(directory: str | os.PathLike | None = None, fingerprint: Optional[str] = None) -> list[MeasuredProfile]:
    """Every valid stored profile (files that fail to parse are skipped, never deleted)."""
    base = store_dir(directory)
    if not base.is_dir():
        return []
    import yaml  # only when there is something to read

    out = []
    for path in sorted(base.glob("*/*.yaml")):
        if path.name.startswith(".tmp-"):
            continue
        if fingerprint and path.parent.name != fingerprint:
            continue
        try:
            out.append(MeasuredProfile.model_validate(yaml.safe_load(path.read_text())))
        except Exception:  # noqa: BLE001 - a damaged file must not hide the others
            continue
    return out


def list_profiles(directory=None) -> list[tuple[str, Path, MeasuredProfile]]:
    import yaml

    base = store_dir(directory)
    out = []
    for path in sorted(base.glob("*/*.yaml")) if base.is_dir() else []:
        if path.name.startswith(".tmp-"):
            continue
        try:
            out.append((path.stem, path, MeasuredProfile.model_validate(yaml.safe_load(path.read_text()))))
        except Exception:  # noqa: BLE001
            continue
    return out


def find_profile(pid: str, directory=None) -> tuple[Path, MeasuredProfile]:
    for stem, path, p in list_profiles(directory):
        if stem == pid:
            return path, p
    raise InputError("PROFILE", f"no stored profile '{pid}'", "an id from `advisor profiles list`")
