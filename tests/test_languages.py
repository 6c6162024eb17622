"""Languages: a model whose card lists the language ranks above an equal one that only claims broad coverage, the
output marks which is which, --lang-strict admits listed languages only, and per-modality languages (speech input)
constrain that modality."""

from __future__ import annotations

import json


def _rec(cli, *args):
    r = cli("recommend", *args, "--format", "json")
    assert r.returncode in (0, 3), r.stderr
    return json.loads(r.stdout)


def test_listed_and_claimed_languages_are_marked(cli, cat):
    d = _rec(cli, "--ram", "16GB", "--lang", "sv", "--top", "10")
    marks = {r["model"]: r["languages"]["sv"] for r in d["recommendations"]}
    for mid, mark in marks.items():
        assert mark == ("listed" if "sv" in cat.model(mid).languages else "claimed"), (mid, mark)
    text = cli("recommend", "--ram", "16GB", "--lang", "sv", "--top", "10").stdout
    assert "sv listed" in text


def test_a_claim_costs_rank_at_equal_quality():
    from advisor.ranking import CLAIM_PENALTY, score

    assert score(50, 10, 4, "quality", claimed_only=0) - score(50, 10, 4, "quality", claimed_only=1) == CLAIM_PENALTY
    assert score(50, 10, 4, "speed", claimed_only=0) > score(50, 10, 4, "speed", claimed_only=1)


def test_lang_strict_admits_listed_languages_only(cli, cat):
    loose = _rec(cli, "--ram", "16GB", "--lang", "sv", "--top", "20")
    strict = _rec(cli, "--ram", "16GB", "--lang", "sv", "--top", "20", "--lang-strict")
    assert any(r["languages"]["sv"] == "claimed" for r in loose["recommendations"])
    assert strict["recommendations"] and all(r["languages"]["sv"] == "listed" for r in strict["recommendations"])
    w = json.loads(cli("why", "gemma-3-4b-it", "--ram", "16GB", "--lang", "sv", "--lang-strict",
                       "--format", "json").stdout)
    assert w["verdict"] == "rejected" and "language" in w["violation_counts"]
    assert any("--lang-strict" in s for s in w["why"])


def test_speech_input_languages_constrain_the_audio_modality(cli):
    # Phi-4-multimodal's card: text in 23 languages (Swedish among them), audio in 8 (not Swedish)
    w = json.loads(cli("why", "phi-4-multimodal-instruct", "--ram", "32GB", "--modality", "audio", "--lang", "sv",
                       "--format", "json").stdout)
    assert w["verdict"] == "rejected"
    v = [v for s in w["stacks"] for v in s["violations"] if v["constraint"] == "language"]
    assert v and v[0]["modality"] == "audio" and "sv" not in v[0]["actual"]
    ok = json.loads(cli("why", "phi-4-multimodal-instruct", "--ram", "32GB", "--modality", "audio", "--lang", "de",
                        "--format", "json").stdout)
    assert ok["verdict"] in ("recommended", "outranked")


def test_a_language_by_its_name(cli):
    """--lang takes a language's English name or its own name (CLDR through Babel) as well as its code; the
    three spellings give the same requirements."""
    import json

    outs = []
    for spelling in ("sv", "Swedish", "svenska"):
        r = cli("recommend", "--ram", "4GB", "--lang", spelling, "--bandwidth", "30", "--format", "json")
        assert r.returncode == 0, r.stderr
        outs.append(json.loads(r.stdout))
    assert {tuple(o["requirements"]["languages"]) for o in outs} == {("sv",)}
    assert len({o["recommendations"][0]["model"] for o in outs}) == 1
    r = cli("recommend", "--ram", "4GB", "--lang", "klingon")
    assert r.returncode == 2 and "--lang" in r.stderr and "Swedish" in r.stderr
