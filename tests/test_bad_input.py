"""The bad-input battery: every command and every requirement flag. Bad input exits 2 with a message that names
the field and the accepted form; never a traceback, never a silent "nothing fits" (exit 3) or a fallback.

The commands run in this process through click's test runner (the same `main` the `advisor` entry point
calls), so the battery of ~130 cases stays fast; a few cases also run as real processes (`test_real_process`)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from advisor.cli import main

# (flag args, the field the message must name); every one is checked on recommend, why and verify
REQUIREMENT_CASES = [
    (["--ram", "0GB"], "--ram"),
    (["--ram", "0"], "--ram"),
    (["--ram", "10MB"], "--ram"),
    (["--ram", "lots"], "--ram"),
    (["--ram", "4XB"], "--ram"),
    (["--vram", "-8GB"], "--vram"),
    (["--vram", "0GB"], "--vram"),
    (["--hardware", "nosuch"], "--hardware"),
    (["--hardware", "raspberry-pi-5-8gb", "--ram", "4GB"], "--hardware"),
    (["--gpu", "nosuch"], "--gpu"),
    (["--bandwidth", "-5"], "--bandwidth"),
    (["--bandwidth", "fast"], "--bandwidth"),
    (["--tflops", "0"], "--tflops"),
    (["--lang", "xx"], "--lang"),
    (["--lang", "klingon"], "--lang"),
    (["--modality", "smell"], "--modality"),
    (["--task", "dance"], "--task"),
    (["--context", "0"], "--context"),
    (["--context", "lots"], "--context"),
    (["--min-tps", "-1"], "--min-tps"),
    (["--min-tps", "fast"], "--min-tps"),
    (["--max-ttft-ms", "soon"], "--max-ttft-ms"),
    (["--prompt-tokens", "0"], "--prompt-tokens"),
    (["--license", "gpl"], "--license"),
    (["--license", "nosuch"], "--license"),
    (["--platform", "beos"], "--platform"),
    (["--runtime", "nosuch"], "--runtime"),
    (["--runtime", "llama.cpp,foo"], "--runtime"),
    (["--max-download-gb", "-1"], "--max-download-gb"),
    (["--max-download-gb", "big"], "--max-download-gb"),
    (["--headroom", "2"], "--headroom"),
    (["--headroom", "lots"], "--headroom"),
    (["--prefer", "cheap"], "--prefer"),
    (["--top", "0"], "--top"),
    (["--top", "many"], "--top"),
    (["--spec", "/nonexistent/spec.yaml"], "--spec"),
    (["--as-of", "yesterday"], "--as-of"),
    (["--as-of", "2026-13-01"], "--as-of"),
    (["--kv-cache", "q5"], "--kv-cache"),
]

REQUIREMENT_COMMANDS = {
    "recommend": ["recommend"],
    "why": ["why", "qwen3-0.6b"],
    "verify": ["verify", "--synthetic"],
}

OTHER_CASES = [
    (["why", "nosuch", "--ram", "4GB"], "MODEL"),
    (["show", "nosuch"], "MODEL"),
    (["catalog", "--family", "nosuch"], "--family"),
    (["catalog", "--format", "xml"], "--format"),
    (["estimate", "nosuch"], "MODEL"),
    (["estimate", "qwen3-0.6b", "--quant", "nosuch"], "--quant"),
    (["estimate", "qwen3-0.6b", "--quant", "mlx_4bit"], "--quant"),
    (["estimate", "qwen3-0.6b", "--runtime", "nosuch"], "--runtime"),
    (["estimate", "qwen3-0.6b", "--context", "0"], "--context"),
    (["estimate", "qwen3-0.6b", "--prompt-tokens", "x"], "--prompt-tokens"),
    (["estimate", "qwen3-0.6b", "--ram", "0GB"], "--ram"),
    (["estimate", "qwen3-0.6b", "--vram", "1KB"], "--vram"),
    (["estimate", "qwen3-0.6b", "--hardware", "nosuch"], "--hardware"),
    (["estimate", "qwen3-0.6b", "--gpu", "nosuch"], "--gpu"),
    (["estimate", "qwen3-0.6b", "--bandwidth", "-1"], "--bandwidth"),
    (["estimate", "qwen3-0.6b", "--tflops", "-1"], "--tflops"),
    (["estimate", "qwen3-0.6b", "--kv-cache", "q9"], "--kv-cache"),
    (["profile", "nosuch", "--synthetic"], "MODEL"),
    (["profile", "qwen3-0.6b", "--quant", "awq_int4", "--synthetic"], "--quant"),
    (["profile", "qwen3-0.6b", "--runtime", "vllm", "--synthetic"], "--runtime"),
    (["profile", "qwen3-0.6b", "--context", "0", "--synthetic"], "--context"),
    (["profile", "qwen3-0.6b", "--gen-tokens", "x", "--synthetic"], "--gen-tokens"),
    (["profile", "qwen3-0.6b", "--synthetic", "--file", "x.gguf"], "--file"),
    (["profile", "qwen3-0.6b", "--file", "/nonexistent.gguf"], "--file"),
    (["profile", "qwen3-0.6b", "--repeats", "0", "--synthetic"], "--repeats"),
    (["profile", "qwen3-0.6b", "--context", "256", "--prompt-tokens", "512", "--synthetic"], "--prompt-tokens"),
    (["profiles", "show", "nosuch"], "PROFILE"),
    (["profiles", "rm", "nosuch"], "PROFILE"),
    (["hardware", "gpus", "--format", "xml"], "--format"),
    (["kb", "validate", "--root", "/nonexistent-knowledge"], "--root"),
    (["runtime", "list", "--format", "xml"], "--format"),
    (["quantization", "list", "--format", "xml"], "--format"),
]


@pytest.fixture
def run(tmp_path_factory, monkeypatch):
    # one cache folder for the whole battery (inside the test session's temp tree), so the catalog is read once
    cache = tmp_path_factory.getbasetemp() / "bad-input-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    runner = CliRunner()

    def _run(args):
        return runner.invoke(main, args, catch_exceptions=True)

    return _run


def _check(res, args, field):
    out = res.output + (getattr(res, "stderr", "") or "")
    assert res.exit_code == 2, f"{args}: exit {res.exit_code}, output:\n{out}\nexception: {res.exception!r}"
    assert "Traceback" not in out and not isinstance(res.exception, (KeyError, TypeError, ValueError, AttributeError))
    assert field in out, f"{args}: the message does not name {field}:\n{out}"


@pytest.mark.parametrize("command", sorted(REQUIREMENT_COMMANDS))
@pytest.mark.parametrize("args,field", REQUIREMENT_CASES, ids=[" ".join(a) for a, _ in REQUIREMENT_CASES])
def test_every_requirement_flag_on_every_requirement_command(run, command, args, field):
    full = REQUIREMENT_COMMANDS[command] + args
    res = run(full)
    _check(res, full, field)
    if command == "recommend":  # our own messages also say what is accepted (click's own usage errors differ)
        out = res.output
        assert "accepted" in out or "Invalid value" in out or "Usage" in out, out


@pytest.mark.parametrize("args,field", OTHER_CASES, ids=[" ".join(a) for a, _ in OTHER_CASES])
def test_every_other_command(run, args, field):
    _check(run(args), args, field)


def test_zero_download_is_a_valid_limit_not_bad_input(run):
    res = run(["recommend", "--ram", "4GB", "--max-download-gb", "0", "--format", "json"])
    assert res.exit_code in (0, 3), res.output  # a limit that may leave nothing: exit 3, never 2


def test_ram_beside_vram_is_kept_as_the_system_ram(run):
    import json

    res = run(["recommend", "--ram", "4GB", "--vram", "8GB", "--format", "json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert any("--ram 4GB with a GPU" in n for n in d["notes"]), d["notes"]


def test_real_process(cli):
    """The same contract through the installed entry point (a new process): exit 2, no traceback."""
    for args, field in ((["recommend", "--runtime", "foo"], "--runtime"), (["recommend", "--ram", "0GB"], "--ram"),
                        (["profile", "qwen3-0.6b", "--file", __file__], "--file")):
        r = cli(*args)
        assert r.returncode == 2 and field in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
