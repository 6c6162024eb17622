"""Deploy files for serving a model with vLLM beyond one GPU: the engine flags, a launcher, a Ray cluster for a
replica that spans nodes, and Kubernetes manifests in four forms (plain Deployment, KubeRay RayCluster, KServe
InferenceService, vLLM production-stack Helm values).

Input is one plain `layout` dict (model, repo, tp, pp, gpus_per_node, nodes_per_replica, replicas, max_model_len,
max_num_seqs, gpu_memory_utilization, kv_cache_dtype, gpu_resource, date). Every field's rule cites its source:
- vLLM engine flags: https://docs.vllm.ai/en/latest/configuration/engine_args.html
- vLLM multi-node with Ray: https://docs.vllm.ai/en/stable/serving/parallelism_scaling/ and
  https://docs.vllm.ai/en/v0.5.1/serving/distributed_serving.html
- vLLM on Kubernetes: https://docs.vllm.ai/en/stable/deployment/k8s/
- KubeRay: ray-operator/config/crd/bases/ray.io_rayclusters.yaml and config/samples/ray-cluster.sample.yaml
  (https://github.com/ray-project/kuberay, commit feeaf72f);
  https://docs.ray.io/en/latest/cluster/kubernetes/examples/vllm-rayservice.html
- KServe: config/crd/full/serving.kserve.io_inferenceservices.yaml, config/runtimes/kserve-huggingfaceserver*.yaml,
  pkg/apis/serving/v1beta1/inference_service_validation.go (https://github.com/kserve/kserve, commit aaac4e29);
  https://kserve.github.io/website/docs/model-serving/generative-inference/multi-node
- production-stack: helm/values.schema.json, helm/templates/ray-cluster.yaml, tutorials/15-basic-pipeline-parallel.md
  (https://github.com/vllm-project/production-stack, commit a6c01db0)

Both KServe and production-stack split a multi-node replica as tensor parallel = GPUs per node and pipeline parallel
= nodes (KServe: "TensorParallelSize specifies the number of GPUs to be used per node", predictor.go; production-stack
tutorial 15: "pipelineParallelSize represents the total number of Ray nodes"), whatever TP x PP the layout gives.
"""

from __future__ import annotations

import math
import shlex

from ..errors import InputError
from .deploy import HEADER, VLLM_DOC, VLLM_K8S_DOC, _plain_dumper

VLLM_RAY_DOCS = ("https://docs.vllm.ai/en/stable/serving/parallelism_scaling/ "
                 "https://docs.vllm.ai/en/v0.5.1/serving/distributed_serving.html")
KUBERAY_DOCS = ("https://docs.ray.io/en/latest/cluster/kubernetes/examples/vllm-rayservice.html "
                "https://github.com/ray-project/kuberay/blob/master/"
                "ray-operator/config/samples/ray-cluster.sample.yaml")
KSERVE_DOCS = ("https://kserve.github.io/website/docs/model-serving/generative-inference/tasks/text-generation "
               "https://kserve.github.io/website/docs/model-serving/generative-inference/multi-node")
PSTACK_DOCS = ("https://github.com/vllm-project/production-stack/blob/main/helm/values.schema.json "
               "https://github.com/vllm-project/production-stack/blob/main/tutorials/15-basic-pipeline-parallel.md")
IMAGE = "vllm/vllm-openai:latest"
EP_FLAG = "--enable-expert-parallel"  # vLLM engine argument (VLLM_DOC)
RAY_PORT = 6379  # `ray start --head` default port (vLLM run_cluster.sh, KubeRay docs/guidance/rayStartParams.md)
# KServe knows these GPU resource names; any other needs the gpu-resource-types annotation (multi-node doc)
KSERVE_GPU_TYPES = ("nvidia.com/gpu", "intel.com/gpu", "amd.com/gpu", "habana.ai/gaudi")
# Pod CPU/memory requests: a starting point per GPU (an estimate, not measured); the chart requires both values
CPU_PER_GPU, MEMORY_GI_PER_GPU = 4, 16
SHM_SIZE = "20Gi"  # production-stack's default shmSize (helm/templates/ray-cluster.yaml: default "20Gi")


