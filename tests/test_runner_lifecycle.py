"""A runner never outlives the command that started it, and shows its progress while it runs."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("gguf")
psutil = pytest.importorskip("psutil")

from advisor.kb import load_catalog  # noqa: E402
from profiling.synth import build, scaled  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    m = load_catalog().model("qwen3-0.6b")
    return build(scaled(m.architecture, layers=2, vocab=32000), "q8_0", directory=tmp_path_factory.mktemp("tiny"))


def _parent(model: str, **env) -> subprocess.Popen:
    code = textwrap.dedent(f"""
        from profiling.measure import RunSettings, run_gguf
        run_gguf({str(model)!r}, RunSettings(context=4096, prompt_tokens=64, gen_tokens=4000, repeats=200))
    """)
    # as from a terminal: Ctrl-C reaches it even when this test run was started in the background (a shell's
    # `cmd &` ignores SIGINT in what it starts, and the ignore would be inherited)
    return subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            text=True, env={**{k: v for k, v in os.environ.items() if not k.startswith("ADVISOR_")},
                                            "PYTHONPATH": ROOT, **env})


def _runner_of(parent: subprocess.Popen, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        kids = [c for c in psutil.Process(parent.pid).children() if "profiling.runner" in " ".join(c.cmdline())]
        if kids:
            return kids[0]
        time.sleep(0.1)
    raise AssertionError("the runner did not start")


def test_killed_parent_takes_its_runner_with_it(tiny):
    parent = _parent(tiny)
    runner = _runner_of(parent)
    time.sleep(1.0)
    assert runner.is_running()
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=10)
    gone, alive = psutil.wait_procs([runner], timeout=10)
    assert runner in gone and not alive, "the runner kept running after its parent was killed"


def _signals(pid: int) -> str:
    """The process's blocked and ignored signal masks (/proc), for a failure message."""
    try:
        return " ".join(x.strip() for x in open(f"/proc/{pid}/status") if x.startswith(("SigBlk", "SigIgn")))
    except OSError:
        return "no /proc"


def test_interrupted_parent_stops_its_runner(tiny):
    parent = _parent(tiny)
    runner = _runner_of(parent)
    time.sleep(1.0)
    masks = _signals(parent.pid)
    parent.send_signal(signal.SIGINT)  # Ctrl-C
    try:
        _, err = parent.communicate(timeout=20)  # read its output meanwhile: a full pipe must not hold it
    except subprocess.TimeoutExpired:
        parent.kill()
        _, err = parent.communicate()
        pytest.fail(f"the parent did not stop on SIGINT ({masks}); its stderr: {err[-1500:]}")
    gone, alive = psutil.wait_procs([runner], timeout=10)
    assert not alive


def test_progress_lines_while_running(tiny):
    parent = _parent(tiny, ADVISOR_PROGRESS="1")
    _runner_of(parent)
    lines = []
    end = time.monotonic() + 60
    while time.monotonic() < end and not any(" decode " in x for x in lines):
        lines.append(parent.stderr.readline())
    parent.kill()
    parent.wait(timeout=10)
    text = "".join(lines)
    assert " load " in text and " decode " in text and "tokens" in text, text[-2000:]
