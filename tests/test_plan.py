"""`advisor plan`: the decision record, the offline report and the deploy files, pinned by snapshots on the
fixture knowledge base, and each generated file read by a real parser (YAML, bash -n, Ollama's Modelfile
instructions), the report loaded in Debian's chromium with no request and no console error."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import FIXTURES, ROOT

SNAP = Path(__file__).parent / "snapshots" / "plan"
FIXED = ("--hardware", "toy-board-4gb", "--as-of", "2026-06-01", "--date", "2026-06-01")
KB = {"ADVISOR_KNOWLEDGE": str(FIXTURES / "kb_good"), "ADVISOR_NO_CACHE": "1"}


def same_as_snapshot(got: dict[str, str], snap: Path) -> None:
    """Each file as its snapshot has it (UPDATE_SNAPSHOTS=1 rewrites them, to be reviewed in the diff)."""
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        shutil.rmtree(snap, ignore_errors=True)
        snap.mkdir(parents=True)
        for name, text in got.items():
            (snap / name).write_text(text)
    assert sorted(p.name for p in snap.iterdir()) == sorted(got), "run with UPDATE_SNAPSHOTS=1 and review"
    for name, text in got.items():
        assert text == (snap / name).read_text(), f"{name} changed; review and update with UPDATE_SNAPSHOTS=1"


def test_plan_matches_its_snapshot(cli, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("lang: sv\ncontext: 4096\ntitle: Assistant model for the toy board\nstatus: accepted\n"
                    "decision-makers: [Ada, Linus]\n")
    out = tmp_path / "plan"
    r = cli("plan", "--spec", str(spec), *FIXED, "--out", str(out), "--format", "json", env=KB)
    assert r.returncode == 0, r.stderr
    got = {"plan.json": json.dumps(json.loads(r.stdout), indent=2, ensure_ascii=False) + "\n",
           "decision.md": (out / "decision.md").read_text()}
    got.update({f"deploy-{p.name}": p.read_text() for p in sorted((out / "deploy").iterdir())})
    same_as_snapshot(got, SNAP)
    md = got["decision.md"]
    # MADR 4: front matter, then the sections in the template's order
    assert md.startswith('---\nstatus: "accepted"\ndate: 2026-06-01\ndecision-makers: Ada, Linus\n---\n')
    heads = [h for h in re.findall(r"^#{1,3} (.+)$", md, re.M)]
    order = ["Context and Problem Statement", "Decision Drivers", "Considered Options", "Decision Outcome",
             "Consequences", "Confirmation", "Pros and Cons of the Options", "More Information"]
    assert [h for h in heads if h in order] == order
    assert "Chosen option: \"toy-0.6b" in md


TOY_FLEET = """title: Toy fleet
lang: sv
fleet:
  - {name: boards, hardware: toy-board-4gb, count: 30}
  - {name: desktops, hardware: toy-desk-32gb, count: 5, overrides: {context: 4K}}
