"""The real `advisor` entry point in a new process: exit codes and output."""

import json
import subprocess
import sys

from conftest import FIXTURES, ROOT


def test_catalog_json_has_the_issue_fields(cli):
    r = cli("catalog", "--format", "json")
    assert r.returncode == 0, r.stderr
    models = json.loads(r.stdout)
    ids = {m["id"] for m in models}
    assert {"qwen3-0.6b", "phi-4-mini-instruct", "gemma-3n-e2b-it", "bitnet-b1.58-2b-4t", "mu"} <= ids
    m = next(m for m in models if m["id"] == "qwen3-30b-a3b")
    for key in ("id", "family", "hf_repo", "params_b", "active_params_b", "architecture", "languages",
                "modalities_in", "modalities_out", "tasks", "license", "availability", "platforms",
                "benchmarks", "artifacts", "sources"):
        assert key in m, key
    assert m["architecture"]["experts"] == 128 and m["architecture"]["experts_per_token"] == 8
    assert m["active_params_b"] < m["params_b"]


def test_catalog_family_filter(cli):
    r = cli("catalog", "--family", "gemma", "--format", "json")
    assert r.returncode == 0
    assert {m["family"] for m in json.loads(r.stdout)} == {"gemma"}
    r = cli("catalog", "--family", "llama")
    assert r.returncode == 2
    assert "--family" in r.stderr and "qwen" in r.stderr and "Traceback" not in r.stderr


def test_catalog_table(cli):
    r = cli("catalog")
    assert r.returncode == 0
    assert "qwen2.5-7b-instruct" in r.stdout and "models" in r.stdout.splitlines()[-1]


def test_show_lists_each_fact_with_its_source(cli):
    r = cli("show", "qwen3-0.6b")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    kv = next(l for l in lines if l.startswith("architecture.kv_heads"))
    assert kv.split()[1] == "8" and "config" in kv
    assert "https://huggingface.co/Qwen/Qwen3-0.6B" in r.stdout
    r = cli("show", "qwen3-0.6b", "--format", "json")
    facts = json.loads(r.stdout)["facts"]
    assert all(f["sources"] for f in facts), [f for f in facts if not f["sources"]]


def test_show_unknown_model_exits_2(cli):
    r = cli("show", "qwen9-1b")
    assert r.returncode == 2
    assert "unknown model id 'qwen9-1b'" in r.stderr and "Traceback" not in r.stderr


def test_hardware_list_json(cli):
    r = cli("hardware", "list", "--format", "json")
    assert r.returncode == 0, r.stderr
    hw = json.loads(r.stdout)
    for h in hw:
        for key in ("id", "name", "memory_gb", "memory_kind", "bandwidth_gbps", "platform"):
            assert key in h
    assert any(h["memory_kind"] == "vram" for h in hw) and any(h["memory_kind"] == "unified" for h in hw)


def test_kb_validate_exit_codes(cli):
    assert cli("kb", "validate").returncode == 0
    r = cli("kb", "validate", "--root", str(FIXTURES / "kb_bad"))
    assert r.returncode == 1
    assert r.stdout.splitlines() == (FIXTURES / "kb_bad.expected").read_text().splitlines()


def test_cli_import_stays_light():
    code = (
        "import sys; import advisor.cli; "
        "print(' '.join(m for m in ('pandas','plotly','streamlit','networkx','pydantic','yaml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout.split()
    assert out == []


def test_catalog_artifacts_carry_a_size_and_its_basis(cli):
    models = json.loads(cli("catalog", "--format", "json").stdout)
    arts = [(m["id"], a) for m in models for a in m["artifacts"] if a["format"] != "platform"]
    assert arts
    for mid, a in arts:
        assert a["size_bytes"] > 0, (mid, a)
        assert isinstance(a["size_estimated"], bool) and a["size_basis"], (mid, a)
    # a GGUF Q4_K_M size comes from llama.cpp's per-tensor rules: between 4.5 and 5.3 bits per weight
    m = next(m for m in models if m["id"] == "qwen2.5-7b-instruct")
    gguf_art = next(a for a in m["artifacts"] if a["quantization"] == "q4_k_m")
    assert 4.5 < gguf_art["size_bytes"] * 8 / (m["params_b"] * 1e9) < 5.3
