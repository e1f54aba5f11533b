"""Greedy decoding with and without the key/value cache, and PyTorch without one.

64 source sentences (length 24, some padded) are decoded greedily to exactly 32 and 128 tokens
by the small-config model of bench_train_step (d_model 128, 8 heads, 3+3 layers, vocab 500,
untrained: eos_id=-1 is never produced, so every row runs to full length). Without a cache each
step re-runs the decoder over the whole prefix, so the time grows quadratically with length;
with it, each step feeds one token per row (models/cache.py). The PyTorch twin (same weights)
decodes without a cache, the way nn.TransformerDecoder is used. Also beam search (beam 4, 16
sources) with and without the cache. Outputs are checked equal before timing.

Run from the repository root:
    python -m benchmarks.bench_decode              # ~3 minutes
    python -m benchmarks.bench_decode --quick      # tiny sizes, 1 repeat (the smoke test)
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks import _common
from benchmarks._train import CONFIGS, QUICK, TrainConfig, build_ours

BOS, NEVER = 1, -1  # eos_id=-1 never comes out of argmax: every row decodes to max_len


def _sources(cfg: TrainConfig, batch: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    src = rng.integers(3, cfg.vocab, size=(batch, cfg.length))
    for row in range(0, batch, 3):
        src[row, rng.integers(cfg.length // 2, cfg.length) :] = 0  # padding
    return src


def greedy_contenders(torch, model, src: np.ndarray, length: int) -> dict:
    """Zero-argument greedy decodes to `length` tokens; checks they all agree first."""
    contenders = {
        "ours, cache": lambda: model.greedy_decode(src, BOS, NEVER, length),
        "ours, no cache": lambda: model.greedy_decode(src, BOS, NEVER, length, use_cache=False),
    }
    outputs = {name: fn() for name, fn in contenders.items()}
    if torch is not None:
        from benchmarks._torch_models import TorchTransformer, copy_weights, greedy_decode

        twin = TorchTransformer(model)
        copy_weights(model, twin)
        src_t = torch.from_numpy(src)
        contenders["torch, no cache"] = lambda: greedy_decode(twin, src_t, BOS, NEVER, length)
        outputs["torch, no cache"] = contenders["torch, no cache"]().numpy()
    reference = outputs["ours, no cache"]
    agree = {name: float(np.mean(out == reference)) for name, out in outputs.items()}
    print(f"length {length}: tokens equal to ours without cache: {agree}")
    return contenders


def time_greedy(torch, model, src, lengths: list[int], repeats: int) -> list[list]:
    """Rows: length, contender, ms per decode, ms per generated token, time / cached time."""
    rows = []
    for length in lengths:
        contenders = greedy_contenders(torch, model, src, length)
        times = _common.interleave(contenders, repeats, warmup=0)
        for name, samples in times.items():
            stats = _common.Stats.of(samples)
            per_token = stats.median / (length - 1) * 1e3
            cached = _common.ratio(times, name, "ours, cache").ratio()
            rows.append([length, name, stats.ms(), f"{per_token:.2f}", cached])
    return rows


def time_beam(model, src: np.ndarray, length: int, beam: int, repeats: int) -> list[list]:
    contenders = {
        "ours, cache": lambda: model.beam_search(src, beam, BOS, NEVER, length),
        "ours, no cache": lambda: model.beam_search(src, beam, BOS, NEVER, length, use_cache=False),
    }
    outputs = [fn() for fn in contenders.values()]
    print(f"beam {beam}, length {length}: outputs equal: {np.array_equal(*outputs)}")
    times = _common.interleave(contenders, repeats, warmup=0)
    return [
        [length, name, _common.Stats.of(s).ms(), _common.ratio(times, name, "ours, cache").ratio()]
        for name, s in times.items()
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per contender")
    parser.add_argument("--threads", type=int, default=1, help="BLAS / torch threads")
    args = parser.parse_args(argv)
    torch = _common.import_torch()
    print(_common.runtime_report(torch))
    cfg = QUICK["quick"] if args.quick else CONFIGS["small"]
    model, _ = build_ours(cfg, max_len=256)
    repeats = 1 if args.quick else args.repeats
    lengths = [8, 16] if args.quick else [32, 128]
    src = _sources(cfg, 8 if args.quick else 64)
    with _common.threads(args.threads, torch):
        print(f"\nGreedy decoding of {src.shape[0]} sequences, {args.threads} thread(s)")
        rows = time_greedy(torch, model, src, lengths, repeats)
        headers = ["length", "who", "ms median [min-max]", "ms/token", "time / ours cached"]
        print(_common.table(headers, rows))
        beam_src = src[: 4 if args.quick else 16]
        print(f"\nBeam search, beam 4, {beam_src.shape[0]} sources")
        rows = time_beam(model, beam_src, lengths[0], 4, repeats)
        print(_common.table(["length", "who", "ms median [min-max]", "time / ours cached"], rows))
    print(f"\nat the end: {_common.load_report()}")


if __name__ == "__main__":
    main()
