"""Fleet verification on a device lab scheduled by Ray: each device class of a fleet spec is verified on a lab
node of that class, and its measured profile comes back to the store of the machine that asked.

A lab node joins the Ray cluster advertising its class as a custom resource, `device:<hardware id>` (or
`device:<class name>` for a class given by RAM/VRAM alone): `advisor lab join` prints or runs that `ray start`.
Each class's verification is a Ray task that asks for one unit of its class's resource, so Ray runs it only on
such a node (https://docs.ray.io/en/latest/ray-core/scheduling/resources.html). A class no node offers is
reported as unverified, never skipped; a task whose worker or node dies is retried by Ray (`max_retries`,
https://docs.ray.io/en/latest/ray-core/fault_tolerance/tasks.html) and reported as failed when the retries run out;
each profile is stored as soon as its class finishes, so a failure later loses nothing stored before it.
"""

from __future__ import annotations

import json
import shlex
import socket
from typing import Any, Callable, Optional

PREFIX = "device:"
RAY_START_DOC = "https://docs.ray.io/en/latest/cluster/cli.html#ray-start"


def class_resource(cl: dict) -> str:
    """The custom resource a node of this class advertises."""
    hw = cl["hardware_raw"].get("hardware")
    return PREFIX + (str(hw).lower() if hw else cl["name"])


def join_command(address: str, resource: str, num_cpus: Optional[int] = None) -> list[str]:
    """`ray start` joining `address` and advertising one unit of `resource`."""
    cmd = ["ray", "start", f"--address={address}", f"--resources={json.dumps({resource: 1})}"]
    if num_cpus:
        cmd.append(f"--num-cpus={num_cpus}")
    return cmd


def join_line(address: str, resource: str) -> str:
    return " ".join(shlex.quote(w) for w in join_command(address, resource))


def _run_class(payload: dict) -> dict:
    """On the lab node: verify the class's requirements on this machine; the profile comes back as data."""
    import os
    import tempfile

    from advisor.api import on_target, resolve
    from advisor.kb import load_catalog
    from advisor.store import load_profiles

    from .verify import verify

    cat = load_catalog()
    raw, note = on_target(cat, payload["raw"])
    req, spec = resolve(cat, raw)
    with tempfile.TemporaryDirectory(prefix="advisor-lab-") as store:
        out = verify(cat, req, spec, synthetic=payload["synthetic"], file=None, gen_tokens=payload["gen_tokens"],
                     repeats=payload["repeats"], threads=payload.get("threads"), fill=payload["fill"],
                     force=payload.get("force", False), profiles_dir=store)
        profiles = [p.model_dump(mode="json", exclude_none=True) for p in load_profiles(store)]
    return {"outcome": out.as_dict(), "ok": out.ok, "profiles": profiles, "node": socket.gethostname(),
            "pid": os.getpid(), "note": note}


def verify_fleet(classes: list[dict], base_raw: dict[str, Any], *, address: Optional[str], synthetic: bool,
                 gen_tokens: int = 32, repeats: int = 1, fill: bool = False, threads: Optional[int] = None,
                 profiles_dir: Optional[str] = None, retries: int = 2, timeout_s: float = 3600,
                 init: Optional[dict] = None, announce: Optional[Callable[[str], None]] = None) -> dict:
    """Verify each class on a node offering its resource; returns the report as data. `address`: a Ray
    cluster ('auto' or host:port; None starts a local one with `init`'s arguments, e.g. resources)."""
    import time

    import ray

    from advisor.schemas import MeasuredProfile
    from advisor.store import save_profile

    from advisor.plan.fleet import class_raw

    say = announce or (lambda _s: None)
    if not ray.is_initialized():
        ray.init(address=address, **(init or {}), log_to_driver=False, include_dashboard=False)
    offered = ray.cluster_resources()
    remote = ray.remote(_run_class)
    results: dict[str, dict] = {}
    pending: dict[Any, dict] = {}
    for cl in classes:
        res = class_resource(cl)
        row = {"class": cl["name"], "count": cl["count"], "resource": res, "status": None, "ok": None,
               "node": None, "pick": None, "checks": [], "profiles": [], "error": None}
        results[cl["name"]] = row
        if offered.get(res, 0) < 1:
            row.update(status="unverified", error=f"no node of the cluster offers {res}: start one with "
                                                   f"`advisor lab join --hardware ...` ({RAY_START_DOC})")
            say(f"{cl['name']}: unverified, no node offers {res}")
            continue
        payload = {"raw": class_raw(base_raw, cl), "synthetic": synthetic, "gen_tokens": gen_tokens,
                   "repeats": repeats, "fill": fill, "threads": threads}
        ref = remote.options(resources={res: 1}, num_cpus=1, max_retries=retries,
                             name=f"advisor-verify-{cl['name']}").remote(payload)
        pending[ref] = row
        say(f"{cl['name']}: verifying on a node offering {res}")
    deadline = time.monotonic() + timeout_s
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=max(0.0, deadline - time.monotonic()))
        if not ready:
            for row in pending.values():
                row.update(status="failed", ok=False, error=f"no result within {timeout_s:g} s")
            break
        ref = ready[0]
        row = pending.pop(ref)
        try:
            got = ray.get(ref)
        except ray.exceptions.RayError as e:  # the worker or node died more often than the retries allow
            row.update(status="failed", ok=False, error=f"{type(e).__name__}: {str(e).splitlines()[0][:300]}")
            say(f"{row['class']}: failed ({type(e).__name__})")
            continue
        for data in got["profiles"]:
            path = save_profile(MeasuredProfile.model_validate(data), profiles_dir)
            row["profiles"].append(str(path))
        o = got["outcome"]
        row.update(status="verified", ok=got["ok"], node=got["node"], pick=o["pick"], checks=o["checks"],
                   note=got.get("note"))
        say(f"{row['class']}: {'PASS' if got['ok'] else 'FAIL'} on {got['node']}, stored {len(row['profiles'])} "
            "profile(s)")
    rows = [results[cl["name"]] for cl in classes]
    return {"classes": rows, "verified": sum(r["status"] == "verified" for r in rows),
            "unverified": [r["class"] for r in rows if r["status"] == "unverified"],
            "failed": [r["class"] for r in rows if r["status"] == "failed" or r["ok"] is False],
            "ok": all(r["status"] == "verified" and r["ok"] for r in rows)}
