"""Fleet verification on a device lab scheduled by real Ray: a local Ray cluster on this machine (`ray.init` with
custom resources standing for two device classes) verifies each class with random-weight GGUFs of its pick's
shapes, the profiles come back to the asking store, a class no node offers is reported unverified, and a worker
killed mid-run is rerun by Ray without losing what was stored."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest
import ray

from advisor.plan.fleet import parse_fleet
from advisor.store import load_profiles
from profiling import lab

FLEET = [
    {"name": "small", "ram": "1.2GB", "count": 30, "overrides": {"context": 1024}},
    {"name": "tiny", "ram": "0.8GB", "count": 10, "overrides": {"context": 512}},
    {"name": "phones", "hardware": "pixel-8-8gb", "count": 500},
]


@pytest.fixture(scope="module")
def cluster():
    # two device classes on this one node (the third, phones, has none); workers inherit this environment
    ray.init(num_cpus=2, resources={"device:small": 1, "device:tiny": 1}, include_dashboard=False,
             log_to_driver=False)
    yield ray.cluster_resources()
    ray.shutdown()


def _verify(tmp_path, **kw):
    return lab.verify_fleet(parse_fleet(FLEET), {"languages": []}, address=None, synthetic=True, gen_tokens=8,
                            repeats=1, fill=False, threads=1, profiles_dir=str(tmp_path / "store"), **kw)


def test_each_class_is_verified_on_its_node_and_its_profile_comes_back(cluster, tmp_path):
    assert cluster["device:small"] == 1 and "device:pixel-8-8gb" not in cluster
    rep = _verify(tmp_path)
    rows = {r["class"]: r for r in rep["classes"]}
    for name in ("small", "tiny"):
        r = rows[name]
        assert r["status"] == "verified", r
        assert r["resource"] == f"device:{name}" and r["node"]
        assert {c["check"] for c in r["checks"]} >= {"memory", "decode speed"}
        assert len(r["profiles"]) == 1 and os.path.isfile(r["profiles"][0])
        assert r["profiles"][0].startswith(str(tmp_path / "store"))
    # the profiles are in the asking machine's store, one per class, of each class's pick
    stored = load_profiles(str(tmp_path / "store"))
    assert sorted((p.model, p.context) for p in stored) == sorted(
        (rows[n]["pick"]["model"], rows[n]["pick"]["context"]) for n in ("small", "tiny"))
    # the class no node offers is reported, not skipped
    ph = rows["phones"]
    assert ph["status"] == "unverified" and "device:pixel-8-8gb" in ph["error"] and not ph["profiles"]
    assert rep["unverified"] == ["phones"] and rep["ok"] is False and rep["verified"] == 2


def _workers(name: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if cmd.startswith("ray::") and name in cmd:
            out.append(p)
    return out


def test_a_worker_killed_mid_run_is_rerun_and_nothing_stored_is_lost(cluster, tmp_path):
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(rep=_verify(tmp_path, retries=2)))
    t.start()
    killed = None
    deadline = time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and t.is_alive():
        for p in _workers("advisor-verify-"):
            try:
                p.send_signal(signal.SIGKILL)  # the worker running one class's verification dies
                killed = p.pid
                break
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.2)
    t.join(timeout=900)
    assert killed is not None, "no verification worker was seen running"
    rep = result["rep"]
    rows = {r["class"]: r for r in rep["classes"]}
    # Ray reran the killed class on a node of its class; both classes end verified, one profile each
    assert rows["small"]["status"] == rows["tiny"]["status"] == "verified", rows
    stored = load_profiles(str(tmp_path / "store"))
    assert len(stored) == 2
    assert rows["phones"]["status"] == "unverified"


def test_with_no_retries_a_killed_class_is_reported_failed_and_the_other_kept(cluster, tmp_path):
    result: dict = {}
    t = threading.Thread(target=lambda: result.update(rep=_verify(tmp_path, retries=0)))
    t.start()
    killed = []
    deadline = time.monotonic() + 300
    while not killed and time.monotonic() < deadline and t.is_alive():
        ps = _workers("advisor-verify-")
        if ps:
            ps[0].send_signal(signal.SIGKILL)
            killed.append(ps[0].pid)
        time.sleep(0.2)
    t.join(timeout=900)
    assert killed
    rep = result["rep"]
    failed = [r for r in rep["classes"] if r["status"] == "failed"]
    done = [r for r in rep["classes"] if r["status"] == "verified"]
    assert len(failed) == 1 and failed[0]["error"] and not failed[0]["profiles"]
    assert len(done) == 1 and len(load_profiles(str(tmp_path / "store"))) == 1
    assert rep["failed"] == [failed[0]["class"]]


def test_join_command_and_bad_input(cli):
    r = cli("lab", "join", "--address", "10.0.0.5:6379", "--hardware", "raspberry-pi-5-8gb")
    assert r.returncode == 0
    assert r.stdout.strip() == """ray start --address=10.0.0.5:6379 '--resources={"device:raspberry-pi-5-8gb": 1}'"""
    r = cli("lab", "join", "--address", "h:1", "--hardware", "nosuch")
    assert r.returncode == 2 and "--hardware" in r.stderr
    r = cli("lab", "join", "--address", "h:1")
    assert r.returncode == 2 and "--hardware" in r.stderr
    r = cli("verify", "--ray", "auto")
    assert r.returncode == 2 and "--fleet" in r.stderr and "Traceback" not in r.stderr
