"""The Streamlit app through streamlit.testing.v1.AppTest: the real script, widgets found by key."""

import json

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from conftest import ROOT

APP = str(ROOT / "app.py")
TIMEOUT = 120


def app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def custom(at: AppTest, **values) -> AppTest:
    at.radio(key="req_hw_mode").set_value("custom").run()
    for key, v in values.items():
        widget = next(x for x in at.sidebar if getattr(x, "key", None) == key)
        widget.set_value(v)
    return at.run()


def ranked(at: AppTest):
    return next(d for d in at.dataframe if "of budget" in d.value.columns).value


def pareto_points(at: AppTest, axis="memory") -> dict:
    chart = next(c for c in at.get("plotly_chart") if '"Pareto front"' in c.proto.spec or "quality" in c.proto.spec
                 and "T-score" in c.proto.spec)
    fig = json.loads(chart.proto.spec)
    return fig


def top_pick(at: AppTest) -> str:
    return next(s.value for s in at.subheader if s.value.startswith("Top pick: "))


def test_default_page_renders(cat):
    at = ok(app())
    assert top_pick(at)
    assert at.dataframe and at.get("plotly_chart")
    # every page renders without an exception on the default requirements
    for page in ("ui/why.py", "ui/compare.py", "ui/catalog.py", "ui/profiles.py"):
        ok(at.switch_page(page).run())


def test_ram_2gb_changes_the_recommendations_and_every_shown_stack_fits(cat):
    at = ok(custom(app(), req_ram=16.0))
    big = ranked(at)
    at = ok(custom(at, req_ram=2.0))
    small = ranked(at)
    assert list(small["model"]) != list(big["model"])
    assert (small["memory"] <= 2.0 * 0.9).all()
    fig = pareto_points(at)
    feasible = [t for t in fig["data"] if t.get("mode") == "markers" and t["name"] != "rejected"]
    assert all(x <= 1.8 for t in feasible for x in t["x"])


def test_swedish_on_4gb_shows_the_cli_top_pick(cli, cat):
    r = cli("recommend", "--ram", "4GB", "--lang", "sv", "--format", "json")
    want = json.loads(r.stdout)["recommendations"][0]
    at = app()
    at.radio(key="req_hw_mode").set_value("custom").run()
    at.number_input(key="req_ram").set_value(4.0)
    at.multiselect(key="req_lang").select("sv")
    ok(at.run())
    assert top_pick(at) == f"Top pick: {want['model']} {want['quantization_name']} on {want['runtime']} ({want['backend']})"
    # the URL carries the requirements: a pasted link gives the same page
    assert at.query_params["ram"] == "4GB" and at.query_params["languages"] == "sv"
    again = ok(app(ram="4GB", languages="sv"))
    assert top_pick(again) == top_pick(at)
    assert again.number_input(key="req_ram").value == 4.0 and again.multiselect(key="req_lang").value == ["sv"]


def test_language_search_finds_a_name_in_english_and_in_the_language():
    at = app()
    labels = at.multiselect(key="req_lang").options
    assert any("Swedish" in x and "svenska" in x and x.startswith("sv") for x in labels)


def test_impossible_requirements_offer_relaxations_that_work(cat):
    at = ok(app(ram="1GB", languages="sv", lang_strict="True", min_tps="30"))
    assert not any(s.value.startswith("Top pick") for s in at.subheader)
    assert any("Nothing fits" in w.value for w in at.warning)
    buttons = [b for b in at.button if (b.key or "").startswith("relax_")]
    assert buttons
    ram = next(b for b in buttons if b.label.startswith("--ram"))
    ram.click()
    ok(at.run())
    assert top_pick(at)
    assert at.radio(key="req_hw_mode").value == "custom" and at.number_input(key="req_ram").value > 1.0


