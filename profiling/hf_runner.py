"""Run one model with Hugging Face Transformers (PyTorch, CPU) in this process and report what happened.

The second runtime of `advisor profile` (`--runtime transformers`), for checkpoints and inputs GGUF
does not cover. Meant to run in a fresh subprocess (`python -m profiling.hf_runner ...`) so that the
peak RSS is the model's. Prints one JSON object in the same form as profiling.runner: load time,
prefill and decode speed per repeat, peak RSS split into anonymous and file-backed memory, the
settings and the versions.

The model is a local checkpoint folder (`--model DIR`, `from_pretrained`, safetensors mapped from
the file as for a download). `--build DIR --architecture JSON` first writes such a folder with random
weights and the knowledge base architecture's shapes (`from_config` + `save_pretrained`, in its own
process): the same tensors, so the same memory and speed, and meaningless text.
Decoding runs the model's forward pass one token at a time with its DynamicCache (what
`generate()` does, without sampling), feeding a fixed id back, so every repeat does the same work.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from profiling.runner import _peak_rss, _status

DTYPES = ("bfloat16", "float16", "float32")


def hf_config(arch: dict, gguf_arch: str):
    """A Transformers config with the architecture's shapes (Qwen2/2.5, Qwen3, Llama, Phi-3/4, Gemma 3 text)."""
    import transformers as tf

    a = arch
    common = dict(vocab_size=a["vocab_size"], hidden_size=a["hidden_size"], intermediate_size=a["intermediate_size"],
                  num_hidden_layers=a["layers"], num_attention_heads=a["attention_heads"],
                  num_key_value_heads=a["kv_heads"], tie_word_embeddings=a["tie_embeddings"],
                  max_position_embeddings=a.get("max_position_embeddings") or a["context_length"])
    if gguf_arch == "qwen2":
        return tf.Qwen2Config(**common)
    if gguf_arch == "qwen3":
        return tf.Qwen3Config(**common, head_dim=a["head_dim"])
    if gguf_arch == "llama":
        return tf.LlamaConfig(**common, head_dim=a["head_dim"], attention_bias=a.get("attention_bias", False))
    if gguf_arch == "phi3":
        return tf.Phi3Config(**common)
    if gguf_arch == "gemma3":
        n, pattern = a["layers"], a.get("sliding_window_pattern") or "5:1"
        local, glob = (int(x) for x in pattern.split(":"))
        types = ["full_attention" if (i + 1) % (local + glob) == 0 else "sliding_attention" for i in range(n)]
        return tf.Gemma3TextConfig(**common, head_dim=a["head_dim"], sliding_window=a.get("sliding_window") or 512,
                                   layer_types=types)
    raise ValueError(f"no Transformers config for '{gguf_arch}'")


def build(arch: dict, gguf_arch: str, dtype: str, out: str) -> None:
    """Write a checkpoint folder (config.json + safetensors) with random weights and the architecture's shapes,
    so that a synthetic run loads it with from_pretrained as a downloaded checkpoint would be."""
    import shutil
    import tempfile

    import torch
    import transformers

    torch.manual_seed(0)
    lm = transformers.AutoModelForCausalLM.from_config(hf_config(arch, gguf_arch), dtype=getattr(torch, dtype))
    tmp = tempfile.mkdtemp(dir=os.path.dirname(out) or ".", prefix=".partial-")
    try:
        lm.save_pretrained(tmp)
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


FILL_CHUNK = 2048  # tokens per forward pass when filling the context (the prefill chunk advisor.memory assumes)


