"""Profile store (atomic, survives failures) and the Hugging Face download path, offline."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from advisor.schemas import MeasuredProfile, Source, Spread
from conftest import ROOT


def _profile(decode=10.0, stamp="2026-11-29T10:00:00", model="qwen3-0.6b"):
    return MeasuredProfile(
        model=model, quantization="q4_k_m", runtime="llama.cpp", backend="cpu", hardware="test machine",
        hardware_fingerprint="abc123", bandwidth_gbps=20.0, context=2048, prompt_tokens=128, gen_tokens=16,
        decode_tokens_per_s=Spread(n=3, min=decode - 1, median=decode, max=decode + 1), measured_at=stamp,
        sources={"run": Source(kind="measured", ref="test")},
        provenance={"decode_tokens_per_s": "run", "bandwidth_gbps": "run", "hardware": "run", "context": "run",
                    "prompt_tokens": "run", "gen_tokens": "run", "hardware_fingerprint": "run", "backend": "run",
                    "quantization": "run", "measured_at": "run"},
    )


def test_round_trip(tmp_path):
    from advisor.store import list_profiles, load_profiles, save_profile

    path = save_profile(_profile(), tmp_path)
    assert path.parent.name == "abc123" and path.suffix == ".yaml"
    loaded = load_profiles(tmp_path)
    assert len(loaded) == 1 and loaded[0].decode_tokens_per_s.median == 10.0
    assert list_profiles(tmp_path)[0][0] == path.stem


def test_a_failed_write_loses_no_earlier_profile(tmp_path, monkeypatch):
    from advisor import store

    first = store.save_profile(_profile(stamp="2026-11-29T09:00:00"), tmp_path)
    before = first.read_text()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    import yaml

    monkeypatch.setattr(yaml, "safe_dump", boom)  # the store imports yaml when it writes
    with pytest.raises(RuntimeError):
        store.save_profile(_profile(stamp="2026-11-29T09:00:00", decode=99.0), tmp_path)  # same id: overwrite attempt
    assert first.read_text() == before
    assert [p.name for p in first.parent.iterdir()] == [first.name]  # no temporary left behind


def test_damaged_files_are_skipped_not_fatal(tmp_path):
    from advisor.store import load_profiles, save_profile

    save_profile(_profile(), tmp_path)
    (tmp_path / "abc123" / "broken.yaml").write_text("decode_tokens_per_s: [1, 2\n")
    assert len(load_profiles(tmp_path)) == 1


def _hf(code: str, hf_home, offline=True):
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1" if offline else "0", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)


def _hub_entry(hf_home, repo: str, commit: str, files: dict[str, bytes]) -> None:
    """A Hugging Face cache entry laid out the way huggingface_hub writes one."""
    repo_dir = hf_home / "hub" / ("models--" + repo.replace("/", "--"))
    snap = repo_dir / "snapshots" / commit
    snap.mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    for name, data in files.items():
        (snap / name).write_bytes(data)


def test_download_uses_the_real_client_and_its_cache_offline(tmp_path):
    _hub_entry(tmp_path, "Qwen/Qwen3-0.6B-GGUF", "0123456789abcdef0123456789abcdef01234567",
               {"Qwen3-0.6B-Q8_0.gguf": b"GGUF" + b"\0" * 60})
    ok = _hf("from profiling.download import fetch_artifact; "
             "print(fetch_artifact('Qwen/Qwen3-0.6B-GGUF', 'Qwen3-0.6B-Q8_0.gguf', 64))", tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("Qwen3-0.6B-Q8_0.gguf")
    bad_size = _hf("from profiling.download import fetch_artifact\n"
                   "try:\n fetch_artifact('Qwen/Qwen3-0.6B-GGUF', 'Qwen3-0.6B-Q8_0.gguf', 65)\n"
                   "except Exception as e: print(type(e).__name__, e)", tmp_path)
    assert "DownloadError" in bad_size.stdout and "65" in bad_size.stdout
    missing = _hf("from profiling.download import fetch_artifact\n"
                  "try:\n fetch_artifact('Qwen/Qwen3-0.6B-GGUF', 'Qwen3-0.6B-Q4_K_M.gguf')\n"
                  "except Exception as e: print(type(e).__name__, e)", tmp_path)
    assert "DownloadError" in missing.stdout and "HF_HUB_OFFLINE" in missing.stdout and "--synthetic" in missing.stdout


def test_checkpoint_download_uses_the_real_client_offline(tmp_path):
    """The Transformers runtime's checkpoint folder comes through snapshot_download and its cache."""
    commit = "89abcdef0123456789abcdef0123456789abcdef"
    _hub_entry(tmp_path, "Qwen/Qwen2.5-0.5B-Instruct", commit, {"config.json": b"{}", "model.safetensors": b"\0" * 16})
    ok = _hf("from profiling.download import fetch_checkpoint; print(fetch_checkpoint('Qwen/Qwen2.5-0.5B-Instruct'))",
             tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith(commit)
    missing = _hf("from profiling.download import fetch_checkpoint\n"
                  "try:\n fetch_checkpoint('Qwen/Qwen3-1.7B')\n"
                  "except Exception as e: print(type(e).__name__, e)", tmp_path)
    assert "DownloadError" in missing.stdout and "HF_HUB_OFFLINE" in missing.stdout and "--file DIR" in missing.stdout
