"""The generated llama.cpp deploy really serves: the `llama-server` settings of a plan's deploy/llama-server.sh,
run by llama-cpp-python's OpenAI-compatible server (the same llama.cpp engine) on a random-weight GGUF with the
pick's exact shapes, answer one chat completion on a local port."""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")

# llama-server flag -> llama-cpp-python server option (llama_cpp/server/settings.py: the same llama.cpp context
# parameters under their Python names)
FLAGS = {"-m": "--model", "-c": "--n_ctx", "-t": "--n_threads", "-ngl": "--n_gpu_layers", "--host": "--host",
         "--port": "--port"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_generated_llama_server_settings_serve_a_chat_completion(cli, tmp_path, cat, monkeypatch):
    pytest.importorskip("fastapi")  # llama-cpp-python[server], part of the profile extra
    monkeypatch.setenv("ADVISOR_SYNTH_CACHE", str(tmp_path / "synth"))
    out = tmp_path / "plan"
    r = cli("plan", "--ram", "1GB", "--context", "2048", "--runtime", "llama.cpp", "--bandwidth", "30",
            "--out", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)["chosen"]
    line = next(x for x in (out / "deploy" / "llama-server.sh").read_text().splitlines() if x.startswith("llama-server "))
    words = shlex.split(line)[1:]
    flags = dict(zip(words[::2], words[1::2]))
    assert flags["-np"] == "1" and int(flags["-c"]) == c["context"]
    assert set(flags) - {"-np"} <= set(FLAGS), set(flags) - set(FLAGS)

    from profiling.synth import build

    gguf = build(cat.model(c["model"]).architecture, c["quantization"])
    port = free_port()
    flags.update({"-m": str(gguf), "--port": str(port)})  # the synthetic file in place of the downloaded one
    args = [a for k, v in flags.items() if k in FLAGS for a in (FLAGS[k], v)]
    log = open(tmp_path / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", *args, "--chat_format", "chatml"],
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    try:
        url = f"http://{flags['--host']}:{port}"
        for _ in range(1200):
            try:
                models = json.load(urllib.request.urlopen(url + "/v1/models", timeout=1))
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start: " + (tmp_path / "server.log").read_text()[-3000:])
        assert models["data"]
        body = json.dumps({"messages": [{"role": "user", "content": "Hej!"}], "max_tokens": 4}).encode()
        req = urllib.request.Request(url + "/v1/chat/completions", body, {"Content-Type": "application/json"})
        reply = json.load(urllib.request.urlopen(req, timeout=120))
        assert reply["object"] == "chat.completion"
        assert reply["usage"]["completion_tokens"] >= 1 and reply["choices"][0]["message"]["role"] == "assistant"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    text = (tmp_path / "server.log").read_text()
    # the engine ran with the plan's context as one sequence (-np 1)
    assert re.search(rf"n_ctx_seq\s+= {c['context']}\b", text) and re.search(r"n_seq_max\s+= 1\b", text)
