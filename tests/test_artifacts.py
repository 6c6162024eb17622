"""What can really be downloaded and run: every stack names a published file (repository, file, size, source) or
the steps to make it; runtimes offer only what they load (BitNet in its own formats, no Phi-4-multimodal on
llama.cpp); LiteRT-LM takes Gemma 3n's audio on an Android phone."""

from __future__ import annotations

import json

import pytest


def _rec(cli, *args):
    r = cli("recommend", *args, "--format", "json")
    assert r.returncode in (0, 3), r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("args", [
    ("--ram", "4GB", "--lang", "sv"),
    ("--ram", "16GB", "--task", "code", "--top", "5"),
    ("--vram", "24GB", "--top", "5"),
    ("--hardware", "macbook-air-m2-16gb", "--top", "5"),
    ("--hardware", "pixel-8-8gb", "--modality", "audio"),
    ("--ram", "8GB", "--modality", "image", "--top", "5"),
])
def test_every_recommendation_names_a_published_file_or_how_to_make_it(cli, args):
    d = _rec(cli, *args)
    assert d["recommendations"], d
    for r in d["recommendations"]:
        a = r["artifact"]
        assert a["status"] in ("published", "to-be-made", "built-in"), a
        if a["status"] == "published":
            assert a["hf_repo"] and a["source"]
            assert a["size_bytes"] or a["size_estimated_bytes"], a  # a listed size, or one estimated and labelled
        elif a["status"] == "to-be-made":
            assert a["from"] and a["steps"] and a["tool"] and a["source"], a
        text = " ".join(r["why"])
        assert "Published file:" in text or "No published file: make it" in text or "built into" in text


def test_a_published_file_carries_its_listed_size_and_the_steps_are_real_commands(cli):
    d = _rec(cli, "--ram", "4GB", "--lang", "sv", "--top", "10")
    pub = [r for r in d["recommendations"] if r["artifact"]["status"] == "published"]
    made = [r for r in d["recommendations"] if r["artifact"]["status"] == "to-be-made"]
    assert pub and made
    # the official Qwen3-1.7B Q8_0 GGUF is listed with its byte size (a Hub listing)
    q = [r for r in pub if r["model"] == "qwen3-1.7b"]
    if q:
        assert q[0]["artifact"]["size_bytes"] == 1834426016
    for r in made:
        if r["runtime"] == "llama.cpp":
            steps = " ".join(r["artifact"]["steps"])
            assert "convert_hf_to_gguf.py" in steps
            if r["quantization"] not in ("f16", "bf16", "q8_0"):
                assert f"llama-quantize" in steps and r["quantization"].upper() in steps


def test_published_outranks_to_be_made_at_equal_quality(cat):
    from advisor.ranking import MAKE_PENALTY, score

    assert score(50.0, 10.0, 4.0, "quality", to_be_made=False) - score(50.0, 10.0, 4.0, "quality", to_be_made=True) \
        == pytest.approx(MAKE_PENALTY)


def test_bitnet_only_in_its_own_formats(cli):
    d = json.loads(cli("why", "bitnet-b1.58-2b-4t", "--ram", "8GB", "--context", "4096", "--format", "json").stdout)
    quants = {s["quantization"] for s in d["stacks"]}
    runtimes = {s["runtime"] for s in d["stacks"]}
    assert quants and quants <= {"i2_s", "tl1", "tl2", "tq1_0", "tq2_0"}, quants
    assert runtimes <= {"bitnet.cpp", "llama.cpp"}, runtimes
    # x86 here: bitnet.cpp's TL1 kernels are ARM-only
    import platform

    if platform.machine() in ("x86_64", "AMD64"):
        assert "tl1" not in quants and "tl2" in quants


def test_an_architecture_a_runtime_does_not_load_is_not_offered_on_it(cli):
    for model in ("phi-4-multimodal-instruct", "phi-3.5-vision-instruct"):
        d = json.loads(cli("why", model, "--ram", "32GB", "--format", "json").stdout)
        assert d["stacks"] and all(s["runtime"] not in ("llama.cpp", "ollama") for s in d["stacks"]), model
        only = json.loads(cli("why", model, "--ram", "32GB", "--runtime", "llama.cpp", "--format", "json").stdout)
        assert only["verdict"] == "unreachable" and any(x["cause"] == "architecture" for x in only["unreachable"])


