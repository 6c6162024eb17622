"""`advisor profile` end to end with the real llama.cpp runtime on a GGUF the test builds."""

import json
import os

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


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two cores to run on fewer")
def test_profile_on_fewer_threads_records_that_configuration(cli, small_gguf, tmp_path):
    """`profile --threads 1` on a multi-core machine: the run and the estimate it is compared with are the
    machine as one thread uses it (a one-thread read test, that thread's share of the FLOP/s), under the
    configuration fingerprint -threads1, so it never calibrates the whole machine's estimates."""
    store = tmp_path / "profiles"
    args = ("--quant", "Q4_K_M", "--context", "1024", "--prompt-tokens", "64")
    r = cli("profile", "qwen3-0.6b", *args, "--file", str(small_gguf), "--gen-tokens", "16", "--repeats", "1",
            "--threads", "1", "--profiles-dir", str(store), "--format", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    prof, hw = out["profile"], json.loads(cli("hardware", "detect", "--format", "json").stdout)
    assert prof["threads"] == 1 and prof["hardware_fingerprint"] == hw["fingerprint"] + "-threads1"
    assert "1-thread read" in prof["bandwidth_basis"] and prof["bandwidth_gbps"] > 0.5
    # one thread's share of the matmul rate (the unit test in test_trust checks it exactly; `hardware detect`
    # may measure again between the two commands, so a measurement's spread is allowed, never a factor of 2)
    assert prof["compute_tflops"] == pytest.approx(hw["cpu_tflops"] / hw["cores_logical"], rel=0.3)
    assert f"1 of its {hw['cores_logical']} threads" in prof["hardware"]
    # the whole machine's estimate of the same stack is not this run's: another configuration
    est = json.loads(cli("estimate", "qwen3-0.6b", *args, "--format", "json",
                         env={"ADVISOR_PROFILES_DIR": str(store)}).stdout)
    assert est["basis"] == "estimated", est["basis"]