def test_catalog_filter_narrows_the_table(cat):
    at = app()
    at.switch_page("ui/catalog.py").run()
    before = len(at.dataframe[0].value)
    assert before == len(cat.models)
    at.multiselect(key="cat_family").select("gemma")
    ok(at.run())
    rows = at.dataframe[0].value
    assert 0 < len(rows) < before and set(rows["family"]) == {"gemma"}
    at.text_input(key="cat_search").input("3n")
    ok(at.run())
    assert set(at.dataframe[0].value["id"]) == {i for i, m in cat.models.items() if m.family == "gemma" and "3n" in i}
    # a model's view: every fact with its source, and the sources as links
    at.selectbox(key="cat_model").set_value("gemma-3n-e4b-it")
    ok(at.run())
    facts = next(d.value for d in at.dataframe if "field" in d.value.columns and "source" in d.value.columns)
    assert len(facts) > 10 and (facts["source"] != "").all()


def test_a_malformed_uploaded_spec_shows_an_error_naming_the_field():
    at = app()
    at.file_uploader(key="spec_upload").upload("bad.yaml", b"ram: [unclosed", "application/yaml")
    at.run()
    assert not at.exception
    assert any("--spec" in e.value and "not valid YAML" in e.value for e in at.error)
    at = app()
    at.file_uploader(key="spec_upload").upload("bad.yaml", b"ram: 4GB\ncontext: lots\n", "application/yaml")
    at.run()
    assert any("--context" in e.value and "8K" in e.value for e in at.error)


def test_an_uploaded_spec_fills_the_sidebar_and_the_exported_spec_reads_back(cli, tmp_path):
    spec = b"ram: 6GB\nlanguages: [de]\ntasks: [code]\ncontext: 16K\nprefer: speed\n"
    at = app()
    at.file_uploader(key="spec_upload").upload("mine.yaml", spec, "application/yaml")
    ok(at.run())
    assert at.number_input(key="req_ram").value == 6.0 and at.multiselect(key="req_task").value == ["code"]
    assert at.select_slider(key="req_context").value == 16384 and at.radio(key="req_prefer").value == "speed"
    exported = next(c.value for c in at.code if c.value.startswith("# advisor recommend --spec"))
    f = tmp_path / "req.yaml"
    f.write_text(exported)
    assert yaml.safe_load(exported) == {"ram": "6GB", "languages": ["de"], "tasks": ["code"], "context": 16384,
                                        "prefer": "speed"}
    r = cli("recommend", "--spec", str(f), "--format", "json")
    assert top_pick(at).startswith(f"Top pick: {json.loads(r.stdout)['recommendations'][0]['model']} ")


def test_the_pareto_chart_has_one_point_per_feasible_stack(cat):
    from advisor.api import resolve
    from advisor.report import recommend_report

    at = ok(app(ram="4GB"))
    fig = pareto_points(at)
    pts = [(x, y) for t in fig["data"] if t.get("mode") == "markers" and t["name"] != "rejected"
           for x, y in zip(t["x"], t["y"])]
    req, spec = resolve(cat, {"ram_gb": "4GB"})
    stacks = recommend_report(cat, req, spec, include_stacks=True)["stacks"]
    feasible = [s for s in stacks if s["feasible"]]
    assert len(pts) == len(feasible) > 20
    front = next(t for t in fig["data"] if t["name"] == "Pareto front")
    assert len(front["x"]) == sum(s["pareto_memory"] for s in feasible) >= 2
    # rejected stacks, in grey, on request
    at.toggle(key="pareto_rejected").set_value(True)
    ok(at.run())
    grey = next(t for t in pareto_points(at)["data"] if t["name"] == "rejected")
    assert len(grey["x"]) == sum(1 for s in stacks if not s["feasible"] and s["memory_required_gb"] is not None)


def test_why_and_compare_pages_show_the_cli_figures(cli, cat):
    at = app(ram="4GB")
    at.switch_page("ui/why.py").run()
    at.selectbox(key="why_model").set_value("qwen3-8b")
    ok(at.run())
    want = json.loads(cli("why", "qwen3-8b", "--ram", "4GB", "--format", "json").stdout)
    assert any(s.value == f"qwen3-8b: {want['verdict']}" for s in at.subheader)
    assert [m.value for m in at.markdown if m.value.startswith("- ")][:len(want["why"])] == [f"- {w}" for w in want["why"]]
    at.switch_page("ui/compare.py").run()
    ok(at)
    assert len(at.multiselect(key="compare_stacks").value) == 2
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 3  # memory parts, memory against context, decode against context
    mem_ctx = charts[1]
    assert len([t for t in mem_ctx["data"] if t.get("mode") == "lines+markers"]) == 2


