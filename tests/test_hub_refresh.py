"""`advisor artifacts refresh`: the real Hugging Face client (huggingface_hub HfApi.list_repo_tree) reads a file
listing and the sizes are recorded in the knowledge file with the listing as their source. The Hub is a local HTTP
server on 127.0.0.1 that answers the tree endpoint with a fixture listing (no network)."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from conftest import FIXTURES

LISTING = {
    "/api/models/fixture/toy-0.6b/tree/main": [
        {"type": "file", "oid": "0" * 40, "size": 640123456, "path": "toy-0.6b-q8_0.gguf",
         "lfs": {"oid": "a" * 64, "size": 640123456, "pointerSize": 134}},
        {"type": "file", "oid": "1" * 40, "size": 1519, "path": "README.md"},
    ],
}


class _Hub(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        path = self.path.split("?")[0]
        body = LISTING.get(path)
        if body is None:
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Error-Code", "RepoNotFound")
            self.end_headers()
            self.wfile.write(b'{"error": "Repository not found"}')
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_refresh_reads_the_listing_and_writes_the_size_with_its_source(cli, hub, tmp_path):
    root = tmp_path / "kb"
    shutil.copytree(FIXTURES / "kb_good", root)
    env = {"HF_ENDPOINT": hub, "HF_HUB_OFFLINE": "0", "ADVISOR_NO_CACHE": "1"}
    r = cli("artifacts", "refresh", "toy-0.6b", "--root", str(root), "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["artifacts"]
    row = next(x for x in rows if x["file"] == "toy-0.6b-q8_0.gguf")
    # the fixture records 639,446,688 bytes; the listing says 640,123,456
    assert row["recorded_bytes"] == 639446688 and row["listed_bytes"] == 640123456 and row["status"] == "updated"
    assert json.loads(r.stdout)["written"] == []  # nothing written without --write
    r = cli("artifacts", "refresh", "toy-0.6b", "--root", str(root), "--write", "--format", "json", env=env)
    assert r.returncode == 0, r.stderr
    written = json.loads(r.stdout)["written"]
    assert written and written[0].endswith("toy-0.6b.yaml")
    model = yaml.safe_load(open(written[0]))
    art = next(a for a in model["artifacts"] if a.get("file") == "toy-0.6b-q8_0.gguf")
    assert art["size_bytes"] == 640123456 and not art.get("size_estimated")
    src = model["sources"][art["source"]]
    assert src["kind"] == "hf_files" and src["ref"] == "https://huggingface.co/fixture/toy-0.6b/tree/main"
    # the tree still validates, and a second refresh finds nothing to change
    v = cli("kb", "validate", "--root", str(root))
    assert v.returncode == 0, v.stdout + v.stderr
    again = json.loads(cli("artifacts", "refresh", "toy-0.6b", "--root", str(root), "--format", "json",
                           env=env).stdout)["artifacts"]
    assert next(x for x in again if x["file"] == "toy-0.6b-q8_0.gguf")["status"] == "same"


def test_refresh_offline_or_unknown_repository_fails_clearly_and_changes_nothing(cli, hub, tmp_path):
    root = tmp_path / "kb"
    shutil.copytree(FIXTURES / "kb_good", root)
    before = {p: p.read_text() for p in root.rglob("*.yaml")}
    r = cli("artifacts", "refresh", "toy-0.6b", "--root", str(root), "--write", env={"HF_HUB_OFFLINE": "1"})
    assert r.returncode == 1 and "HF_HUB_OFFLINE" in r.stderr and "Traceback" not in r.stderr
    LISTING_BACKUP = dict(LISTING)
    LISTING.clear()
    try:
        r = cli("artifacts", "refresh", "toy-0.6b", "--root", str(root), "--write",
                env={"HF_ENDPOINT": hub, "HF_HUB_OFFLINE": "0", "ADVISOR_NO_CACHE": "1"})
    finally:
        LISTING.update(LISTING_BACKUP)
    assert r.returncode == 1 and "fixture/toy-0.6b" in r.stderr and "Traceback" not in r.stderr
    assert {p: p.read_text() for p in root.rglob("*.yaml")} == before
