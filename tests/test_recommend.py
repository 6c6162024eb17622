"""`advisor recommend`: scenarios through the real entry point (the real knowledge base)."""

import json

import pytest

from advisor.kb import load_catalog

REC_FIELDS = ("rank", "model", "hf_repo", "family", "quantization", "runtime", "backend", "context", "memory_required_gb", "memory_peak_gb",
              "memory_breakdown_gb", "decode_tps", "prefill_tps", "ttft_ms", "basis", "quality", "score", "license", "why")


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _json(cli, *args):
    r = cli("recommend", *args, "--format", "json")
    return r, (json.loads(r.stdout) if r.stdout.strip().startswith("{") else None)


def test_swedish_on_4gb(cli, cat):
    r, d = _json(cli, "--ram", "4GB", "--lang", "sv")
    assert r.returncode == 0, r.stderr
    assert d["requirements"]["languages"] == ["sv"] and d["requirements"]["ram_gb"] == 4.0
    assert 1 <= len(d["recommendations"]) <= 3
    for rec in d["recommendations"]:
        assert set(REC_FIELDS) <= set(rec)
        assert rec["memory_required_gb"] <= 4.0 * 0.9
        m = cat.model(rec["model"])
        assert "sv" in m.languages or m.languages_claim
        if "sv" not in m.languages:
            assert any("claim" in w for w in rec["why"])
        assert rec["why"][0].startswith(rec["model"]) and "GB" in rec["why"][0]
    assert [x["rank"] for x in d["recommendations"]] == list(range(1, len(d["recommendations"]) + 1))
    for rej in d["rejected"]:
        assert rej["violations"] and {"constraint", "required", "actual"} <= set(rej["violations"][0])


def test_impossible_request_exits_3_with_causes_and_relaxations(cli):
    r, d = _json(cli, "--ram", "1GB", "--modality", "audio", "--lang", "sv")
    assert r.returncode == 3
    assert d["recommendations"] == [] and d["rejected"]
    changes = [x["change"] for x in d["relaxations"]]
    assert any(c.startswith("--ram ") for c in changes) and "drop --modality audio" in changes
    table = cli("recommend", "--ram", "1GB", "--modality", "audio", "--lang", "sv")
    assert table.returncode == 3 and "nothing fits" in table.stdout and "unlocks" in table.stdout


def test_copilot_pc_with_nothing_to_download_gets_the_builtin_of_the_day_never_mu(cli):
    # before the change (June 2026) Phi Silica is the built-in; after Microsoft's retail rollout of Aion Instruct
    # (November 2026, when Phi Silica is removed) it is its successor, and Phi Silica is never offered
    r, d = _json(cli, "--hardware", "copilot-plus-x-elite-16gb", "--max-download-gb", "0", "--as-of", "2026-06-01")
    assert r.returncode == 0, r.stderr
    assert d["recommendations"][0]["model"] == "phi-silica"
    assert d["recommendations"][0]["runtime"] == "windows-ai-apis"
    assert all(x["model"] != "aion-instruct" for x in d["recommendations"] + d["rejected"])
    everything = json.dumps(d)
    assert '"mu"' not in everything
    r, d = _json(cli, "--hardware", "copilot-plus-x-elite-16gb", "--max-download-gb", "0", "--as-of", "2026-12-06")
    assert r.returncode == 0, r.stderr
    assert d["recommendations"][0]["model"] == "aion-instruct"
    assert all(x["model"] != "phi-silica" for x in d["recommendations"] + d["rejected"])
    why = cli("why", "phi-silica", "--hardware", "copilot-plus-x-elite-16gb", "--as-of", "2026-12-06").stdout
    assert "removed" in why and "November 2026" in why and "aion-instruct" in why
    w = json.loads(cli("why", "phi-silica", "--hardware", "copilot-plus-x-elite-16gb", "--as-of", "2026-12-06",
                       "--format", "json").stdout)
    assert w["verdict"] == "unreachable" and w["unreachable"][0]["cause"] == "retired"
    assert w["unreachable"][0]["successor"] == "aion-instruct"
    # phi silica never appears off Windows / without a Copilot+ NPU
    r2, d2 = _json(cli, "--hardware", "macbook-air-m2-16gb", "--max-download-gb", "0")
    assert r2.returncode == 3 and all(x["model"] != "phi-silica" for x in d2["rejected"])


def test_vision_on_16gb_recommends_image_models(cli, cat):
    r, d = _json(cli, "--ram", "16GB", "--modality", "image")
    assert r.returncode == 0, r.stderr
    for rec in d["recommendations"]:
        assert "image" in cat.model(rec["model"]).modalities_in
        assert rec["memory_breakdown_gb"]["encoders"] > 0


def test_spec_file_and_flags_override(cli, tmp_path):
    spec = tmp_path / "req.yaml"
    spec.write_text("ram: 8GB\nlang: [de]\ntask: code\ncontext: 16K\ntop: 2\n")
    r, d = _json(cli, "--spec", str(spec), "--ram", "6GB")
    assert r.returncode == 0, r.stderr
    req = d["requirements"]
    assert req["ram_gb"] == 6.0 and req["languages"] == ["de"] and req["tasks"] == ["code"] and req["context"] == 16384
    assert len(d["recommendations"]) <= 2
    md = cli("recommend", "--spec", str(spec), "--format", "markdown")
    assert md.stdout.startswith("# Recommendation") and "| rank |" in md.stdout


