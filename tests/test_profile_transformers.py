"""`advisor profile --runtime transformers`: the second runtime, end to end with the real Transformers and
PyTorch on a random-weight checkpoint with a real model's shapes (built and loaded as a download would be)."""

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_transformers_profile_round_trip(cli, tmp_path):
    store, cache = tmp_path / "profiles", tmp_path / "synth"
    env = {"ADVISOR_SYNTH_CACHE": str(cache)}
    r = cli("profile", "qwen2.5-0.5b-instruct", "--runtime", "transformers", "--quant", "BF16", "--synthetic",
            "--context", "1024", "--prompt-tokens", "64", "--gen-tokens", "8", "--repeats", "2",
            "--profiles-dir", str(store), "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    prof = out["profile"]
    assert prof["runtime"] == "transformers" and prof["runtime_version"].startswith("transformers ")
    assert prof["quantization"] == "bf16" and prof["synthetic"] is True and prof["decode_tokens_per_s"]["n"] == 2
    # the checkpoint was written once (config.json + safetensors) and loaded with from_pretrained
    built = list(cache.glob("hf-qwen2-*-bf16"))
    assert len(built) == 1 and (built[0] / "config.json").exists() and list(built[0].glob("*.safetensors"))
    # memory: weights in BF16 + the dynamic KV cache + activations + the PyTorch process, against the peak RSS
    mem = next(c for c in out["comparison"] if c["metric"] == "memory_peak_gb")
    assert abs(mem["error"]) < 0.15, mem
    # the same stack on this machine, at the measured prompt length, is now `measured`, from the stored run
    est = cli("estimate", "qwen2.5-0.5b-instruct", "--quant", "BF16", "--runtime", "transformers", "--context", "1024",
              "--prompt-tokens", "64", "--format", "json", env={"ADVISOR_PROFILES_DIR": str(store)})
    assert est.returncode == 0, est.stderr
    e = json.loads(est.stdout)
    assert e["basis"] == "measured" and e["decode_tps"] == pytest.approx(prof["decode_tokens_per_s"]["median"], rel=1e-3)


@pytest.mark.parametrize("args, field", [
    (["--runtime", "transformers", "--quant", "Q4_K_M", "--synthetic"], "--quant"),
    (["--runtime", "vllm", "--quant", "BF16", "--synthetic"], "--runtime"),
    (["--runtime", "transformers", "--quant", "BF16", "--file", "/nonexistent/checkpoint"], "--file"),
])
def test_transformers_profile_bad_input_exits_2(cli, args, field):
    r = cli("profile", "qwen2.5-0.5b-instruct", *args)
    assert r.returncode == 2 and field in r.stderr and "Traceback" not in r.stderr, r.stderr


def test_verify_runs_a_transformers_pick(cli, tmp_path):
    """With --runtime transformers the pick is a 16-bit checkpoint; verify runs it with Transformers, fills the
    context for the memory peak and checks it against the budget."""
    env = {"ADVISOR_SYNTH_CACHE": str(tmp_path / "synth")}
    r = cli("verify", "--ram", "4GB", "--runtime", "transformers", "--context", "512", "--prompt-tokens", "32",
            "--synthetic", "--gen-tokens", "4", "--repeats", "1", "--profiles-dir", str(tmp_path / "profiles"),
            "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["result"] == "PASS" and out["pick"]["runtime"] == "transformers"
    assert out["pick"]["quantization"] in ("bf16", "f16", "f32")  # the id --quant takes
    mem = next(c for c in out["checks"] if c["check"] == "memory")
    assert mem["status"] == "PASS" and abs(mem["error"]) < 0.15, mem
    # stacks the harness cannot run (FP8, AWQ checkpoints) are passed over with the reason
    assert all(p["reason"] for p in out["passed_over"])
