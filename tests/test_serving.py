"""advisor/serving.py: the batched vLLM roofline against published runs (knowledge/serving/vllm-throughput.yaml),
the layout search on the issue's worked examples, and `advisor capacity --concurrent-users` end to end."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from advisor.cli import main
from advisor.kb import load_catalog
from advisor.serving import FITTED, gpu_of, plan_layouts, serve_point, users_for_rate
from benchmarks import bench_vllm_throughput as bench


@pytest.fixture(scope="module")
def cat():
    return load_catalog()


def _plan(cat, model, gpu, **kw):
    kw.setdefault("prompt_tokens", 1024)
    kw.setdefault("output_tokens", 512)
    return plan_layouts(cat.model(model), gpu_of(gpu, cat.accelerator(gpu)), **kw)


def test_fitted_constants_are_the_train_fit(cat):
    """FITTED is what the benchmark's fit returns on the train runs alone (no score run informs it)."""
    k, _ = bench.fit(cat, bench.load())
    assert k == FITTED


def test_score_runs_stay_within_what_the_benchmark_printed(cat):
    """A regression guard on published data: `python -m benchmarks.bench_vllm_throughput` printed a median
    |error| of 6.6% for time per output token and 12.0% for time to first token over the score runs."""
    data = bench.load()
    rows = bench.rows(cat, data, "score")
    assert {r["id"] for r in rows}.isdisjoint({r["id"] for r in data["train"]})
    assert bench.summary(rows, "tpot_err")["median"] < 0.08
    assert bench.summary(rows, "ttft_err")["median"] < 0.14
    for r in data["train"] + data["score"]:
        assert r["source"].startswith("https://") and r["quote"]


def test_batch_growth_memory_then_compute_bound(cat):
    a = cat.model("qwen3-32b").architecture
    g = gpu_of("a100-80gb", cat.accelerator("a100-80gb"))
    pts = [serve_point(a, g, tp=2, batch=b, prompt_tokens=1, output_tokens=200) for b in (1, 16, 128, 512)]
    assert [p["step"]["bound"] for p in pts] == ["memory", "memory", "compute", "compute"]
    agg = [p["aggregate_tok_s"] for p in pts]
    per = [p["per_user_tok_s"] for p in pts]
    assert agg == sorted(agg) and per == sorted(per, reverse=True)
    # memory-bound: 16 sequences cost little more than one (weights read once); compute-bound: time ~ batch
    assert pts[1]["tpot_ms"] < 1.1 * pts[0]["tpot_ms"]
    assert pts[3]["tpot_ms"] > 3 * pts[2]["tpot_ms"]


def test_moe_reads_more_experts_as_the_batch_grows(cat):
    a = cat.model("qwen3-30b-a3b").architecture
    g = gpu_of("h100-sxm", cat.accelerator("h100-sxm"))
    w = [serve_point(a, g, batch=b, prompt_tokens=1, output_tokens=100)["step"]["weights_mb"] for b in (1, 8, 64)]
    assert w[0] < w[1] < w[2]
    assert w[2] < 61_100  # never more than every expert (61 GB of BF16 weights)


def test_qwen3_235b_needs_a_full_h100_node(cat):
    s = _plan(cat, "qwen3-235b-a22b", "h100-sxm", users=200, target_tps=25, max_model_len=8192, max_gpus=32)
    refused = {r["tp"]: r["refused"] for r in s["layouts"] if r["pp"] == 1}
    assert all("leave no room" in refused[tp] for tp in (1, 2, 4))
    c = s["chosen"]
    assert (c["tp"], c["pp"], c["expert_parallel"]) == (8, 1, True)
    assert c["per_user_tok_s"] >= 25 and c["replicas"] * c["max_users_per_replica"] >= 200
    assert c["total_gpus"] == c["replicas"] * 8


def test_qwen3_32b_more_users_or_a_higher_target_take_more_gpus(cat):
    base = _plan(cat, "qwen3-32b", "h100-sxm", users=64, target_tps=20, max_model_len=32768)["chosen"]
    more = _plan(cat, "qwen3-32b", "h100-sxm", users=512, target_tps=20, max_model_len=32768)["chosen"]
    fast = _plan(cat, "qwen3-32b", "h100-sxm", users=64, target_tps=60, max_model_len=32768)["chosen"]
    assert more["total_gpus"] > base["total_gpus"] and fast["total_gpus"] > base["total_gpus"]
    for c in (base, more, fast):
        assert c["per_user_tok_s"] >= (60 if c is fast else 20)


