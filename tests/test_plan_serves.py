"""The generated llama.cpp deploy really serves, on llama.cpp's own `llama-server` built from the llama.cpp that
the installed llama-cpp-python pins (tools/build_llama_server.sh, part of the README's test command):

- every flag of every generated deploy/llama-server.sh is one that build's --help lists, with a value it allows;
- the generated command itself, with a random-weight GGUF of the pick's exact shapes in place of the downloaded
  file and a free port, answers one chat completion, and its log shows the plan's context in one slot."""

from __future__ import annotations

import json
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from test_plan import CASES

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

SERVER = Path(sys.executable).parent / "llama-server"


def server() -> Path:
    assert SERVER.is_file(), (f"{SERVER} is missing: build it with tools/build_llama_server.sh (the README's test "
                              "command does)")
    return SERVER


def accepted_flags() -> tuple[set[str], dict[str, set[str]]]:
    """(every option the build's --help lists, the allowed values of the options that list them)."""
    text = subprocess.run([str(server()), "--help"], capture_output=True, text=True, timeout=60).stdout
    flags: set[str] = set()
    values: dict[str, set[str]] = {}
    last: list[str] = []
    for line in text.splitlines():
        if line.startswith("-"):
            # the options fill the first 40 columns, the description follows (or starts on the next line)
            head = line[:40] if len(line) > 40 and line[38:40] == "  " else line
            last = [w.split()[0] for w in head.split(",") if re.match(r"\s*-{1,2}[A-Za-z]", w)]
            flags.update(last)
            m = re.search(r"\[([a-z|]+)\]", head)  # -fa, --flash-attn [on|off|auto]
            if m:
                values.update({f: set(m.group(1).split("|")) for f in last})
        m = re.search(r"allowed values: ([\w, ]+)", line)
        if m and last:
            values.update({f: {v.strip() for v in m.group(1).split(",")} for f in last})
    return flags, values


def server_line(sh: Path) -> list[str]:
    line = next(x for x in sh.read_text().splitlines() if x.startswith("llama-server "))
    return shlex.split(line)[1:]


def _plan(cli, out: Path, *args) -> dict:
    r = cli("plan", *args, "--out", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


PLANS = {
    "cpu": CASES["llama.cpp"],
    "kv-q8_0": (*CASES["llama.cpp"], "--kv-cache", "q8_0"),
    "kv-q4_0": ("--ram", "2GB", "--kv-cache", "q4_0", "--bandwidth", "30", "--runtime", "llama.cpp"),
    "gpu": ("--gpu", "rtx-3060-12gb", "--runtime", "llama.cpp", "--context", "16K"),
    "users-3": (*CASES["llama.cpp"], "--concurrent-users", "3"),
}


@pytest.mark.parametrize("case", sorted(PLANS))
def test_every_generated_flag_is_one_the_pinned_llama_server_accepts(cli, tmp_path, case):
    flags, values = accepted_flags()
    assert {"-m", "-c", "-t", "-ngl", "-np", "--host", "--port", "--cache-type-k", "-fa"} <= flags  # the parse worked
    plan = _plan(cli, tmp_path / "plan", *PLANS[case])
    words = server_line(tmp_path / "plan" / "deploy" / "llama-server.sh")
    pairs = dict(zip(words[::2], words[1::2]))
    assert all(w.startswith("-") for w in words[::2]) and len(words) % 2 == 0, words
    assert set(pairs) <= flags, set(pairs) - flags
    for f, v in pairs.items():
        if f in values:
            assert v in values[f], (f, v, values[f])
    kv = plan["requirements"].get("kv_cache", "f16")
    assert pairs.get("--cache-type-k", "f16") == pairs.get("--cache-type-v", "f16") == kv
    assert ("-fa" in pairs) == (kv != "f16")
    users = plan["requirements"].get("concurrent_users", 1)
    # one slot per user, each with the plan's context (llama-server splits -c across its slots)
    assert int(pairs["-c"]) == users * plan["chosen"]["context"] and pairs["-np"] == str(users)
    assert int(pairs["-ngl"]) == (plan["chosen"].get("gpu_layers") if plan["chosen"].get("gpu_layers") is not None
                                  else (0 if plan["chosen"]["backend"] == "cpu" else 99))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("users", [1, 2])
def test_the_generated_llama_server_command_serves_a_chat_completion(cli, tmp_path, cat, monkeypatch, users):
    monkeypatch.setenv("ADVISOR_SYNTH_CACHE", str(tmp_path / "synth"))
    plan = _plan(cli, tmp_path / "plan", "--ram", "1GB", "--context", "2048", "--runtime", "llama.cpp",
                 "--bandwidth", "30", "--kv-cache", "q8_0", "--concurrent-users", str(users))
    c = plan["chosen"]
    words = server_line(tmp_path / "plan" / "deploy" / "llama-server.sh")

    from profiling.synth import build

    gguf = build(cat.model(c["model"]).architecture, c["quantization"])
    port = free_port()
    # the generated command word for word, with the synthetic file in place of the downloaded one and a free port
    args = [str(gguf) if prev == "-m" else str(port) if prev == "--port" else w
            for prev, w in zip([""] + words, words)]
    log_path = tmp_path / "server.log"
    log = open(log_path, "w")
    # -lv 4: libllama's own lines too (the KV cache's types), a log setting, not the plan's
    proc = subprocess.Popen([str(server()), *args, "-lv", "4"], stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(1200):
            try:
                health = json.load(urllib.request.urlopen(url + "/health", timeout=1))
                if health.get("status") == "ok":
                    break
            except OSError:
                pass
            assert proc.poll() is None, log_path.read_text()[-3000:]
            time.sleep(0.1)
        else:
            pytest.fail("the server did not start: " + log_path.read_text()[-3000:])
        body = json.dumps({"messages": [{"role": "user", "content": "Hej!"}], "max_tokens": 4}).encode()
        req = urllib.request.Request(url + "/v1/chat/completions", body, {"Content-Type": "application/json"})
        reply = json.load(urllib.request.urlopen(req, timeout=120))
        assert reply["object"] == "chat.completion"
        assert reply["usage"]["completion_tokens"] >= 1 and reply["choices"][0]["message"]["role"] == "assistant"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    text = log_path.read_text()
    # the engine ran one slot per user, each with the plan's context, and the KV cache in the type the estimate assumed
    assert re.search(rf"n_slots = {users}, n_ctx_slot = {c['context']}\b", text), text[-3000:]
    assert re.search(r"llama_kv_cache: .*K \(q8_0\).*V \(q8_0\)", text), text[-3000:]