# ---- layout ---------------------------------------------------------------------------------------------------
def layout_from(cap: dict, date: str) -> dict:
    """The `layout` of the chosen row of an advisor.serving.plan_layouts result (with its `model` and `repo`)."""
    c = cap["chosen"]
    return {"model": cap["model"], "repo": cap.get("repo") or cap["model"], "tp": c["tp"], "pp": c["pp"],
            "gpus_per_node": cap["gpus_per_node"], "nodes_per_replica": c["nodes_per_replica"],
            "replicas": c["replicas"], "max_model_len": cap["max_model_len"], "max_num_seqs": c["max_users_per_replica"],
            "gpu_memory_utilization": cap["gpu_memory_utilization"],
            "kv_cache_dtype": "fp8" if cap["kv_cache_dtype"].startswith("fp8") else "auto",
            "gpu_resource": "nvidia.com/gpu", "expert_parallel": c["expert_parallel"], "date": date}


def _name(layout: dict) -> str:
    """A Kubernetes name from the catalog id: lowercase, every non-alphanumeric character a '-'."""
    return "".join(ch if ch.isalnum() else "-" for ch in layout["model"].lower()).strip("-")


def _gpus(layout: dict) -> int:
    """GPUs of one replica: one per TP x PP rank."""
    return layout["tp"] * layout["pp"]


def _multi(layout: dict) -> bool:
    return _check(layout)["nodes_per_replica"] > 1


def _check(layout: dict) -> dict:
    need = math.ceil(_gpus(layout) / layout["gpus_per_node"])
    if layout["nodes_per_replica"] != need:
        raise InputError("layout.nodes_per_replica", f"is {layout['nodes_per_replica']}, but TP {layout['tp']} x PP "
                         f"{layout['pp']} on {layout['gpus_per_node']} GPUs per node needs {need}", str(need))
    return layout


def _per_node(layout: dict) -> tuple[int, int]:
    """(GPUs used on each node, nodes) of one replica: the TP x PP split KServe and production-stack apply."""
    nodes = _check(layout)["nodes_per_replica"]
    if _gpus(layout) % nodes:
        raise InputError("layout.tp", f"{_gpus(layout)} GPUs do not split evenly over {nodes} nodes; KServe and "
                         "production-stack put the same GPU count on every node", f"TP x PP a multiple of {nodes}")
    return _gpus(layout) // nodes, nodes


def _replica_names(layout: dict) -> list[str]:
    """One name per replica where each replica is its own object (a Ray cluster has exactly one head)."""
    n = layout["replicas"]
    return [_name(layout)] if n == 1 else [f"{_name(layout)}-{i}" for i in range(n)]


def _yaml_header(what: str, layout: dict, sources: str, notes: list[str] = ()) -> str:
    return "".join(f"# {line}\n" for line in
                   [what, f"generated by `advisor plan` on {layout['date']}; sources: {sources}", *notes])


def _dump(docs: list[dict]) -> str:
    import yaml

    return yaml.dump_all(docs, Dumper=_plain_dumper(), sort_keys=False)


def _resources(layout: dict, gpus: int) -> dict:
    """Container requests = limits; quantities as strings (int-or-string in every schema; strings never fail)."""
    q = {"cpu": str(CPU_PER_GPU * gpus), "memory": f"{MEMORY_GI_PER_GPU * gpus}Gi", layout["gpu_resource"]: str(gpus)}
    return {"limits": dict(q), "requests": dict(q)}


HF_TOKEN_ENV = {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token-secret", "key": "token",
                                                                   "optional": True}}}