def test_bad_sidebar_values_show_an_error_not_a_traceback():
    at = app(runtimes="nosuch")
    assert not at.exception
    assert any("--runtime" in e.value for e in at.error)
    at = ok(app(hardware="pixel-8-8gb", modalities="audio"))
    assert top_pick(at).startswith("Top pick: gemma-3n")  # the phone default context and litert-lm, as the CLI


def test_profile_a_chosen_stack_and_see_pass_fail(cat, monkeypatch, tmp_path):
    pytest.importorskip("llama_cpp")
    monkeypatch.setenv("ADVISOR_SYNTH_CACHE", str(tmp_path / "synth"))
    at = app(ram="1GB", context="2048", prompt_tokens="128", runtimes="llama.cpp")
    at.switch_page("ui/profiles.py").run()
    ok(at)
    assert at.get("plotly_chart")
    stack = at.selectbox(key="verify_stack").value
    assert stack
    at.number_input(key="verify_gen").set_value(16)
    at.button(key="verify_run").click()
    ok(at.run(timeout=600))
    checks = next(d.value for d in at.dataframe if "result" in d.value.columns)
    assert list(checks["check"]) == ["memory", "decode speed", "time to first token"]
    assert checks.set_index("check").loc["memory", "result"] == "PASS"
    assert any(s.value == "PASS" for s in at.success)


def test_without_the_profile_extra_the_page_names_the_install_command(monkeypatch):
    """The profile extra (llama-cpp-python, gguf) absent: the page says which install adds it, and the rest of
    the page still works."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("llama_cpp", "gguf") else real(name, *a))
    at = app(ram="4GB")
    at.switch_page("ui/profiles.py").run()
    ok(at)
    assert any("pip install -e '.[profile]'" in i.value for i in at.info)
    assert not [b for b in at.button if b.key == "verify_run"]
    assert at.get("plotly_chart")


def test_users_at_once_size_a_kv_cache_each_and_travel_in_the_link(cli, cat):
    at = ok(custom(app(), req_ram=16.0, req_bandwidth=30.0))
    one = ranked(at)
    at.number_input(key="req_users").set_value(4)
    four = ranked(ok(at.run()))
    assert at.query_params["concurrent_users"] == "4"
    r = json.loads(cli("recommend", "--ram", "16GB", "--bandwidth", "30", "--concurrent-users", "4", "--format",
                       "json").stdout)["recommendations"][0]
    assert top_pick(at) == f"Top pick: {r['model']} {r['quantization_name']} on {r['runtime']} ({r['backend']})"
    assert list(four["model"]) != list(one["model"]) or (four["memory"].values > one["memory"].values).all()
    again = ok(app(ram="16GB", bandwidth_gbps="30", concurrent_users="4"))
    assert again.number_input(key="req_users").value == 4 and top_pick(again) == top_pick(at)


def test_gpus_and_a_request_rate_match_the_cli_and_travel_in_the_link(cli, cat):
    """Custom hardware with several GPUs (--gpus) and an arrival rate (--requests-per-s): the same top pick as
    the CLI, and the link restores both."""
    at = ok(custom(app(), req_gpu="h100-sxm", req_gpus=4))
    at.number_input(key="req_rate").set_value(5.0)
    at.number_input(key="req_output_tokens").set_value(512)
    ok(at.run())
    assert at.query_params["gpus"] == "4" and at.query_params["requests_per_s"] == "5.0"
    assert at.query_params["output_tokens"] == "512"
    r = json.loads(cli("recommend", "--gpu", "h100-sxm", "--gpus", "4", "--requests-per-s", "5", "--output-tokens",
                       "512", "--format", "json").stdout)["recommendations"][0]
    assert r["serving"]["requests_per_s"] == 5
    assert top_pick(at) == f"Top pick: {r['model']} {r['quantization_name']} on {r['runtime']} ({r['backend']})"
    again = ok(app(gpu="h100-sxm", gpus="4", requests_per_s="5", output_tokens="512"))
    assert again.number_input(key="req_gpus").value == 4 and again.number_input(key="req_rate").value == 5.0
    assert top_pick(again) == top_pick(at)