def test_phi4_tp_limited_by_its_kv_heads_on_a100(cat):
    s = _plan(cat, "phi-4", "a100-80gb", users=100, target_tps=30, max_model_len=4096)
    refused = {r["tp"]: r["refused"] for r in s["layouts"]}
    assert "10 KV heads and TP 4" in refused[4] and "TP 8" in refused[8]
    assert s["chosen"]["tp"] in (1, 2) and s["chosen"]["per_user_tok_s"] >= 30


def test_gemma3_27b_on_one_h200_until_the_target_rises(cat):
    slow = _plan(cat, "gemma-3-27b-it", "h200", users=50, target_tps=20, max_model_len=8192)["chosen"]
    assert (slow["tp"], slow["replicas"], slow["total_gpus"]) == (1, 1, 1)
    fast = _plan(cat, "gemma-3-27b-it", "h200", users=50, target_tps=80, max_model_len=8192)["chosen"]
    assert fast["total_gpus"] > 1 and fast["per_user_tok_s"] >= 80


def test_no_layout_for_an_impossible_target(cat):
    s = _plan(cat, "qwen3-32b", "a100-80gb", users=10, target_tps=5000, max_model_len=8192)
    assert s["chosen"] is None and all(r["refused"] for r in s["layouts"])


def test_littles_law():
    assert users_for_rate(2.0, {"ttft_ms": 100, "tpot_ms": 20}, 500) == 21  # 2/s x 10.1 s


