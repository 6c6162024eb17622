"""`python -m benchmarks.bench_sampler` runs llama.cpp's real sampler chains (llama-cpp-python) and reports a
per-vocabulary-entry cost for each; the figures themselves are the benchmark's, not checked here."""

import json


def test_bench_sampler_reports_both_chains(tmp_path, capsys):
    from benchmarks import bench_sampler

    out = tmp_path / "sampler.json"
    bench_sampler.main(["--repeats", "5", "--json", str(out)])
    res = json.loads(out.read_text())
    chains = res["chains"]
    assert set(chains) == {"ollama-penalty", "server-default"}
    for c in chains.values():
        assert set(map(int, c["sizes"])) == set(bench_sampler.VOCABS)
        assert all(r["min_ms"] <= r["median_ms"] <= r["max_ms"] for r in c["sizes"].values())
        assert c["ns_per_entry"] > 0
    # the penalty visits every candidate through a hash map: several times the plain chain at any size
    assert chains["ollama-penalty"]["ns_per_entry"] > 2 * chains["server-default"]["ns_per_entry"]
    assert "ns per vocabulary entry" in capsys.readouterr().out


def test_slope_of_a_line():
    from benchmarks.bench_sampler import slope_ns

    ns, us = slope_ns([(1000, 2e-6 + 1000 * 3e-9), (5000, 2e-6 + 5000 * 3e-9), (9000, 2e-6 + 9000 * 3e-9)])
    assert abs(ns - 3.0) < 1e-9 and abs(us - 2.0) < 1e-6
