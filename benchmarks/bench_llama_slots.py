"""llama-server with N slots on this machine, measured, against advisor.batched's prediction (the speed each user
sees when N sequences decode together, which `recommend --concurrent-users N` uses).

    python -m benchmarks.bench_llama_slots [--model qwen3-0.6b] [--quant q4_k_m] [--slots 1,2,4] [--rounds 3]

It builds a random-weight GGUF of the model's exact shapes (profiling.synth), starts the real `llama-server`
(.venv/bin/llama-server, tools/build_llama_server.sh) with `-np N -c N x context`, sends N requests at once
(`/completion`, `n_predict` tokens, `ignore_eos`), and reads each request's own decode speed from the server's
`timings.predicted_per_second`. Each N runs `--rounds` times; it prints the median and the spread.

Prediction: the single-stream estimate with no run of this machine or its CPU class (`before calibration`),
then advisor.batched.from_single for N sequences. A CPU stack uses the CUDA coefficients (no CPU
llama-batched-bench table is in the fit), so this is a check of that assumption on this CPU. The growth column
applies the predicted ratio pred(N) / pred(1) to the measured single stream, which separates the batching
model from the single-stream estimate.
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

SERVER = Path(sys.executable).parent / "llama-server"
PROMPT = " ".join(["The quick brown fox jumps over the lazy dog."] * 12)  # about 130 tokens


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict, out: list, i: int) -> None:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    out[i] = json.load(urllib.request.urlopen(req, timeout=600))


def measure(gguf: Path, slots: int, *, ctx: int, gen: int, threads: int, rounds: int) -> list[float]:
    """Each request's decode tokens/s over `rounds` rounds of `slots` requests sent at once."""
    port = _port()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([str(SERVER), "-m", str(gguf), "-c", str(ctx * slots), "-np", str(slots), "-t", str(threads),
                             "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    speeds: list[float] = []
    try:
        for _ in range(600):
            try:
                if json.load(urllib.request.urlopen(url + "/health", timeout=1)).get("status") == "ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None:
                log.seek(0)
                sys.exit("llama-server stopped: " + log.read().decode(errors="replace")[-2000:])
            time.sleep(0.2)
        body = {"prompt": PROMPT, "n_predict": gen, "ignore_eos": True, "cache_prompt": False, "temperature": 0}
        _post(url + "/completion", {**body, "n_predict": 4}, [None], 0)  # warm-up
        for _ in range(rounds):
            out: list = [None] * slots
            ts = [threading.Thread(target=_post, args=(url + "/completion", body, out, i)) for i in range(slots)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
            speeds += [r["timings"]["predicted_per_second"] for r in out]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return speeds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="qwen3-0.6b")
    ap.add_argument("--quant", default="q4_k_m")
    ap.add_argument("--slots", default="1,2,4")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--context", type=int, default=1024)
    ap.add_argument("--gen", type=int, default=64)
    args = ap.parse_args()
    if not SERVER.is_file():
        sys.exit(f"{SERVER} is missing: build it with tools/build_llama_server.sh")
    from advisor.batched import from_single
    from advisor.estimate import detected_spec, estimate_stack
    from advisor.kb import load_catalog
    from profiling.synth import build

    cat = load_catalog()
    spec = detected_spec(cat=cat)
    m = cat.model(args.model)
    gguf = build(m.architecture, args.quant)
    threads = spec.threads or 2
    prompt_tokens = 130
    est = estimate_stack(cat, args.model, args.quant, "llama.cpp", args.context, spec, prompt_tokens=prompt_tokens,
                         gen_tokens=args.gen, exclude_fingerprint=spec.fingerprint, exclude_same_cpu=True)
    print(f"{args.model} {args.quant} (random weights, real shapes) on {spec.cpu_model}, {threads} threads, "
          f"{spec.bandwidth_for('cpu')[0]:g} GB/s, {spec.cpu_tflops} TFLOP/s FP32; single-stream estimate "
          f"{est.speed.decode_tps:.1f} tok/s ({est.basis}, no run of this machine or its CPU class)")
    print(f"{'slots':>5} {'measured tok/s each (median, min-max)':>38} {'predicted':>9} {'error':>7} "
          f"{'growth pred.':>12} {'error':>7}")
    base = None
    for n in [int(x) for x in args.slots.split(",")]:
        got = measure(gguf, n, ctx=args.context, gen=args.gen, threads=threads, rounds=args.rounds)
        med = statistics.median(got)
        base = base or med
        p = from_single(est.speed, m, "cpu", batch=n, bandwidth_gbps=spec.bandwidth_for("cpu")[0],
                        fp32_tflops=spec.cpu_tflops)
        growth = base * p["per_seq_tok_s"] / est.speed.decode_tps
        print(f"{n:>5} {med:>17.1f} ({min(got):.1f}-{max(got):.1f}, n={len(got)}){'':>4} {p['per_seq_tok_s']:>9.1f} "
              f"{p['per_seq_tok_s'] / med - 1:>+7.1%} {growth:>12.1f} {growth / med - 1:>+7.1%}")


if __name__ == "__main__":
    main()