def run(model: str, dtype: str, prompt_tokens: int, gen_tokens: int, repeats: int, threads: int,
        fill_to: int = 0) -> dict:
    import torch
    import transformers

    before = _status()
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    lm = transformers.AutoModelForCausalLM.from_pretrained(model, dtype=getattr(torch, dtype))
    lm.eval()
    load_s = time.perf_counter() - t0
    after_load = _status()
    n_vocab = lm.config.get_text_config().vocab_size
    prompt = torch.tensor([[(i * 7919) % (n_vocab - 300) + 259 for i in range(prompt_tokens)]])
    next_tok = torch.tensor([[300]])

    import inspect

    # Transformers 5.2x names the cache argument `cache`; earlier versions `past_key_values`
    cache_arg = "cache" if "cache" in inspect.signature(lm.forward).parameters else "past_key_values"

    def prefill():
        cache = transformers.DynamicCache(config=lm.config)
        lm(input_ids=prompt, use_cache=True, logits_to_keep=1, **{cache_arg: cache})
        return cache

    def step(cache, pos):
        lm(input_ids=next_tok, use_cache=True, cache_position=torch.tensor([pos]), logits_to_keep=1,
           **{cache_arg: cache})
        return cache

    runs = []
    with torch.inference_mode():
        past = prefill()  # warm-up: the prompt and some decode steps
        for i in range(8):
            past = step(past, prompt_tokens + i)
        for _ in range(repeats):
            t1 = time.perf_counter()
            past = prefill()
            t_prompt = time.perf_counter() - t1
            t_first = None
            t2 = time.perf_counter()
            for i in range(gen_tokens):
                past = step(past, prompt_tokens + i)
                if i == 0:
                    t_first = time.perf_counter() - t2
            t_gen = time.perf_counter() - t2
            runs.append({
                "prefill_s": t_prompt, "prefill_tps": prompt_tokens / t_prompt if t_prompt else None,
                "ttft_ms": (t_prompt + (t_first or 0.0)) * 1000, "decode_s": t_gen,
                "decode_tps": gen_tokens / t_gen if t_gen else None,
            })
        if fill_to > prompt_tokens + gen_tokens:
            # hold fill_to tokens in the cache, as a conversation at the full context would (the memory peak)
            cache = transformers.DynamicCache(config=lm.config)
            pos = 0
            while pos < fill_to:
                n = min(FILL_CHUNK, fill_to - pos)
                ids = torch.tensor([[(i * 104729) % (n_vocab - 300) + 259 for i in range(pos, pos + n)]])
                lm(input_ids=ids, use_cache=True, logits_to_keep=1, cache_position=torch.arange(pos, pos + n),
                   **{cache_arg: cache})
                pos += n
    end = _status()
    return {
        "model_path": model,
        "runtime": "transformers",
        "runtime_version": f"{transformers.__version__} (torch {torch.__version__})",
        "settings": {"dtype": dtype, "threads": threads, "prompt_tokens": prompt_tokens, "gen_tokens": gen_tokens,
                     "repeats": repeats, "cache": "DynamicCache", "filled": fill_to > prompt_tokens + gen_tokens,
                     "fill_tokens": fill_to},
        "load_s": load_s,
        "runs": runs,
        "buffers_mib": {},
        "rss": {"before_load": before.get("VmRSS"), "after_load": after_load.get("VmRSS"), "peak": _peak_rss(),
                "anon_end": end.get("RssAnon"), "file_end": end.get("RssFile")},
        "system_info": _system_info(torch),
    }


def _system_info(torch) -> str:
    """Threads and the math libraries PyTorch runs on (from torch.__config__.parallel_info())."""
    lines = [x.strip() for x in torch.__config__.parallel_info().splitlines()]
    keep = [x for x in lines if x.startswith(("at::get_num_threads", "ATen parallel backend", "Intel(R) oneAPI",
                                              "Intel(R) MKL-DNN", "OpenMP"))]
    return "; ".join(keep)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--model", help="a local checkpoint folder (config.json + safetensors)")
    ap.add_argument("--architecture", help="with --build: JSON of a knowledge-base architecture")
    ap.add_argument("--gguf-arch", help="the architecture's family (qwen2, qwen3, llama, phi3, gemma3)")
    ap.add_argument("--dtype", choices=DTYPES, default="bfloat16")
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--fill-to", type=int, default=0, help="finally fill the cache to this many tokens (memory peak)")
    ap.add_argument("--build", help="write a random-weight checkpoint of --architecture to this folder and exit")
    a = ap.parse_args(argv)
    arch = json.loads(a.architecture) if a.architecture else None
    if a.build:
        build(arch, a.gguf_arch, a.dtype, a.build)
        return
    if not a.model:
        ap.error("--model DIR (or --build DIR --architecture JSON)")
    res = run(a.model, a.dtype, a.prompt_tokens, a.gen_tokens, a.repeats, a.threads, a.fill_to)
    sys.stdout.write("@@RESULT@@" + json.dumps(res) + "\n")


if __name__ == "__main__":
    main()
