"""Extract the schemas that tests/test_serving_manifests.py validates deploy files against, from the upstream repos.

    python tools/extract_crd_schemas.py [--kserve GIT_DIR] [--kuberay GIT_DIR] [--production-stack GIT_DIR]
                                        [--out tests/fixtures/k8s_schemas]

Each GIT_DIR is a git directory (a bare mirror or a checkout's .git) of the upstream repo; the file is read at
HEAD with `git show` and the commit is recorded in the JSON's "x-source" so a reviewer can find the exact text.

- KServe InferenceService: the v1beta1 `openAPIV3Schema` of config/crd/full/serving.kserve.io_inferenceservices.yaml
  (the "minimal" CRD preserves unknown fields under spec and validates nothing). The full schema is ~640 KB as
  JSON, so it is pruned to the subtrees our manifests use (KEEP below): every level on the way keeps its complete
  property list, `required`, `type` and the rest; a property off the way keeps only its `type` and `"x-pruned": true`.
- KubeRay RayCluster: the v1 `openAPIV3Schema` of ray-operator/config/crd/bases/ray.io_rayclusters.yaml, whole.
- vLLM production-stack: helm/values.schema.json (JSON Schema draft 2020-12), whole.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import yaml

MIRRORS = Path("/work/.mirror")
OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "k8s_schemas"

# (output file, repo, path in repo, CRD version or None for a plain JSON Schema, property paths kept or None = all)
SOURCES = {
    "kserve": ("kserve-inferenceservice-v1beta1.json", "kserve/kserve",
               "config/crd/full/serving.kserve.io_inferenceservices.yaml", "v1beta1",
               ["apiVersion", "kind", "metadata", "spec.predictor"]),
    "kuberay": ("kuberay-raycluster-v1.json", "ray-project/kuberay",
                "ray-operator/config/crd/bases/ray.io_rayclusters.yaml", "v1", None),
    "production-stack": ("production-stack-values.json", "vllm-project/production-stack",
                         "helm/values.schema.json", None, None),
}


def git(git_dir: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True,
                          text=True).stdout


def crd_schema(text: str, version: str) -> dict:
    """The openAPIV3Schema of one version of a CustomResourceDefinition."""
    crd = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    (v,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return v["schema"]["openAPIV3Schema"]


def prune(schema: dict, keep: list[str]) -> dict:
    """The schema with only the property subtrees on the `keep` paths (dotted property names) in full."""
    heads: dict[str, list[str]] = {}
    for path in keep:
        head, _, rest = path.partition(".")
        heads.setdefault(head, []).append(rest)
    out = dict(schema)
    props = {}
    for name, sub in schema["properties"].items():
        if name not in heads:
            props[name] = {k: sub[k] for k in ("type",) if k in sub} | {"x-pruned": True}
        elif "" in heads[name]:
            props[name] = sub  # the path ends here: the whole subtree
        else:
            props[name] = prune(sub, heads[name])
    out["properties"] = props
    return out


def extract(key: str, git_dir: Path, out_dir: Path) -> Path:
    name, repo, path, version, keep = SOURCES[key]
    commit = git(git_dir, "rev-parse", "HEAD").strip()
    text = git(git_dir, "show", f"{commit}:{path}")
    schema = crd_schema(text, version) if version else json.loads(text)
    if keep:
        schema = prune(schema, keep) | {"x-kept": keep}
    source = {"repo": repo, "commit": commit, "path": path,
              "url": f"https://github.com/{repo}/blob/{commit}/{path}"}
    out = out_dir / name
    out.write_text(json.dumps({"x-source": source} | schema, separators=(",", ":"), ensure_ascii=False) + "\n")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for key, (_, repo, *_rest) in SOURCES.items():
        ap.add_argument(f"--{key}", type=Path, default=MIRRORS / repo.replace("/", "+") / "repo",
                        help=f"git directory of {repo}")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for key in SOURCES:
        p = extract(key, getattr(a, key.replace("-", "_")), a.out)
        print(f"{p}: {p.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
