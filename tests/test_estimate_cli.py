"""`advisor estimate` and `advisor hardware detect` through the real entry point."""

import json

FIELDS = ("model", "quantization", "runtime", "context", "memory_required_gb", "memory_peak_gb", "memory_breakdown_gb", "decode_tps",
          "decode_tps_range", "prefill_tps", "ttft_ms", "basis", "assumptions")


def test_estimate_json_on_a_hardware_profile(cli):
    r = cli("estimate", "qwen3-8b", "--quant", "Q4_K_M", "--runtime", "llama.cpp", "--context", "8192",
            "--hardware", "desktop-rtx-4090-24gb", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for f in FIELDS:
        assert f in d, f
    assert set(d["memory_breakdown_gb"]) == {"weights", "kv_cache", "buffers", "overhead", "encoders"}
    assert d["backend"] == "cuda" and d["basis"] in ("estimated", "calibrated", "measured")
    assert abs(sum(d["memory_breakdown_gb"].values()) - d["memory_required_gb"]) < 0.01
    assert d["memory_peak_gb"] >= d["memory_required_gb"]
    lo, hi = d["decode_tps_range"]
    assert lo <= d["decode_tps"] <= hi
    assert any("bandwidth" in a for a in d["assumptions"])
    # KV of Qwen3-8B at 8K: 36 layers x 8 KV heads x 128 x 2 (K,V) x 2 bytes x 8192 = 1.21 GB
    assert abs(d["memory_breakdown_gb"]["kv_cache"] - 1.208) < 0.01


def test_estimate_with_explicit_budget_and_quantized_kv(cli):
    r = cli("estimate", "qwen3-4b", "--quant", "q8_0", "--ram", "8GB", "--bandwidth", "50", "--kv-cache", "q8_0",
            "--context", "32K", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["context"] == 32768 and any("50 GB/s" in a or "--bandwidth" in a for a in d["assumptions"])
    table = cli("estimate", "qwen3-4b", "--quant", "q8_0", "--ram", "8GB", "--bandwidth", "50")
    assert "memory" in table.stdout and "decode" in table.stdout and "assumptions:" in table.stdout


def test_estimate_bad_input_exits_2_naming_the_field(cli):
    cases = [
        (["estimate", "qwen3-4b", "--context", "lots"], "--context"),
        (["estimate", "qwen3-4b", "--ram", "4XB", "--bandwidth", "10"], "--ram"),
        (["estimate", "qwen3-4b", "--quant", "Q9_K"], "quantization"),
        (["estimate", "qwen3-4b", "--quant", "awq_int4", "--runtime", "llama.cpp", "--bandwidth", "10"], "--quant"),
        (["estimate", "qwen3-4b", "--hardware", "cray-1"], "hardware"),
        (["estimate", "nope-1b"], "model"),
        (["estimate", "qwen3-0.6b", "--context", "1000000", "--bandwidth", "10"], "--context"),
    ]
    for args, field in cases:
        r = cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert field in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)


def test_hardware_detect_measures_bandwidth(cli):
    r = cli("hardware", "detect", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    for f in ("cpu_model", "cores_logical", "ram_gb", "simd", "gpus", "bandwidth_gbps", "fingerprint"):
        assert f in d
    assert d["bandwidth_gbps"] > 0.5 and d["ram_gb"] > 0.5
    assert "measured" in d["bandwidth_source"]
