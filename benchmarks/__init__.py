"""Benchmarks: each prints what it measured (with its spread) or replays stored runs; the README names the
command beside every figure it quotes (`python -m benchmarks.bench_NAME`)."""
