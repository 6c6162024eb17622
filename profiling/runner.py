"""Run one GGUF with llama.cpp (llama-cpp-python) in this process and report what happened.

Meant to run in a fresh subprocess (`python -m profiling.runner ...`) so that the
peak RSS it reports is the model's and not the caller's. Prints one JSON object:
load time, prefill and decode speed per repeat (wall clock, and llama.cpp's own
timings), peak RSS split into anonymous and file-backed memory, the buffer
sizes llama.cpp logged, the settings used and the runtime version.

Token values do not matter for speed: the prompt is a fixed sequence of ids and
decoding feeds a fixed id back, so every repeat does the same work.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time


def _status() -> dict[str, int]:
    """VmHWM, VmRSS, RssAnon, RssFile in bytes (Linux); empty elsewhere."""
    try:
        text = open("/proc/self/status").read()
    except OSError:
        return {}
    return {k: int(v) * 1024 for k, v in re.findall(r"^(VmHWM|VmRSS|RssAnon|RssFile):\s+(\d+) kB", text, re.M)}


def progress(phase: str, **kw) -> None:
    """One progress line on stderr for the parent (profiling.measure reads them as they come)."""
    sys.stderr.write("@@PROGRESS@@" + json.dumps({"phase": phase, **kw}) + "\n")
    sys.stderr.flush()


def _peak_rss() -> int:
    st = _status()
    if "VmHWM" in st:
        return st["VmHWM"]
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024


class _LogCapture:
    """Collect llama.cpp's log lines (buffer sizes) through its log callback."""

    def __init__(self):
        import ctypes

        import llama_cpp

        self.lines: list[str] = []
        self._partial = ""

        @llama_cpp.llama_log_callback
        def _cb(level, text, user_data):  # noqa: ARG001
            s = text.decode("utf-8", errors="replace")
            self._partial += s
            while "\n" in self._partial:
                line, self._partial = self._partial.split("\n", 1)
                self.lines.append(line)

        self._cb = _cb  # keep a reference
        llama_cpp.llama_log_set(_cb, ctypes.c_void_p(0))

    def buffers(self) -> dict[str, float]:
        """MiB per buffer kind as llama.cpp logged them (summed over devices)."""
        out: dict[str, float] = {}
        pats = {
            "model_mapped": r"(\S+)_Mapped model buffer size =\s+([\d.]+) MiB",
            "model_repack": r"(\S+)_REPACK model buffer size =\s+([\d.]+) MiB",
            "model": r"(\S+) model buffer size =\s+([\d.]+) MiB",
            "kv": r"(\S+) KV buffer size =\s+([\d.]+) MiB",
            "output": r"(\S+)\s+output buffer size =\s+([\d.]+) MiB",
            "compute": r"(\S+) compute buffer size =\s+([\d.]+) MiB",
        }
        for line in self.lines:
            for key, pat in pats.items():
                m = re.search(pat, line)
                if m:
                    if key == "model" and ("_Mapped" in line or "_REPACK" in line):
                        continue
                    out[key] = out.get(key, 0.0) + float(m.group(2))
                    break
        return out


