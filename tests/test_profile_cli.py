"""`advisor profile` end to end with the real llama.cpp runtime on a GGUF the test builds."""

import json

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

from advisor.kb import load_catalog  # noqa: E402
from profiling.synth import build, scaled  # noqa: E402


@pytest.fixture(scope="module")
def small_gguf(tmp_path_factory):
    a = scaled(load_catalog().model("qwen3-0.6b").architecture, layers=4)
    return build(a, "q4_k_m", directory=tmp_path_factory.mktemp("synth"))


def test_profile_round_trip_then_estimates_use_it(cli, small_gguf, tmp_path):
    store = tmp_path / "profiles"
    r = cli("profile", "qwen3-0.6b", "--quant", "Q4_K_M", "--file", str(small_gguf), "--context", "1024",
            "--prompt-tokens", "64", "--gen-tokens", "16", "--repeats", "2", "--profiles-dir", str(store),
            "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    prof = out["profile"]
    assert prof["decode_tokens_per_s"]["n"] == 2
    assert prof["decode_tokens_per_s"]["min"] <= prof["decode_tokens_per_s"]["median"] <= prof["decode_tokens_per_s"]["max"]
    assert prof["peak_rss_bytes"] > 0 and prof["runtime_version"].startswith("llama-cpp-python")
    assert prof["hardware_fingerprint"] and prof["bandwidth_gbps"] > 0
    assert {c["metric"] for c in out["comparison"]} == {"memory_peak_gb", "decode_tps", "prefill_tps", "ttft_ms"}
    listed = cli("profiles", "list", "--profiles-dir", str(store), "--format", "json")
    items = json.loads(listed.stdout)
    assert len(items) == 1 and items[0]["model"] == "qwen3-0.6b"
    shown = cli("profiles", "show", items[0]["id"], "--profiles-dir", str(store))
    assert "decode_tokens_per_s" in shown.stdout
    # the same stack on the same machine, under the measured conditions, is now `measured`
    est = cli("estimate", "qwen3-0.6b", "--quant", "Q4_K_M", "--context", "1024", "--prompt-tokens", "64",
              "--format", "json", env={"ADVISOR_PROFILES_DIR": str(store)})
    d = json.loads(est.stdout)
    assert d["basis"] == "measured", d
    assert d["decode_tps"] == round(prof["decode_tokens_per_s"]["median"], 2)
    # a prompt the run did not measure (its TTFT was not measured) is calibrated from that run
    longer = json.loads(cli("estimate", "qwen3-0.6b", "--quant", "Q4_K_M", "--context", "1024", "--format", "json",
                            env={"ADVISOR_PROFILES_DIR": str(store)}).stdout)
    assert longer["basis"] == "calibrated" and any("calibrated from that run" in a for a in longer["assumptions"])
    # and another stack on this machine is at least calibrated
    other = json.loads(cli("estimate", "qwen3-4b", "--quant", "Q4_K_M", "--format", "json",
                           env={"ADVISOR_PROFILES_DIR": str(store)}).stdout)
    assert other["basis"] == "calibrated"
    rm = cli("profiles", "rm", items[0]["id"], "--profiles-dir", str(store))
    assert rm.returncode == 0
    assert json.loads(cli("profiles", "list", "--profiles-dir", str(store), "--format", "json").stdout) == []


def test_profile_refuses_what_does_not_fit_and_bad_input(cli, small_gguf):
    r = cli("profile", "qwen3-235b-a22b", "--quant", "Q4_K_M", "--synthetic", "--context", "32768")
    assert r.returncode == 1 and "predicted to need" in r.stderr and "--force" in r.stderr
    r = cli("profile", "qwen3-0.6b", "--file", "/nonexistent.gguf")
    assert r.returncode == 2 and "--file" in r.stderr
    r = cli("profile", "phi-silica")
    assert r.returncode == 2 and "platform-builtin" in r.stderr
    r = cli("profile", "qwen3-0.6b", "--quant", "awq_int4", "--file", str(small_gguf))
    assert r.returncode == 2 and "--quant" in r.stderr
    r = cli("profile", "qwen3-0.6b", "--quant", "Q4_K_M")  # offline: the listed GGUF is not cached
    assert r.returncode != 0 and "Traceback" not in r.stderr