SHM_VOLUME = {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": SHM_SIZE}}
SHM_MOUNT = {"name": "shm", "mountPath": "/dev/shm"}  # "vLLM needs ... shared memory for tensor parallel" (k8s guide)


# ---- vLLM ------------------------------------------------------------------------------------------------------
def vllm_args(layout: dict) -> list[str]:
    """The `vllm serve` engine flags of one replica (source: VLLM_DOC)."""
    args = ["--tensor-parallel-size", str(layout["tp"]), "--pipeline-parallel-size", str(layout["pp"]),
            "--max-model-len", str(layout["max_model_len"]), "--max-num-seqs", str(layout["max_num_seqs"]),
            "--gpu-memory-utilization", f"{layout['gpu_memory_utilization']:g}"]
    if layout["kv_cache_dtype"] != "auto":
        args += ["--kv-cache-dtype", layout["kv_cache_dtype"]]
    if _multi(layout):  # "Multi-node deployments require Ray"; Ray is vLLM's default there, stated explicitly
        args += ["--distributed-executor-backend", "ray"]
    if layout.get("expert_parallel"):  # MoE: experts sharded across the replica's GPUs instead of sliced by TP
        args.append(EP_FLAG)
    return args


def _serve_line(layout: dict) -> str:
    return " ".join(shlex.quote(x) for x in ["vllm", "serve", layout["repo"], *vllm_args(layout)])


def vllm_serve_sh(layout: dict) -> str:
    """A launcher for one replica (OpenAI-compatible API on :8000)."""
    what = f"serve {layout['repo']} with vLLM, TP {layout['tp']} x PP {layout['pp']} (OpenAI-compatible API on :8000)"
    ray = ""
    if _multi(layout):
        ray = (f"# This replica spans {layout['nodes_per_replica']} nodes: run it on the Ray head node once Ray runs\n"
               "# across all of them (see ray-cluster.sh). `ray status` must show at least "
               f"{_gpus(layout)} GPUs (TP x PP).\n")
    return (HEADER.format(what=what, date=layout["date"], sources=f"{VLLM_DOC} {VLLM_RAY_DOCS}" if ray else VLLM_DOC)
            + ray + _serve_line(layout) + "\n")


def ray_cluster_sh(layout: dict) -> str:
    """The Ray cluster under one multi-node replica: `head` on one node, `worker HEAD_IP` on the others; the head
    then waits until Ray sees TP x PP GPUs and exits non-zero if it never does."""
    gpus, need, nodes = layout["gpus_per_node"], _gpus(layout), layout["nodes_per_replica"]
    check = ("python3 -c 'import ray, sys; ray.init(address=\"auto\"); g = ray.cluster_resources().get(\"GPU\", 0); "
             f"print(f\"Ray sees {{g:g}} GPUs; vLLM needs {need}\"); sys.exit(0 if g >= {need} else 1)'")
    return (HEADER.format(what=f"start the Ray cluster of one {layout['repo']} replica: {nodes} nodes x {gpus} GPUs",
                          date=layout["date"], sources=VLLM_RAY_DOCS)
            + f"""# usage: ray-cluster.sh head            on the node that will run vllm.sh
#        ray-cluster.sh worker HEAD_IP  on each of the other {nodes - 1} node(s)
# Every node needs the same vLLM and Ray versions (e.g. the {IMAGE} image) and the model at the same path.
# VLLM_HOST_IP: vLLM warns that node-to-node traffic is not encrypted; keep the nodes on a private network and
# set VLLM_HOST_IP to this node's address on it (export VLLM_HOST_IP=<this node's IP>) before `ray start`.
check() {{
  ray status
  {check}
}}
case "${{1:-}}" in
  head)
    ray start --head --port={RAY_PORT} --num-gpus={gpus}
    for _ in $(seq 60); do check >/dev/null 2>&1 && break; sleep 10; done  # wait for the workers (10 min)
    check
    ;;
  worker)
    ray start --address="${{2:?usage: $0 worker HEAD_IP}}:{RAY_PORT}" --num-gpus={gpus}
    ;;
  *)
    echo "usage: $0 head | worker HEAD_IP" >&2
    exit 2
    ;;
esac
""")


# ---- Kubernetes: plain Deployment ------------------------------------------------------------------------------
def k8s_deployment(layout: dict) -> str:
    """A Deployment of `replicas` single-node vLLM pods and a ClusterIP Service, in the form of vLLM's k8s guide."""
    if _multi(layout):
        raise InputError("layout.nodes_per_replica", f"is {layout['nodes_per_replica']}: a plain Deployment's pod "
                         "runs on one node and cannot span nodes", "1; for more, use KubeRay (raycluster.yaml) or "
                         "KServe (kserve.yaml)")
    name, labels = _name(layout), {"app": _name(layout)}
    probe = {"httpGet": {"path": "/health", "port": 8000}, "initialDelaySeconds": 60, "periodSeconds": 10}
    ctr = {"name": "vllm", "image": IMAGE, "args": ["--model", layout["repo"], *vllm_args(layout)],
           "ports": [{"containerPort": 8000}], "env": [HF_TOKEN_ENV], "resources": _resources(layout, _gpus(layout)),
           "volumeMounts": [SHM_MOUNT], "readinessProbe": probe, "livenessProbe": probe}
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
           "spec": {"replicas": layout["replicas"], "selector": {"matchLabels": labels},
                    "template": {"metadata": {"labels": labels},
                                 "spec": {"containers": [ctr], "volumes": [SHM_VOLUME]}}}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
           "spec": {"type": "ClusterIP", "selector": labels,
                    "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8000}]}}
    return (_yaml_header(f"serve {layout['repo']} with vLLM on Kubernetes: {layout['replicas']} replica(s) x "
                         f"{_gpus(layout)} GPU(s)", layout, VLLM_K8S_DOC) + _dump([dep, svc]))


# ---- KubeRay ---------------------------------------------------------------------------------------------------
def _ray_pod(layout: dict, container: str, head: bool) -> dict:
    ports = [{"containerPort": RAY_PORT, "name": "gcs-server"}, {"containerPort": 8265, "name": "dashboard"},
             {"containerPort": 10001, "name": "client"}, {"containerPort": 8000, "name": "http"}] if head else []
    # VLLM_HOST_IP = the pod IP, as production-stack's helm/templates/ray-cluster.yaml sets it
    env = [HF_TOKEN_ENV, {"name": "VLLM_HOST_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
    ctr = {"name": container, "image": IMAGE, **({"ports": ports} if ports else {}), "env": env,
           "resources": _resources(layout, layout["gpus_per_node"]), "volumeMounts": [SHM_MOUNT]}
    return {"spec": {"containers": [ctr], "volumes": [SHM_VOLUME]}}


def kuberay_raycluster(layout: dict) -> str:
    """One RayCluster per replica: a head and nodes_per_replica - 1 workers, each pod holding a node's GPUs."""
    gpus, workers = str(layout["gpus_per_node"]), layout["nodes_per_replica"] - 1
    docs = []
    for name in _replica_names(layout):
        spec = {"headGroupSpec": {"rayStartParams": {"dashboard-host": "0.0.0.0", "num-gpus": gpus},
                                  "template": _ray_pod(layout, "ray-head", head=True)}}
        if workers:
            spec["workerGroupSpecs"] = [{"groupName": "gpu-workers", "replicas": workers, "minReplicas": workers,
                                         "maxReplicas": workers, "rayStartParams": {"num-gpus": gpus},
                                         "template": _ray_pod(layout, "ray-worker", head=False)}]
        docs.append({"apiVersion": "ray.io/v1", "kind": "RayCluster",
                     "metadata": {"name": name, "labels": {"app": _name(layout)}}, "spec": spec})
    serve = " ".join(shlex.quote(x) for x in ["vllm", "serve", layout["repo"], *vllm_args(layout)])
    notes = [f"image {IMAGE} on head and workers: vLLM (and Ray) must be installed on every Ray node, and",
             "rayVersion is left out because it must match the Ray inside that image. rayStartParams values are",
             "strings (the CRD: additionalProperties: {type: string}). One RayCluster per replica (one head each).",
             f"serve, once `ray status` on the head shows {_gpus(layout)} GPUs (NAME = each RayCluster's name):",
             "  kubectl exec -it $(kubectl get pod -l ray.io/cluster=NAME,ray.io/node-type=head -o name) -- \\",
             f"    {serve}"]
    return (_yaml_header(f"KubeRay RayCluster(s) for {layout['repo']}: {layout['nodes_per_replica']} node(s) x "
                         f"{gpus} GPUs per replica", layout, KUBERAY_DOCS, notes) + _dump(docs))


# ---- KServe ----------------------------------------------------------------------------------------------------
def _kserve_args(layout: dict, name: str) -> list[str]:
    """--model_name plus the vLLM engine flags (the HF runtime passes vLLM's engine args through). Multi-node: the
    runtime's own command sets --tensor/--pipeline-parallel-size from workerSpec and starts Ray itself."""
    args, out, skip = [a for a in vllm_args(layout) if a != EP_FLAG], [f"--model_name={name}"], set()
    if _multi(layout):
        skip = {"--tensor-parallel-size", "--pipeline-parallel-size", "--distributed-executor-backend"}
    for flag, value in zip(args[::2], args[1::2]):
        if flag not in skip:
            out += [flag, value]
    return out + ([EP_FLAG] if layout.get("expert_parallel") else [])


def kserve_isvc(layout: dict) -> str:
    """A KServe InferenceService on the Hugging Face runtime (vLLM backend); multi-node through workerSpec."""
    annotations, notes = {}, []
    if layout["gpu_resource"] not in KSERVE_GPU_TYPES:  # else the webhook refuses: "Unknown GPU resource type"
        annotations["serving.kserve.io/gpu-resource-types"] = f'["{layout["gpu_resource"]}"]'
    if not _multi(layout):
        name = _name(layout)
        model = {"modelFormat": {"name": "huggingface"}, "runtime": "kserve-huggingfaceserver",
                 "args": _kserve_args(layout, name), "storageUri": f"hf://{layout['repo']}",
                 "resources": _resources(layout, _gpus(layout))}
        predictor = {"minReplicas": layout["replicas"], "maxReplicas": layout["replicas"], "model": model}
        docs = [{"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                 "metadata": {"name": name, **({"annotations": annotations} if annotations else {})},
                 "spec": {"predictor": predictor}}]
        notes.append("hf:// needs a ClusterStorageContainer for the hf:// prefix with the HF_TOKEN secret (KServe "
                     "docs).")
    else:
        per_node, nodes = _per_node(layout)
        # the multi-node rules the KServe webhook enforces (validateMultiNodeVariables): Standard mode, autoscaler
        # none, storageUri pvc:// or oci://, no TENSOR/PIPELINE_PARALLEL_SIZE env, one container in workerSpec
        annotations |= {"serving.kserve.io/deploymentMode": "Standard", "serving.kserve.io/autoscalerClass": "none"}
        docs = []
        for name in _replica_names(layout):
            model = {"modelFormat": {"name": "huggingface"}, "runtime": "kserve-huggingfaceserver-multinode",
                     "args": _kserve_args(layout, name), "storageUri": f"pvc://{_name(layout)}-pvc/{layout['repo']}",
                     "resources": _resources(layout, per_node)}
            # GPUs on the head (model.resources) and on each worker pod: KServe derives the Ray node count as
            # ceil(TP x PP / worker GPUs); with no GPU request it would make TP x PP one-GPU nodes
            worker = {"tensorParallelSize": per_node, "pipelineParallelSize": nodes,
                      "containers": [{"name": "worker-container", "resources": _resources(layout, per_node)}]}
            docs.append({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                         "metadata": {"name": name, "annotations": dict(annotations)},
                         "spec": {"predictor": {"minReplicas": 1, "maxReplicas": 1, "model": model,
                                                "workerSpec": worker}}})
        notes += [f"multi-node: the model must sit on a ReadWriteMany PVC {_name(layout)}-pvc at /{layout['repo']}",
                  "(KServe multi-node takes pvc:// or oci:// only). workerSpec: TP = GPUs per node, PP = nodes;",
                  f"the runtime runs vLLM with --tensor-parallel-size {per_node} --pipeline-parallel-size {nodes}",
                  f"(layout: TP {layout['tp']} x PP {layout['pp']}). One InferenceService per replica: exactly one "
                  "head pod each."]
    return (_yaml_header(f"KServe InferenceService(s) for {layout['repo']} on the Hugging Face runtime (vLLM backend)",
                         layout, KSERVE_DOCS, notes) + _dump(docs))


# ---- production-stack ------------------------------------------------------------------------------------------
def production_stack_values(layout: dict) -> str:
    """Helm values for vLLM production-stack: one modelSpec (single node, replicaCount = replicas) or, multi-node,
    one Ray-backed modelSpec per replica (replicaCount = worker pods, as tutorial 15 defines it)."""
    base = {"repository": IMAGE.split(":")[0], "tag": IMAGE.split(":")[1], "modelURL": layout["repo"]}
    extra = ["--kv-cache-dtype", layout["kv_cache_dtype"]] if layout["kv_cache_dtype"] != "auto" else []
    extra += [EP_FLAG] if layout.get("expert_parallel") else []
    cfg = {"maxModelLen": layout["max_model_len"], "maxNumSeqs": layout["max_num_seqs"],
           "gpuMemoryUtilization": layout["gpu_memory_utilization"]}
    if not _multi(layout):
        gpus = _gpus(layout)
        if layout["pp"] > 1:  # the Deployment template has no pipelineParallelSize value: pass the flag through
            extra = ["--pipeline-parallel-size", str(layout["pp"]), *extra]
        specs = [{"name": _name(layout), **base, "replicaCount": layout["replicas"],
                  "requestCPU": CPU_PER_GPU * gpus, "requestMemory": f"{MEMORY_GI_PER_GPU * gpus}Gi",
                  "requestGPU": gpus, "vllmConfig": {"tensorParallelSize": layout["tp"], **cfg, "extraArgs": extra},
                  "shmSize": SHM_SIZE}]
    else:
        per_node, nodes = _per_node(layout)
        pod = {"requestCPU": CPU_PER_GPU * per_node, "requestMemory": f"{MEMORY_GI_PER_GPU * per_node}Gi",
               "requestGPU": per_node}
        # tutorial 15: TP = GPUs per Ray node, PP = Ray nodes = replicaCount + 1, head GPUs = worker GPUs
        specs = [{"name": name, **base, "replicaCount": nodes - 1, **pod,
                  "vllmConfig": {"tensorParallelSize": per_node, "pipelineParallelSize": nodes, **cfg,
                                 "extraArgs": extra},
                  "shmSize": SHM_SIZE, "raySpec": {"enabled": True, "headNode": dict(pod)}}
                 for name in _replica_names(layout)]
    values = {"servingEngineSpec": {"modelSpec": specs}, "routerSpec": {"routingLogic": "roundrobin"}}
    notes = ["vllmConfig.pipelineParallelSize is read by helm/templates/ray-cluster.yaml but missing from",
             "values.schema.json (tutorials/assets/values-15-a-minimal-pipeline-parallel-example-raycluster.yaml)."] \
        if _multi(layout) else []
    return (_yaml_header(f"vLLM production-stack Helm values for {layout['repo']}", layout, PSTACK_DOCS, notes)
            + _dump([values]))


def serving_files(layout: dict) -> dict[str, str]:
    """{file name: text} for a plan's deploy/ folder."""
    files = {"vllm.sh": vllm_serve_sh(layout), "kserve.yaml": kserve_isvc(layout),
             "helm-values.yaml": production_stack_values(layout)}
    if _multi(layout):
        files |= {"ray-cluster.sh": ray_cluster_sh(layout), "raycluster.yaml": kuberay_raycluster(layout)}
    else:
        files["k8s.yaml"] = k8s_deployment(layout)
    return dict(sorted(files.items()))
