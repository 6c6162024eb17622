"""`advisor why MODEL`: one model's fate under the requirements, through the real entry point."""

import json

import pytest


def _why(cli, *args):
    r = cli("why", *args, "--format", "json")
    return r, (json.loads(r.stdout) if r.stdout.strip().startswith("{") else None)


def test_recommended_model_gets_its_rank_and_numbers(cli):
    rec = json.loads(cli("recommend", "--ram", "4GB", "--lang", "sv", "--format", "json").stdout)
    first = rec["recommendations"][0]
    r, d = _why(cli, first["model"], "--ram", "4GB", "--lang", "sv")
    assert r.returncode == 0, r.stderr
    assert d["verdict"] == "recommended" and d["rank"] == 1
    assert d["best"]["quantization"] == first["quantization"] and d["best"]["runtime"] == first["runtime"]
    assert d["why"][0].startswith(f"{first['model']} is recommended at rank 1")
    assert any("GB" in w for w in d["why"]) and any("tokens/s" in w for w in d["why"])


def test_feasible_but_outranked_says_who_is_ahead_and_how_to_list_it(cli):
    rec = json.loads(cli("recommend", "--ram", "4GB", "--lang", "sv", "--top", "10", "--format", "json").stdout)
    assert len(rec["recommendations"]) >= 5
    fifth = rec["recommendations"][4]
    r, d = _why(cli, fifth["model"], "--ram", "4GB", "--lang", "sv")
    assert r.returncode == 0
    assert d["verdict"] == "outranked" and d["rank"] == 5
    assert d["outranked_by"][0]["model"] == rec["recommendations"][0]["model"]
    assert "--top 5" in d["why"][0]


def test_rejected_model_names_each_failing_constraint_and_the_changes_that_would_fit_it(cli):
    r, d = _why(cli, "qwen3-8b", "--ram", "4GB", "--modality", "image")
    assert r.returncode == 0
    assert d["verdict"] == "rejected"
    assert set(d["violation_counts"]) == {"memory", "modality"}
    assert d["violation_counts"]["modality"] == d["stacks_total"]
    needs = [n["change"] for n in d["needs"]]
    assert any(n.startswith("--ram ") for n in needs) and "drop --modality image" in needs
    # as data: the flag and its value, numbers as numbers
    ram = next(n for n in d["needs"] if n["flag"] == "--ram")
    assert isinstance(ram["value"], int) and ram["unit"] == "GB"
    text = cli("why", "qwen3-8b", "--ram", "4GB", "--modality", "image").stdout
    assert "you allow 3.60 GB (4 GB less 10% headroom)" in text and "takes text as input, not image" in text and "It would fit with" in text


def test_models_without_a_stack_explain_the_platform_rule(cli):
    r, d = _why(cli, "mu", "--ram", "16GB")
    assert d["verdict"] == "unreachable" and d["unreachable"][0]["cause"] == "no-api"
    assert "no public API" in d["why"][0]
    r, d = _why(cli, "phi-silica", "--ram", "16GB", "--platform", "linux", "--as-of", "2026-06-01")
    causes = {x["cause"] for x in d["unreachable"]}
    assert causes == {"platform", "npu"}
    assert any("windows-ai-apis" in w for w in d["why"]) and any("40 TOPS" in w for w in d["why"])
    r, d = _why(cli, "phi-silica", "--hardware", "copilot-plus-x-elite-16gb", "--as-of", "2026-06-01")
    assert d["verdict"] in ("recommended", "outranked") and d["best"]["runtime"] == "windows-ai-apis"


@pytest.mark.parametrize("args, field", [
    (("no-such-model", "--ram", "4GB"), "model"),
    (("qwen3-0.6b", "--ram", "four"), "--ram"),
    (("qwen3-0.6b", "--lang", "klingon"), "--lang"),
])
def test_bad_input_exits_2(cli, args, field):
    r = cli("why", *args)
    assert r.returncode == 2 and field in r.stderr and "Traceback" not in r.stderr
