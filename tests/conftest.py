import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True, scope="session")
def _isolated_session(tmp_path_factory):
    """Module- and session-scoped fixtures run before the per-test fixture below: point HOME and the
    caches at a session folder first, so no fixture of any scope writes to the real home or cache."""
    base = tmp_path_factory.mktemp("session-home")
    saved = {k: os.environ.get(k) for k in ("HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "HF_HOME", "HF_HUB_OFFLINE",
                                             "ADVISOR_SYNTH_CACHE")}
    os.environ.update({"HOME": str(base), "XDG_CACHE_HOME": str(base / ".cache"),
                       "XDG_DATA_HOME": str(base / ".local" / "share"), "HF_HOME": str(base / ".cache" / "huggingface"),
                       "HF_HUB_OFFLINE": "1", "ADVISOR_SYNTH_CACHE": str(base / "synthetic")})
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path, monkeypatch):
    """Tests never touch the user's home, caches or the network."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("HF_HOME", str(home / ".cache" / "huggingface"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("ADVISOR_KNOWLEDGE", raising=False)
    yield
    # the CLI sets these in its own process (`profile`/`verify` progress and --verbose); a command run in-process
    # (CliRunner) must not leave them to later tests
    for k in ("ADVISOR_PROGRESS", "ADVISOR_VERBOSE"):
        os.environ.pop(k, None)


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the installed `advisor` entry point in a new process."""
    exe = Path(sys.executable).with_name("advisor")
    cmd = [str(exe), *args] if exe.exists() else [sys.executable, "-m", "advisor.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture(scope="module")
def cat():
    """The bundled knowledge base, validated (read through the isolated session cache)."""
    from advisor.kb import load_catalog

    return load_catalog()
