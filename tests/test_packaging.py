"""The wheel built from the repository (`pip install .`, not editable) carries every knowledge file, the
measured profiles and the accelerator catalog included, and its core imports are core dependencies."""

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    pytest.importorskip("setuptools")
    out = tmp_path_factory.mktemp("wheel")
    # offline: the build uses this environment's setuptools (the `test` extra), not a downloaded one
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "-w", str(out), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    wheels = list(out.glob("advisor-*.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    return wheels[0]


def test_wheel_carries_every_knowledge_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    repo = sorted(p.relative_to(ROOT / "knowledge").as_posix() for p in (ROOT / "knowledge").rglob("*.yaml"))
    missing = [f for f in repo if f"advisor/knowledge/{f}" not in names]
    assert not missing, missing[:10]
    assert any(n.startswith("advisor/knowledge/profiles/measured/") for n in names)
    assert any(n.startswith("advisor/knowledge/hardware/accelerators/") for n in names)


def test_core_imports_are_core_dependencies(wheel):
    meta = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    core = [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.startswith("Requires-Dist:") and "extra ==" not in line]
    names = {c.split(">")[0].split("=")[0].split("<")[0].strip().lower() for c in core}
    # advisor.hardware measures bandwidth with numpy and finds NVIDIA GPUs through NVML
    for needed in ("numpy", "nvidia-ml-py", "pydantic", "pyyaml", "networkx", "click", "platformdirs"):
        assert needed in names, (needed, sorted(names))