@pytest.mark.parametrize("args,field", [
    (["--ram", "4XB"], "--ram"),
    (["--ram", "4GB", "--lang", "xx"], "--lang"),
    (["--hardware", "cray-1"], "hardware"),
    (["--ram", "4GB", "--modality", "smell"], "--modality"),
    (["--ram", "4GB", "--task", "poetry"], "--task"),
    (["--ram", "4GB", "--context", "big"], "--context"),
    (["--ram", "4GB", "--headroom", "2"], "--headroom"),
    (["--spec", "/nonexistent.yaml"], "--spec"),
])
def test_bad_input_exits_2_naming_the_field(cli, args, field):
    r = cli("recommend", *args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert field in r.stderr and "Traceback" not in r.stderr


def test_bad_spec_files(cli, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("ram: [4GB\n")
    r = cli("recommend", "--spec", str(bad))
    assert r.returncode == 2 and "line" in r.stderr
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("colour: red\n")
    r = cli("recommend", "--spec", str(unknown))
    assert r.returncode == 2 and "colour" in r.stderr


# ---------------------------------------------------------------- scenarios an expert would sign


def test_audio_on_8gb_needs_a_runtime_that_passes_audio(cli, cat):
    r, d = _json(cli, "--ram", "8GB", "--modality", "audio")
    assert r.returncode == 0, r.stderr
    for rec in d["recommendations"]:
        m = cat.model(rec["model"])
        assert "audio" in m.modalities_in
        assert any(s.runtime == rec["runtime"] and "audio" in s.modalities for s in m.modality_support)
        assert rec["memory_required_gb"] <= 8 * 0.9 and rec["memory_breakdown_gb"]["encoders"] > 0
    # llama.cpp loads Gemma 3n without its audio tower: never a pick for audio, and the misses say so
    assert all(x["runtime"] not in ("llama.cpp", "ollama") for x in d["recommendations"])
    why = json.loads(cli("why", "gemma-3n-e2b-it", "--ram", "8GB", "--modality", "audio", "--runtime", "llama.cpp",
                         "--format", "json").stdout)
    assert why["verdict"] == "rejected" and "runtime_modality" in why["violation_counts"]
    assert any("does not pass it" in w for w in why["best"]["why"])


def test_math_and_code_rank_by_their_own_benchmarks(cli, cat):
    for task, keys in (("math", ("math", "gsm8k", "aime", "mgsm")), ("code", ("humaneval", "mbpp", "livecodebench"))):
        r, d = _json(cli, "--ram", "16GB", "--task", task, "--top", "5")
        assert r.returncode == 0, r.stderr
        for rec in d["recommendations"]:
            assert task in cat.model(rec["model"]).tasks
        quality = " ".join(w for rec in d["recommendations"] for w in rec["why"] if w.startswith("Quality"))
        assert any(k in quality for k in keys), quality
    # the 4K-context math specialist is rejected at the default 8K context, for that reason alone
    why = json.loads(cli("why", "qwen2.5-math-7b-instruct", "--ram", "16GB", "--task", "math", "--format",
                         "json").stdout)
    assert why["verdict"] == "rejected" and why["violation_counts"]["context"] == why["stacks_total"]
    assert {"flag": "--context", "value": 4096, "unit": "tokens", "change": "--context 4096"} in why["needs"]


def test_128k_context_on_16gb_counts_the_kv_cache(cli, cat):
    r, d = _json(cli, "--ram", "16GB", "--context", "131072")
    assert r.returncode == 0, r.stderr
    for rec in d["recommendations"]:
        a = cat.model(rec["model"]).architecture
        assert (a.extended_context_length or a.context_length) >= 131072
        assert rec["memory_breakdown_gb"]["kv_cache"] > 1.0 and rec["memory_required_gb"] <= 16 * 0.9
    # an 8B model's 128K KV cache alone is over the budget
    why = json.loads(cli("why", "qwen3-8b", "--ram", "16GB", "--context", "131072", "--format", "json").stdout)
    assert why["verdict"] == "rejected" and why["violation_counts"]["memory"] == why["stacks_total"]


def test_raspberry_pi_5_speed_floor_uses_the_cpu_and_published_pi_runs(cli):
    r, d = _json(cli, "--hardware", "raspberry-pi-5-8gb", "--min-tps", "5")
    assert r.returncode == 0, r.stderr
    for rec in d["recommendations"]:
        assert rec["decode_tps"] >= 5 and rec["backend"] == "cpu"
    # the estimate rests on published runs of the same CPU core (Cortex-A76)
    est = json.loads(cli("estimate", "gemma-3-1b-it", "--quant", "Q4_K_M", "--hardware", "raspberry-pi-5-8gb",
                         "--context", "512", "--format", "json").stdout)
    assert any("cortex-a76" in a for a in est["assumptions"])
    assert 5 < est["decode_tps"] < 20
    for rej in d["rejected"]:
        assert any(v["constraint"] in ("decode_tps", "memory") for v in rej["violations"])


def test_h100_for_reasoning_uses_cuda_and_reasoning_models(cli, cat):
    r, d = _json(cli, "--hardware", "h100-80gb", "--task", "reasoning")
    assert r.returncode == 0, r.stderr
    for rec in d["recommendations"]:
        assert rec["backend"] == "cuda" and "reasoning" in cat.model(rec["model"]).tasks
        assert rec["memory_required_gb"] <= 80 * 0.9 and rec["decode_tps"] > 20
    # the 235B MoE does not fit one H100 at any quantization the catalog makes
    why = json.loads(cli("why", "qwen3-235b-a22b", "--hardware", "h100-80gb", "--task", "reasoning", "--format",
                         "json").stdout)
    assert why["verdict"] == "rejected" and "memory" in why["violation_counts"]