"""


def test_a_fleet_plan_matches_its_snapshot(cli, tmp_path):
    spec = tmp_path / "fleet.yaml"
    spec.write_text(TOY_FLEET)
    out = tmp_path / "plan"
    r = cli("plan", "--spec", str(spec), *FIXED[2:], "--out", str(out), "--format", "json", env=KB)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    got = {"plan.json": json.dumps(plan, indent=2, ensure_ascii=False) + "\n",
           "decision.md": (out / "decision.md").read_text()}
    got.update({f"deploy-{p.parent.name}-{p.name}": p.read_text() for p in sorted((out / "deploy").glob("*/*"))})
    same_as_snapshot(got, SNAP.parent / "fleet")
    md = got["decision.md"]
    heads = re.findall(r"^#{1,3} (.+)$", md, re.M)
    order = ["Context and Problem Statement", "Decision Drivers", "Considered Options", "Decision Outcome",
             "Consequences", "Confirmation", "Pros and Cons of the Options", "More Information"]
    assert [h for h in heads if h in order] == order
    # each class has its own consequences, and each option's pros and cons name every class
    for c in plan["fleet"]["classes"]:
        assert f"#### {c['name']} ({c['count']} devices" in md
    pros = md.split("## Pros and Cons of the Options")[1].split("## More Information")[0]
    for opt in pros.split("### ")[1:]:
        assert all(f"because {c['name']} runs" in opt for c in plan["fleet"]["classes"])


def _plan(cli, tmp_path, *args, fmt="both") -> tuple[Path, dict]:
    out = tmp_path / "plan"
    r = cli("plan", *args, "--out", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    return out, json.loads(r.stdout)


CASES = {
    "llama.cpp": ("--ram", "4GB", "--lang", "sv", "--bandwidth", "30"),
    "ollama": ("--ram", "4GB", "--runtime", "ollama", "--bandwidth", "30"),
    "mlx": ("--ram", "8GB", "--platform", "macos", "--runtime", "mlx", "--bandwidth", "100"),
    "bitnet.cpp": ("--ram", "4GB", "--runtime", "bitnet.cpp", "--context", "4096", "--bandwidth", "30"),
    "foundry-local": ("--ram", "8GB", "--runtime", "foundry-local", "--bandwidth", "30"),
    "windows-ai-apis": ("--hardware", "copilot-plus-x-elite-16gb", "--max-download-gb", "0", "--as-of", "2026-12-06"),
    "vllm": ("--gpu", "h100-sxm", "--runtime", "vllm"),
}


def kubernetes_manifests_are_valid(text: str, vllm_sh: str) -> None:
    """The Deployment and Service validate strictly (no unknown key) against the official Kubernetes API schemas,
    offline (kubernetes-validate bundles them); the container runs what vllm.sh runs, with a GPU per TP rank."""
    import kubernetes_validate

    docs = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in docs] == ["Deployment", "Service"]
    version = kubernetes_validate.utils.latest_version()
    for d in docs:
        kubernetes_validate.validate(d, version, strict=True)
    ctr = docs[0]["spec"]["template"]["spec"]["containers"][0]
    serve = shlex.split(next(ln for ln in vllm_sh.splitlines() if ln.startswith("vllm serve ")))[2:]
    assert ctr["args"] == ["--model"] + serve
    tp = serve[serve.index("--tensor-parallel-size") + 1]
    assert ctr["resources"]["limits"]["nvidia.com/gpu"] == tp
    assert docs[1]["spec"]["selector"] == docs[0]["spec"]["selector"]["matchLabels"]
    # a manifest with a misspelt key is refused: the check is strict
    bad = json.loads(json.dumps(docs[0]))
    bad["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, version, strict=True)


@pytest.mark.parametrize("runtime", sorted(CASES))
def test_every_deploy_file_parses_and_names_a_catalog_artifact(cli, tmp_path, runtime, cat):
    out, plan = _plan(cli, tmp_path, *CASES[runtime])
    c = plan["chosen"]
    assert c["runtime"] == runtime
    files = {p.name: p.read_text() for p in (out / "deploy").iterdir()}
    assert {"requirements.yaml", "verify.sh"} <= set(files)
    # the spec reads back as the same requirements
    from advisor.requirements import build, parse_spec

    assert build(parse_spec(files["requirements.yaml"])).model_dump() == {
        **plan_requirements(plan), "top": build(parse_spec(files["requirements.yaml"])).top}
    for name, text in files.items():
        if name.endswith(".sh"):
            r = subprocess.run(["bash", "-n", str(out / "deploy" / name)], capture_output=True, text=True)
            assert r.returncode == 0, (name, r.stderr)
            assert os.access(out / "deploy" / name, os.X_OK)
        if name == "k8s.yaml":
            kubernetes_manifests_are_valid(text, files["vllm.sh"])
        elif name.endswith((".yaml", ".yml")):
            assert isinstance(yaml.safe_load(text), dict)
    m = cat.model(c["model"])
    a = c["artifact"]
    # every file a command downloads is one the knowledge base records for this model
    for repo, fname in re.findall(r"hf download (\S+) (\S+\.gguf)", "\n".join(files.values())):
        assert any((x.hf_repo or m.hf_repo) == repo and x.file == fname for x in m.artifacts), (repo, fname)
    if runtime in ("llama.cpp",):
        cmd = next(ln for ln in files["llama-server.sh"].splitlines() if ln.startswith("llama-server "))
        flags = re.findall(r" (-{1,2}[a-z][a-z-]*)", cmd)
        assert set(flags) <= LLAMA_SERVER_FLAGS, set(flags) - LLAMA_SERVER_FLAGS
        assert f"-c {c['context']}" in cmd and "-np 1" in cmd
    if runtime == "ollama":
        for ln in files["Modelfile"].splitlines():
            if ln and not ln.startswith("#"):
                assert ln.split()[0] in OLLAMA_INSTRUCTIONS, ln
                if ln.startswith("PARAMETER"):
                    assert ln.split()[1] in OLLAMA_PARAMETERS, ln
        assert f"PARAMETER num_ctx {c['context']}" in files["Modelfile"]
    if runtime == "vllm":
        compose = yaml.safe_load(files["compose.yaml"])
        assert compose["services"]["vllm"]["image"].startswith("vllm/vllm-openai")
        assert "--max-model-len" in compose["services"]["vllm"]["command"]
    if runtime == "windows-ai-apis":
        cs = files["OnDeviceModel.cs"]
        for api in ("GetReadyState", "EnsureReadyAsync", "CreateAsync", "GenerateResponseAsync", "com.microsoft.windows.ai.languagemodel"):
            assert api in cs
    if runtime == "bitnet.cpp":
        assert f"-q {c['quantization']}" in files["bitnet.sh"]
    if runtime == "foundry-local":
        assert "foundry model run " + c["model"].removesuffix("-instruct") in files["foundry.sh"]
    assert a["status"] in ("published", "to-be-made", "built-in")


def plan_requirements(plan: dict) -> dict:
    from advisor.requirements import build, parse_spec

    return build(parse_spec(yaml.safe_dump(plan["requirements"]))).model_dump()


# llama-server flags the generated command may use (tools/server/README.md, ggml-org/llama.cpp)
LLAMA_SERVER_FLAGS = {"-m", "-c", "-t", "-ngl", "-np", "--host", "--port", "-fa", "--cache-type-k", "--cache-type-v"}
# Ollama's Modelfile instructions and the PARAMETER names its API accepts (docs/modelfile.mdx; api/types.go)
OLLAMA_INSTRUCTIONS = {"FROM", "PARAMETER", "TEMPLATE", "SYSTEM", "ADAPTER", "LICENSE", "MESSAGE", "REQUIRES"}
OLLAMA_PARAMETERS = {"num_ctx", "num_thread", "num_gpu", "num_predict", "temperature", "top_k", "top_p", "min_p",
                     "stop", "seed", "repeat_last_n", "repeat_penalty", "num_batch"}


def _loads_offline(report: Path, shot: str) -> int:
    """Open the report in Debian's chromium; assert no request but the file itself and no console error; keep a
    screenshot; return how many plotly charts rendered."""
    from playwright.sync_api import sync_playwright

    from test_ui_browser import CHROMIUM_FLAGS, chromium

    html = report.read_text()
    assert "<script src" not in html and "<link" not in html  # everything inline
    shots = Path(os.environ.get("ADVISOR_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "plan"
    shots.mkdir(parents=True, exist_ok=True)
    requests, errors = [], []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        page = b.new_page(viewport={"width": 1280, "height": 3000})
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(report.as_uri())
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
        n = page.locator(".js-plotly-plot").count()
        page.screenshot(path=str(shots / shot), full_page=True)
        b.close()
    assert requests == [report.as_uri()]
    assert errors == []
    return n


def test_the_report_loads_offline_in_chromium_with_its_charts(cli, tmp_path):
    out, plan = _plan(cli, tmp_path, "--ram", "4GB", "--lang", "sv", "--bandwidth", "30")
    assert _loads_offline(out / "report.html", "report.png") == 4  # Pareto, memory, memory and decode against context


def test_plan_bad_input_and_nothing_fits(cli, tmp_path):
    r = cli("plan", "--ram", "4GB")
    assert r.returncode == 2 and "--out" in r.stderr
    r = cli("plan", "--ram", "4GB", "--out", str(tmp_path / "p"), "--date", "June")
    assert r.returncode == 2 and "--date" in r.stderr and "Traceback" not in r.stderr
    r = cli("plan", "--ram", "0.1GB", "--out", str(tmp_path / "p"), "--format", "md")
    assert r.returncode == 3
    md = (tmp_path / "p" / "decision.md").read_text()
    assert "No option meets every requirement" in md and "`--ram" in md


FLEET = """title: Assistant across the device fleet
lang: sv
fleet:
  - {name: edge, hardware: raspberry-pi-5-8gb, count: 40}
  - {name: laptops, ram: 16GB, bandwidth: 60, count: 200, overrides: {context: 16K}}
  - {name: phones, hardware: pixel-8-8gb, count: 500}
