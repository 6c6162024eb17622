"""`advisor verify`: recommend, run the pick with the real llama.cpp runtime, PASS/FAIL each constraint."""

import json

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

# a 1 GB budget at 2K context on llama.cpp: the pick is a sub-1B model, quick to build and run
REQ = ("--ram", "1GB", "--context", "2048", "--prompt-tokens", "128", "--runtime", "llama.cpp")
RUN = ("--synthetic", "--gen-tokens", "16", "--repeats", "2")


@pytest.fixture(scope="module")
def synth_cache(tmp_path_factory):
    return str(tmp_path_factory.mktemp("synth-cache"))


def test_verify_passes_then_fails_on_a_speed_floor_this_machine_cannot_meet(cli, tmp_path, synth_cache):
    store = tmp_path / "profiles"
    env = {"ADVISOR_SYNTH_CACHE": synth_cache}
    rec = json.loads(cli("recommend", *REQ, "--format", "json", env=env).stdout)["recommendations"][0]
    r = cli("verify", *REQ, *RUN, "--profiles-dir", str(store), "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["result"] == "PASS" and d["synthetic"] is True
    assert d["pick"]["model"] == rec["model"] and d["pick"]["quantization"] == rec["quantization"]
    checks = {c["check"]: c for c in d["checks"]}
    assert checks["memory"]["status"] == "PASS" and 0 < checks["memory"]["measured"] <= 0.9
    assert checks["memory"]["predicted"] > 0
    assert checks["decode speed"]["status"] == "info" and checks["decode speed"]["measured"] > 0
    assert checks["time to first token"]["measured"] > 0
    # the run was stored: the same stack is `measured` afterwards
    listed = json.loads(cli("profiles", "list", "--profiles-dir", str(store), "--format", "json").stdout)
    assert len(listed) == 1 and listed[0]["model"] == rec["model"]

    r = cli("verify", *REQ, "--min-tps", "100000", *RUN, "--profiles-dir", str(store), env=env)
    assert r.returncode == 4, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "FAIL"
    decode = next(x for x in lines if x.startswith("decode speed"))
    assert ">= 100000 tokens/s" in decode and decode.rstrip().endswith("FAIL")
    assert next(x for x in lines if x.startswith("memory")).rstrip().endswith("PASS")


def test_verify_refuses_another_machine_and_reports_nothing_to_run(cli):
    r = cli("verify", "--hardware", "raspberry-pi-5-8gb", "--synthetic")
    assert r.returncode == 2 and "--hardware" in r.stderr and "Traceback" not in r.stderr
    r = cli("verify", "--ram", "1GB", "--modality", "audio", "--lang", "sv", "--synthetic")
    assert r.returncode == 3 and "nothing fits" in r.stderr


def test_on_target_reads_a_hardware_id_as_this_machines_budget(cat):
    from advisor.api import on_target, resolve

    raw, note = on_target(cat, {"hardware": "raspberry-pi-5-8gb", "languages": ["sv"]})
    assert raw == {"ram_gb": "8GB", "languages": ["sv"]} and "Raspberry Pi 5" in note
    req, spec = resolve(cat, raw)
    assert req.ram_gb == 8 and spec.detected  # this machine, with the Pi's budget
    raw, _ = on_target(cat, {"hardware": "h100-80gb"})
    assert raw == {"vram_gb": "80GB"}
    assert on_target(cat, {"ram_gb": "4GB"}) == ({"ram_gb": "4GB"}, None)


def test_verify_for_several_users_checks_one_stream_and_says_so(cli, tmp_path, synth_cache):
    r = cli("verify", *REQ, "--concurrent-users", "3", *RUN, "--profiles-dir", str(tmp_path / "p"), "--format", "json",
            env={"ADVISOR_SYNTH_CACHE": synth_cache})
    assert r.returncode == 0, r.stderr
    assert "verify measures one stream" in r.stderr and "3 users" in r.stderr
    d = json.loads(r.stdout)
    assert d["result"] == "PASS" and d["pick"]["model"]
