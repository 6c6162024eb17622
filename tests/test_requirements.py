"""Requirements as data: the YAML spec written back (to_spec) reads back the same, relaxations applied to raw
requirements, Pareto fronts."""

import pytest
import yaml

from advisor.errors import InputError
from advisor.ranking import pareto_front
from advisor.requirements import Requirements, apply_change, build, parse_spec, spec_yaml, to_spec

CASES = [
    {},
    {"ram_gb": "4GB", "languages": ["sv"]},
    {"hardware": "raspberry-pi-5-8gb", "context": "16K", "tasks": ["code", "chat"], "prefer": "speed", "top": 5},
    {"vram_gb": 24, "ram_gb": 64, "gpu": "rtx-4090", "min_tps": 30, "max_ttft_ms": 800, "prompt_tokens": 2048,
     "license": ["permissive"], "runtimes": ["llama.cpp", "vllm"], "headroom": "20%", "as_of": "2026-06-01",
     "lang_strict": True, "languages": ["de", "fr"], "modalities": ["image"], "platform": "linux",
     "max_download_gb": "10GB", "kv_cache": "Q8_0"},
    {"ram_gb": "2GB", "kv_cache": "q4_0"},
]


@pytest.mark.parametrize("raw", CASES)
def test_the_spec_written_back_reads_back_the_same(raw):
    req = build(raw)
    text = spec_yaml(req)
    assert build(parse_spec(text)) == req
    assert set(to_spec(req)) <= {k for k in yaml.safe_load(text) or {}}


def test_to_spec_leaves_out_the_defaults():
    assert to_spec(Requirements()) == {}
    assert to_spec(build({"ram_gb": "4GB", "context": 8192, "top": 3})) == {"ram": "4GB"}


def test_relaxations_apply_to_raw_requirements():
    raw = {"hardware": "raspberry-pi-5-8gb", "languages": ["sv", "de"], "license": None, "context": 8192}
    assert apply_change(raw, {"flag": "--ram", "value": 12, "unit": "GB", "instead_of": "--hardware"}) == {
        "languages": ["sv", "de"], "license": None, "context": 8192, "ram_gb": 12}
    assert apply_change(raw, {"flag": "--lang", "drop": "sv"})["languages"] == ["de"]
    assert apply_change(raw, {"flag": "--license", "value": "gemma", "unit": None})["license"] == ["gemma"]
    assert apply_change({"license": ["permissive"]}, {"flag": "--license", "value": "gemma"})["license"] == [
        "gemma", "permissive"]
    assert apply_change(raw, {"flag": "--context", "value": 4096, "unit": "tokens"})["context"] == 4096
    assert raw["languages"] == ["sv", "de"]  # the original is not changed
    with pytest.raises(InputError, match="change"):
        apply_change(raw, {"flag": "--nosuch", "value": 1})


def test_pareto_front():
    pts = [(1.0, 40.0), (2.0, 45.0), (2.5, 44.0), (3.0, 45.0), (0.5, 30.0), (None, 99.0), (4.0, 50.0)]
    assert pareto_front(pts, lower_x_better=True) == [True, True, False, False, True, False, True]
    # higher x better (speed): a point is dominated by one at least as fast with higher quality
    assert pareto_front([(10.0, 40.0), (20.0, 35.0), (5.0, 45.0), (15.0, 38.0)], lower_x_better=False) == [
        True, True, True, True]
    assert pareto_front([(10.0, 40.0), (20.0, 45.0)], lower_x_better=False) == [False, True]


def test_only_the_ui_imports_streamlit():
    """The library never imports streamlit (the UI does); plotly comes only with advisor.figures."""
    import subprocess
    import sys
    from pathlib import Path

    mods = [f"advisor.{p.stem}" for p in (Path(__file__).parent.parent / "advisor").glob("*.py")
            if p.stem not in ("__init__", "figures")]
    code = ("import importlib, sys\n" + "".join(f"importlib.import_module({m!r})\n" for m in mods)
            + "print('streamlit' in sys.modules, 'plotly' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]
