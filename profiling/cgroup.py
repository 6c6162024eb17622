"""A real per-process memory limit for one runner: a child memory cgroup (v2 `memory.max`, or v1
`memory.limit_in_bytes`) that only the runner joins.

Used to show, under a limit the kernel enforces, that a stack whose resident peak exceeds the limit but
whose required figure fits runs to completion (the clean file pages it maps are reclaimed, not OOM-killed).
Only the runner's own group is limited: nothing else on the machine feels the pressure, and an OOM kill,
should one happen, can only take the runner. Where no writable memory controller is offered (no root, no
delegation, macOS, Windows), `available()` says why and the callers keep the conservative rule.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

V2_ROOTS = (Path("/sys/fs/cgroup/unified"), Path("/sys/fs/cgroup"))
V1_ROOT = Path("/sys/fs/cgroup/memory")


def _v2_root() -> Optional[Path]:
    for r in V2_ROOTS:
        ctl = r / "cgroup.controllers"
        if ctl.exists() and "memory" in ctl.read_text().split():
            sub = (r / "cgroup.subtree_control")
            if sub.exists() and "memory" in sub.read_text().split():
                return r
    return None


def available() -> tuple[bool, str]:
    """(usable, why not): a memory cgroup this process may create and join."""
    if not os.path.isdir("/sys/fs/cgroup"):
        return False, "no cgroup file system (not Linux)"
    root = _v2_root()
    if root is not None and os.access(root, os.W_OK):
        return True, f"cgroup v2 at {root}"
    if (V1_ROOT / "memory.limit_in_bytes").exists() and os.access(V1_ROOT, os.W_OK):
        return True, f"cgroup v1 memory controller at {V1_ROOT}"
    return False, "no writable memory cgroup (needs root or a delegated cgroup)"


class Limit:
    def __init__(self, path: Path, v2: bool, limit: int):
        self.path, self.v2, self.limit = path, v2, limit

    def join(self) -> None:
        """Called in the child before exec: move this process into the limited group."""
        (self.path / "cgroup.procs").write_text(str(os.getpid()))

    def stats(self) -> dict:
        """What the kernel recorded: peak usage, how often the limit was hit, OOM kills."""
        out: dict = {"limit_bytes": self.limit}
        try:
            if self.v2:
                if (self.path / "memory.peak").exists():
                    out["peak_bytes"] = int((self.path / "memory.peak").read_text())
                ev = dict(line.split() for line in (self.path / "memory.events").read_text().splitlines())
                out["limit_hits"] = int(ev.get("max", 0))
                out["oom_kills"] = int(ev.get("oom_kill", 0))
            else:
                out["peak_bytes"] = int((self.path / "memory.max_usage_in_bytes").read_text())
                out["limit_hits"] = int((self.path / "memory.failcnt").read_text())
                oc = dict(line.split() for line in (self.path / "memory.oom_control").read_text().splitlines())
                out["oom_kills"] = int(oc.get("oom_kill", 0))
        except (OSError, ValueError):
            pass
        return out


@contextmanager
def memory_limit(limit_bytes: int, name: str | None = None) -> Iterator[Limit]:
    """A child memory cgroup limited to `limit_bytes` (swap included where the controller has it),
    removed afterwards."""
    ok, why = available()
    if not ok:
        raise RuntimeError(why)
    name = name or f"advisor-limit-{os.getpid()}-{int(time.time() * 1000)}"
    root = _v2_root()
    if root is not None and os.access(root, os.W_OK):
        path, v2 = root / name, True
        path.mkdir()
        (path / "memory.max").write_text(str(limit_bytes))
        if (path / "memory.swap.max").exists():
            (path / "memory.swap.max").write_text("0")
    else:
        path, v2 = V1_ROOT / name, False
        path.mkdir()
        (path / "memory.limit_in_bytes").write_text(str(limit_bytes))
        if (path / "memory.swappiness").exists():
            try:
                (path / "memory.swappiness").write_text("0")
            except OSError:
                pass
    lim = Limit(path, v2, limit_bytes)
    try:
        yield lim
    finally:
        for _ in range(50):  # the runner has exited; its group empties a moment later
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def drop_page_cache(path: str | os.PathLike) -> None:
    """Evict a file's clean pages from the page cache, so that the next process to map it faults them in
    (and they are charged to that process's group)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