def run(model: str, n_ctx: int, prompt_tokens: int, gen_tokens: int, repeats: int, threads: int,
        flash_attn: bool, swa_full: bool, n_batch: int, n_ubatch: int, fill: bool,
        type_k: str = "f16", type_v: str = "f16") -> dict:
    import llama_cpp

    before = _status()
    progress("load", model=os.path.basename(model))
    logs = _LogCapture()
    ggml_types = {"f16": 1, "q8_0": 8, "q4_0": 2, "f32": 0, "bf16": 30}
    t0 = time.perf_counter()
    llm = llama_cpp.Llama(
        model_path=model, n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads, n_batch=n_batch,
        n_ubatch=n_ubatch, flash_attn=flash_attn, swa_full=swa_full, verbose=True,
        type_k=ggml_types[type_k], type_v=ggml_types[type_v], no_perf=False,
    )
    load_s = time.perf_counter() - t0
    after_load = _status()
    n_vocab = llm.n_vocab()
    prompt = [(i * 7919) % (n_vocab - 300) + 259 for i in range(prompt_tokens)]
    next_tok = 300

    def _eval(tokens):
        llm.eval(tokens)
        llama_cpp.llama_synchronize(llm.ctx)  # completes the work and books llama.cpp's own timings

    def _perf():
        p = llama_cpp.llama_perf_context(llm.ctx)
        return {"t_p_eval_ms": p.t_p_eval_ms, "n_p_eval": p.n_p_eval, "t_eval_ms": p.t_eval_ms, "n_eval": p.n_eval}

    # warm-up: the whole prompt and some decode steps (speeds keep rising over the first
    # repeats otherwise, as pages and caches settle)
    progress("warm-up", prompt_tokens=prompt_tokens)
    llm.reset()
    _eval(prompt)
    for _ in range(16):
        _eval([next_tok])

    runs = []
    for rep in range(repeats):
        progress("prefill", repeat=rep + 1, repeats=repeats, prompt_tokens=prompt_tokens)
        llm.reset()
        llm._ctx.kv_cache_clear()
        llama_cpp.llama_perf_context_reset(llm.ctx)
        t1 = time.perf_counter()
        _eval(prompt)
        t_prompt = time.perf_counter() - t1
        p1 = _perf()
        t_first = None
        t2 = time.perf_counter()
        for i in range(gen_tokens):
            _eval([next_tok])
            if i == 0:
                t_first = time.perf_counter() - t2
            if (i + 1) % 32 == 0 or i + 1 == gen_tokens:
                progress("decode", repeat=rep + 1, repeats=repeats, tokens=i + 1, gen_tokens=gen_tokens)
        t_gen = time.perf_counter() - t2
        p2 = _perf()
        runs.append({
            "prefill_s": t_prompt,
            "prefill_tps": prompt_tokens / t_prompt if t_prompt else None,
            "ttft_ms": (t_prompt + (t_first or 0.0)) * 1000,
            "decode_s": t_gen,
            "decode_tps": gen_tokens / t_gen if t_gen else None,
            "llama_prefill_tps": p1["n_p_eval"] / p1["t_p_eval_ms"] * 1000 if p1["t_p_eval_ms"] else None,
            "llama_decode_tps": (p2["n_eval"] - (p1["n_eval"] if p1["t_eval_ms"] else 0)) / (p2["t_eval_ms"] - p1["t_eval_ms"]) * 1000
            if p2["t_eval_ms"] > p1["t_eval_ms"] else None,
        })

    if fill and n_ctx > prompt_tokens + gen_tokens + 8:
        # fill the context to its end so the KV cache and attention buffers are at their largest
        llm.reset()
        llm._ctx.kv_cache_clear()
        remaining = n_ctx - 8
        progress("fill", tokens=remaining)
        filler = [(i * 104729) % (n_vocab - 300) + 259 for i in range(remaining)]
        _eval(filler)

    end = _status()
    return {
        "model_path": model,
        "runtime": "llama-cpp-python",
        "runtime_version": llama_cpp.__version__,
        "settings": {
            "n_ctx": llm.n_ctx(), "n_batch": n_batch, "n_ubatch": n_ubatch, "threads": threads,
            "flash_attn": flash_attn, "swa_full": swa_full, "type_k": type_k, "type_v": type_v,
            "prompt_tokens": prompt_tokens, "gen_tokens": gen_tokens, "repeats": repeats, "filled": fill,
        },
        "load_s": load_s,
        "runs": runs,
        "buffers_mib": logs.buffers(),
        "rss": {
            "before_load": before.get("VmRSS"),
            "after_load": after_load.get("VmRSS"),
            "peak": _peak_rss(),
            "anon_end": end.get("RssAnon"),
            "file_end": end.get("RssFile"),
        },
        "system_info": llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", required=True)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--flash-attn", type=int, default=0)
    ap.add_argument("--swa-full", type=int, default=1)
    ap.add_argument("--n-batch", type=int, default=512)
    ap.add_argument("--n-ubatch", type=int, default=512)
    ap.add_argument("--fill", type=int, default=0, help="fill the whole context at the end (peak memory)")
    ap.add_argument("--type-k", default="f16")
    ap.add_argument("--type-v", default="f16")
    a = ap.parse_args(argv)
    res = run(a.model, a.ctx, a.prompt_tokens, a.gen_tokens, a.repeats, a.threads, bool(a.flash_attn),
              bool(a.swa_full), a.n_batch, a.n_ubatch, bool(a.fill), a.type_k, a.type_v)
    sys.stdout.write("@@RESULT@@" + json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