def test_gemma_3n_audio_on_an_android_phone_runs_on_litert_lm(cli):
    d = _rec(cli, "--hardware", "pixel-8-8gb", "--modality", "audio")
    top = d["recommendations"][0]
    assert top["model"].startswith("gemma-3n") and top["runtime"] == "litert-lm"
    assert top["artifact"]["status"] == "published" and top["artifact"]["file"].endswith(".litertlm")
    assert top["context"] == 4096 and any("default on phones" in n for n in d["notes"])
    # the published file is fixed to 4096 tokens: asking for more rejects it, with the reason
    d = _rec(cli, "--hardware", "pixel-8-8gb", "--modality", "audio", "--context", "8192")
    assert all(r["runtime"] != "litert-lm" for r in d["recommendations"])
    assert any(v["constraint"] == "context" and v.get("artifact") for x in d["rejected"] for v in x["violations"]) \
        or any(x["flag"] == "--context" for x in d["relaxations"])


def test_the_quantization_recommend_prints_is_what_estimate_takes(cli):
    d = _rec(cli, "--ram", "16GB", "--top", "5")
    for r in d["recommendations"]:
        e = cli("estimate", r["model"], "--quant", r["quantization"], "--runtime", r["runtime"], "--ram", "16GB",
                "--format", "json")
        assert e.returncode == 0, e.stderr
        est = json.loads(e.stdout)
        # one set of field names and one memory rule
        assert est["quantization"] == r["quantization"] and est["quantization_name"] == r["quantization_name"]
        assert est["memory_required_gb"] == pytest.approx(r["memory_required_gb"], rel=0.02)
        for key in ("memory_required_gb", "memory_peak_gb", "decode_tps", "decode_tps_range", "basis", "context"):
            assert key in est and key in r
    # the display name is accepted too
    e = cli("estimate", "qwen3-8b", "--quant", "AWQ (W4, group 128, GEMM)", "--runtime", "vllm", "--vram", "24GB",
            "--format", "json")
    assert e.returncode == 0 and json.loads(e.stdout)["quantization"] == "awq_int4", e.stderr


def test_violations_and_relaxations_carry_numbers_and_units(cli):
    d = _rec(cli, "--ram", "2GB", "--min-tps", "500")
    mem = [v for x in d["rejected"] for v in x["violations"] if v["constraint"] == "memory"]
    spd = [v for x in d["rejected"] for v in x["violations"] if v["constraint"] == "decode_tps"]
    assert mem or spd
    for v in mem:
        assert isinstance(v["required"], float) and isinstance(v["actual"], float) and v["unit"] == "GB"
    for v in spd:
        assert v["required"] == 500 and isinstance(v["actual"], float) and v["unit"] == "tokens/s"
    for x in d["relaxations"]:
        assert x["flag"].startswith("--") and ("value" in x or "drop" in x)
        assert set(x["unlocks"]) == {"model", "quantization", "runtime"}


def test_solver_writes_no_english(cat):
    """Violations and notes are data: every string field of a violation is an id, never a sentence."""
    from advisor.requirements import build
    from advisor.estimate import custom_spec
    from advisor.solve import evaluate

    req = build({"ram_gb": "2GB", "languages": ["sv"], "min_tps": 1000})
    spec = custom_spec(2.0, None, 20.0, None, cat=cat)
    for c in evaluate(cat, spec, req):
        for v in c.violations:
            for val in (v.required, v.actual):
                if isinstance(val, str):
                    assert " " not in val, (c.model_id, v)
        for n in c.notes:
            assert n.kind in ("language_claim", "context_extension")


def test_foundry_local_offers_only_its_catalog(cli, cat):
    fl = cat.runtimes["foundry-local"]
    assert fl.catalog and "gemma-3-4b-it" not in fl.catalog
    w = json.loads(cli("why", "gemma-3-4b-it", "--ram", "16GB", "--runtime", "foundry-local", "--format", "json").stdout)
    assert w["verdict"] == "unreachable" and w["unreachable"][0]["cause"] == "runtime-catalog"
    d = _rec(cli, "--ram", "16GB", "--runtime", "foundry-local", "--top", "10")
    assert d["recommendations"] and all(r["model"] in fl.catalog for r in d["recommendations"])