def test_capacity_cli_serving_json_and_deploy(tmp_path):
    r = CliRunner().invoke(main, ["capacity", "qwen3-32b", "--gpu", "h100-sxm", "--context", "32K",
                                  "--concurrent-users", "64", "--target-tps", "20", "--prompt-tokens", "2048",
                                  "--output-tokens", "512", "--max-gpus", "16", "--format", "json",
                                  "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    rec = json.loads(r.stdout)
    c = rec["serving"]["chosen"]
    assert c["per_user_tok_s"] >= 20 and c["total_gpus"] <= 16
    files = sorted(p.name for p in (tmp_path / "deploy").iterdir())
    assert files == ["helm-values.yaml", "k8s.yaml", "kserve.yaml", "vllm.sh"]
    sh = (tmp_path / "deploy" / "vllm.sh").read_text()
    assert f"--tensor-parallel-size {c['tp']}" in sh and f"--max-num-seqs {c['max_users_per_replica']}" in sh
    import kubernetes_validate

    for doc in yaml.safe_load_all((tmp_path / "deploy" / "k8s.yaml").read_text()):
        kubernetes_validate.validate(doc, "1.33", strict=True)
    assert "fewest GPUs: TP" in (tmp_path / "capacity.md").read_text()


def test_capacity_cli_multi_node_writes_ray_files(tmp_path):
    """Nodes of 4 A100s: 470 GB of BF16 weights need two nodes, pipeline parallel across them over Ray."""
    r = CliRunner().invoke(main, ["capacity", "qwen3-235b-a22b", "--gpu", "a100-80gb", "--gpus", "4",
                                  "--context", "8K", "--concurrent-users", "16", "--max-gpus", "32",
                                  "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "fewest GPUs: TP 4 x PP 2" in r.stdout
    files = {p.name for p in (tmp_path / "deploy").iterdir()}
    assert {"ray-cluster.sh", "raycluster.yaml", "kserve.yaml", "helm-values.yaml", "vllm.sh"} <= files
    sh = (tmp_path / "deploy" / "vllm.sh").read_text()
    assert "--distributed-executor-backend ray" in sh and "--enable-expert-parallel" in sh
    isvc = yaml.safe_load((tmp_path / "deploy" / "kserve.yaml").read_text())
    assert "--enable-expert-parallel" in isvc["spec"]["predictor"]["model"]["args"]


@pytest.mark.parametrize("args,flag", [
    (["--concurrent-users", "10", "--target-tps", "fast"], "--target-tps"),
    (["--concurrent-users", "10", "--target-tps", "-3"], "--target-tps"),
    (["--requests-per-s", "0"], "--requests-per-s"),
    (["--concurrent-users", "10", "--prompt-tokens", "8000", "--output-tokens", "1000"], "--context"),
    (["--concurrent-users", "10", "--max-gpus", "0"], "--max-gpus"),
    (["--concurrent-users", "10", "--target-tps", "5000", "--out", "x"], "--out"),
])
def test_capacity_bad_input_names_the_flag(args, flag, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["capacity", "qwen3-8b", "--gpu", "h100-sxm", "--context", "8K"] + args)
    assert r.exit_code == 2, r.output
    assert flag in r.output and "Traceback" not in r.output


def _recommend(*args):
    r = CliRunner().invoke(main, ["recommend", "--ram", "16GB", "--bandwidth", "30", "--runtime", "llama.cpp",
                                  "--format", "json", "--top", "5", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_recommend_for_concurrent_users_sizes_a_kv_cache_per_user_and_speed_per_user():
    one, four = _recommend(), _recommend("--concurrent-users", "4")
    assert four["requirements"]["concurrent_users"] == 4
    by = {(x["model"], x["quantization"]): x for x in one["recommendations"]}
    same = [(x, by[(x["model"], x["quantization"])]) for x in four["recommendations"]
            if (x["model"], x["quantization"]) in by]
    assert same, "no stack in both lists"
    for x, y in same:
        assert x["memory_breakdown_gb"]["kv_cache"] == pytest.approx(4 * y["memory_breakdown_gb"]["kv_cache"], rel=0.01)
        assert x["serving"]["users"] == 4 and x["decode_tps"] < y["decode_tps"]
        # on a CPU no batching gain is assumed (bench_llama_slots): four users share one stream's speed
        assert x["serving"]["aggregate_tok_s"] == pytest.approx(y["decode_tps"], rel=0.01)
        assert x["serving"]["single_stream_tok_s"] == pytest.approx(y["decode_tps"], rel=0.01)
    assert all("serving" not in x for x in one["recommendations"])


def test_on_a_gpu_batching_gives_more_in_all_and_less_each():
    args = ["recommend", "--gpu", "rtx-4090", "--runtime", "llama.cpp", "--format", "json", "--top", "3"]
    one = json.loads(CliRunner().invoke(main, args).stdout)["recommendations"]
    four = json.loads(CliRunner().invoke(main, args + ["--concurrent-users", "4"]).stdout)["recommendations"]
    by = {(x["model"], x["quantization"]): x for x in one}
    same = [(x, by[(x["model"], x["quantization"])]) for x in four if (x["model"], x["quantization"]) in by]
    assert same
    for x, y in same:
        assert x["serving"]["coef_backend"] == "cuda"
        assert x["decode_tps"] < y["decode_tps"] < x["serving"]["aggregate_tok_s"]


def test_target_tps_is_per_user(tmp_path):
    four = _recommend("--concurrent-users", "4")
    per_user = four["recommendations"][0]["decode_tps"]
    capped = _recommend("--concurrent-users", "4", "--target-tps", str(per_user + 0.5))
    assert all(x["decode_tps"] >= per_user + 0.5 for x in capped["recommendations"])


def test_plan_for_users_deploys_slots(tmp_path):
    r = CliRunner().invoke(main, ["plan", "--ram", "16GB", "--bandwidth", "30", "--runtime", "ollama",
                                  "--concurrent-users", "3", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    sh = (tmp_path / "deploy" / "ollama.sh").read_text()
    assert "export OLLAMA_NUM_PARALLEL=3" in sh
    spec = yaml.safe_load((tmp_path / "deploy" / "requirements.yaml").read_text())
    assert spec["concurrent_users"] == 3


@pytest.mark.parametrize("value", ["0", "many", "5000"])
def test_concurrent_users_bad_input(value):
    r = CliRunner().invoke(main, ["recommend", "--ram", "4GB", "--concurrent-users", value])
    assert r.exit_code == 2 and "--concurrent-users" in r.output and "Traceback" not in r.output


def test_plan_of_a_vllm_pick_on_a_gpu_node_carries_the_capacity_and_its_deploy_files(tmp_path):
    """`advisor plan` for 64 users at 20 tok/s on a DGX H100: the record and the report show the capacity table,
    and deploy/ holds the chosen layout's files, each valid against its schema."""
    from tests.test_plan import kubernetes_manifests_are_valid
    from tests.test_serving_manifests import check_crd, check_values

    r = CliRunner().invoke(main, ["plan", "--hardware", "dgx-h100-8x", "--runtime", "vllm", "--concurrent-users", "64",
                                  "--target-tps", "20", "--out", str(tmp_path), "--format", "json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    cap = plan["capacity"]
    c = cap["chosen"]
    assert cap["users"] == 64 and cap["gpus_per_node"] == 8 and c["per_user_tok_s"] >= 20 and c["total_gpus"] <= 8
    md = (tmp_path / "decision.md").read_text()
    assert "### Capacity" in md and f"Deployed: TP {c['tp']} x PP {c['pp']}" in md
    assert "<h3>Capacity</h3>" in (tmp_path / "report.html").read_text()
    d = tmp_path / "deploy"
    sh = (d / "vllm.sh").read_text()
    assert f"--tensor-parallel-size {c['tp']}" in sh and f"--max-num-seqs {c['max_users_per_replica']}" in sh
    kubernetes_manifests_are_valid((d / "k8s.yaml").read_text(), sh)
    check_crd((d / "kserve.yaml").read_text(), "kserve-inferenceservice-v1beta1.json")
    check_values((d / "helm-values.yaml").read_text())
    compose = yaml.safe_load((d / "compose.yaml").read_text())
    assert compose["services"]["vllm"]["deploy"]["resources"]["reservations"]["devices"][0]["count"] == c["tp"] * c["pp"]


def test_a_request_rate_puts_users_in_flight_by_littles_law(tmp_path):
    rate = _recommend("--requests-per-s", "0.05", "--output-tokens", "128")
    for x in rate["recommendations"]:
        s = x["serving"]
        # Little's law holds at the stack's own batched speed: rate x (first token + output at that speed) <= users
        assert s["requests_per_s"] == 0.05 and s["users"] >= 1
        assert 0.05 * ((x["ttft_ms"] or 0) / 1000 + 128 / s["per_user_tok_s"]) <= s["users"] + 0.01  # rounded figures
    r = CliRunner().invoke(main, ["plan", "--ram", "16GB", "--bandwidth", "30", "--runtime", "llama.cpp",
                                  "--requests-per-s", "0.05", "--output-tokens", "128", "--out", str(tmp_path),
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    users = json.loads(r.stdout)["chosen"]["serving"]["users"]
    assert f"-np {users} " in (tmp_path / "deploy" / "llama-server.sh").read_text()
    bad = CliRunner().invoke(main, ["recommend", "--ram", "4GB", "--requests-per-s", "-1"])
    assert bad.exit_code == 2 and "--requests-per-s" in bad.output


def test_tp_over_pcie_pays_slower_all_reduces(cat):
    """RTX 4090s have no NVLink: TP's all-reduces take NCCL's PCIe time (42.56 us), not the NVLink one."""
    from advisor.serving import ALLREDUCE_US, PCIE_ALLREDUCE_US

    acc = cat.accelerator("rtx-4090")
    a = cat.model("qwen3-32b").architecture
    pcie, nvl = gpu_of("rtx-4090", acc), gpu_of("rtx-4090", acc, "nvlink")
    assert (pcie.interconnect, gpu_of("h100-sxm", cat.accelerator("h100-sxm")).interconnect) == ("pcie", "nvlink")
    slow = serve_point(a, pcie, tp=4, users=1, prompt_tokens=128, output_tokens=128)["step"]
    fast = serve_point(a, nvl, tp=4, users=1, prompt_tokens=128, output_tokens=128)["step"]
    assert slow["allreduce_ms"] == pytest.approx(2 * a.layers * PCIE_ALLREDUCE_US / 1e3, abs=1e-3)
    assert fast["allreduce_ms"] == pytest.approx(2 * a.layers * ALLREDUCE_US / 1e3, abs=1e-3)
    r = CliRunner().invoke(main, ["capacity", "qwen3-32b", "--gpu", "rtx-4090", "--gpus", "4", "--context", "8K",
                                  "--concurrent-users", "8"])
    assert r.exit_code == 0 and "PCIe: 42.56 us per all-reduce" in r.stdout