"""


def test_a_fleet_is_one_decision_with_a_stack_per_class(cli, tmp_path, cat):
    spec = tmp_path / "fleet.yaml"
    spec.write_text(FLEET)
    out, plan = _plan(cli, tmp_path, "--spec", str(spec))
    f = plan["fleet"]
    names = [c["name"] for c in f["classes"]]
    assert names == ["edge", "laptops", "phones"] and f["summary"]["devices"] == 740
    for c in f["classes"]:
        x = c["chosen"]
        assert x["fits"] is True and x["memory_required_gb"] <= c["memory_gb"] * 0.9
        assert c["quality_given_up"] >= 0 and x["quality"] == c["best_quality"]
        files = {p.name for p in (out / "deploy" / c["name"]).iterdir()}
        assert {"requirements.yaml", "verify.sh"} <= files
        from advisor.requirements import build, parse_spec

        req = build(parse_spec((out / "deploy" / c["name"] / "requirements.yaml").read_text()))
        assert req.languages == ["sv"]
    laptops = next(c for c in f["classes"] if c["name"] == "laptops")
    assert laptops["chosen"]["context"] == 16384  # the class's override
    s = f["summary"]
    assert s["models"] == sorted({c["chosen"]["model"] for c in f["classes"]})
    assert s["download_gb"] == pytest.approx(sum(a["download_gb"] for a in s["artifacts"]), abs=1e-3)
    assert s["storage_gb"] == pytest.approx(sum(c["count"] * c["chosen"]["download_gb"] for c in f["classes"]), abs=0.01)
    assert s["weakest"]["class"] == min(f["classes"], key=lambda c: c["chosen"]["quality"])["name"]
    md = (out / "decision.md").read_text()
    assert "| class | devices |" in md and "Chosen option: \"each class its best stack\"" in md
    # one model for all: every class runs it, and the record says what each class gives up
    out2, std = _plan(cli, tmp_path / "std", "--spec", str(spec), "--standardise")
    g = std["fleet"]
    assert g["standard_model"] and {c["chosen"]["model"] for c in g["classes"]} == {g["standard_model"]}
    assert g["summary"]["models"] == [g["standard_model"]]
    for a, b in zip(f["classes"], g["classes"]):
        assert b["chosen"]["quality"] == pytest.approx(a["best_quality"] - b["quality_given_up"], abs=0.11)


@pytest.mark.parametrize("entry, field", [
    ("{name: a, hardware: raspberry-pi-5-8gb, count: 0}", "fleet[0].count"),
    ("{name: a, count: 2}", "fleet[0].hardware"),
    ("{name: a, hardware: nosuch}", "fleet a: --hardware"),
    ("{name: a, hardware: raspberry-pi-5-8gb, colour: red}", "fleet[0].colour"),
    ("{name: a, hardware: raspberry-pi-5-8gb, overrides: {flavour: 1}}", "fleet[0].overrides.flavour"),
])
def test_a_bad_fleet_entry_names_its_field(cli, tmp_path, entry, field):
    spec = tmp_path / "fleet.yaml"
    spec.write_text(f"fleet:\n  - {entry}\n")
    r = cli("plan", "--spec", str(spec), "--out", str(tmp_path / "p"))
    assert r.returncode == 2 and field in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = cli("plan", "--ram", "4GB", "--standardise", "--out", str(tmp_path / "p"))
    assert r.returncode == 2 and "--standardise" in r.stderr


def test_the_fleet_report_loads_offline_with_the_record_and_its_charts(cli, tmp_path):
    spec = tmp_path / "fleet.yaml"
    spec.write_text(FLEET)
    out, plan = _plan(cli, tmp_path, "--spec", str(spec))
    assert _loads_offline(out / "report.html", "fleet-report.png") == 2  # quality by class, memory by class
    page = (out / "report.html").read_text()
    md = (out / "decision.md").read_text()
    # the page is the record: every section and every class's stack, the table as a table
    for h in ("Context and Problem Statement", "Decision Drivers", "Considered Options", "Decision Outcome",
              "Consequences", "Confirmation", "Pros and Cons of the Options", "More Information"):
        assert f"## {h}" in md and f">{h}</h" in page
    assert "<table>" in page and page.count("<tr>") == 1 + len(plan["fleet"]["classes"])
    # the charts sit between the confirmation and the options' pros and cons, outside any block
    conf, charts, pros = (page.index(f">{h}</h") for h in ("Confirmation", "Charts", "Pros and Cons of the Options"))
    assert conf < charts < pros and "</pre>" in page[conf:charts] and "<pre" not in page[charts:pros]
    for c in plan["fleet"]["classes"]:
        assert f"deploy/{c['name']}/verify.sh" in page[conf:charts]
    for c in plan["fleet"]["classes"]:
        x = c["chosen"]
        assert f"#### {c['name']} ({c['count']} devices" in md
        assert f"{x['model']} {x['quantization_name']} on {x['runtime']}" in page


def test_a_quantized_kv_cache_fits_more_and_reaches_the_deploy_files(cli, tmp_path, cat):
    """--kv-cache q8_0: every stack is sized with that cache (so a stack that did not fit may), and each
    runtime's deploy file carries it in that runtime's own setting."""
    base = ("--ram", "4GB", "--lang", "sv", "--bandwidth", "30")
    f16 = json.loads(cli("recommend", *base, "--top", "5", "--format", "json").stdout)
    q8 = json.loads(cli("recommend", *base, "--top", "5", "--kv-cache", "q8_0", "--format", "json").stdout)
    a = {(r["model"], r["quantization"], r["runtime"]): r for r in f16["recommendations"]}
    same = [(r, a[k]) for r in q8["recommendations"] if (k := (r["model"], r["quantization"], r["runtime"])) in a]
    assert same
    for r, s in same:  # q8_0 blocks: 34 bytes per 32 elements against 64
        assert r["memory_breakdown_gb"]["kv_cache"] == pytest.approx(s["memory_breakdown_gb"]["kv_cache"] * 34 / 64,
                                                                      rel=0.02)
    assert q8["recommendations"][0]["quality"] >= f16["recommendations"][0]["quality"]
    # a stack rejected for memory with a 16-bit cache that a q8_0 cache lets in
    f16_fail = {(r["model"], r["quantization"], r["runtime"]) for r in json.loads(cli(
        "recommend", *base, "--top", "50", "--format", "json").stdout)["recommendations"]}
    q8_all = {(r["model"], r["quantization"], r["runtime"]) for r in json.loads(cli(
        "recommend", *base, "--top", "50", "--kv-cache", "q8_0", "--format", "json").stdout)["recommendations"]}
    assert q8_all - f16_fail

    out, plan = _plan(cli, tmp_path / "ollama", *CASES["ollama"], "--kv-cache", "q8_0")
    sh = (out / "deploy" / "ollama.sh").read_text()
    assert "export OLLAMA_KV_CACHE_TYPE=q8_0" in sh and "export OLLAMA_FLASH_ATTENTION=1" in sh
    assert plan["requirements"]["kv_cache"] == "q8_0"
    assert yaml.safe_load((out / "deploy" / "requirements.yaml").read_text())["kv_cache"] == "q8_0"
    out, plan = _plan(cli, tmp_path / "vllm", *CASES["vllm"], "--kv-cache", "q4_0")
    assert "--kv-cache-dtype fp8" in (out / "deploy" / "vllm.sh").read_text()
    c = plan["chosen"]  # vLLM has no 4-bit cache: sized at 8 bits (half the 16-bit cache), and the estimate says so
    est = json.loads(cli("estimate", c["model"], "--quant", c["quantization"], "--runtime", "vllm", "--gpu", "h100-sxm",
                         "--context", str(c["context"]), "--kv-cache", "q4_0", "--format", "json").stdout)
    est16 = json.loads(cli("estimate", c["model"], "--quant", c["quantization"], "--runtime", "vllm", "--gpu",
                           "h100-sxm", "--context", str(c["context"]), "--format", "json").stdout)
    assert est["memory_breakdown_gb"]["kv_cache"] == pytest.approx(est16["memory_breakdown_gb"]["kv_cache"] / 2, rel=0.01)
    assert c["memory_breakdown_gb"]["kv_cache"] == pytest.approx(est["memory_breakdown_gb"]["kv_cache"], rel=0.01)
    assert any("fp8" in n for n in est["assumptions"]), est["assumptions"]
    out, plan = _plan(cli, tmp_path / "f16", *CASES["ollama"])
    assert "OLLAMA_KV_CACHE_TYPE" not in (out / "deploy" / "ollama.sh").read_text()
