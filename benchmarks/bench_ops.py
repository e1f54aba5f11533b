"""Framework overhead per op, and how attention and the train step scale.

1. Per-op overhead: forward + backward of single ops on small tensors (16 x 32 floats), where
   the arithmetic is nearly free and what is left is the framework's bookkeeping, against the
   same math written directly in numpy (and PyTorch's time for the op).
2. Attention scaling: one self-attention block (B=2, E=128, H=8) forward + backward at sequence
   lengths 64 ... 1024, ours against the numpy floor of bench_train_step and PyTorch.
3. Train-step scaling: the train step of bench_train_step at d_model 32 ... 256.

Run from the repository root:
    python -m benchmarks.bench_ops                        # ~1 minute
    python -m benchmarks.bench_ops --plot ops.png         # also plot 2 and 3 (needs matplotlib)
    python -m benchmarks.bench_ops --quick                # tiny sizes, 1 repeat (the smoke test)
"""

from __future__ import annotations

import argparse

from benchmarks import _common, _op_table
from benchmarks._mha import mha_contenders
from benchmarks._train import TrainConfig, train_contenders


def time_ops(torch, repeats: int, quick: bool) -> list[list]:
    """Per-op rows: ours, numpy and torch microseconds, the overhead and the ratios."""
    rows = []
    for case in _op_table.cases(torch, rows=4 if quick else 16, cols=8 if quick else 32):
        contenders = {"ours": case.ours, "numpy": case.numpy}
        if case.torch is not None:
            contenders["torch"] = case.torch
        target = 0 if quick else 0.02  # seconds per timed sample
        inner = {name: _common.calibrate(fn, target) for name, fn in contenders.items()}
        times = _common.interleave(contenders, repeats, warmup=3, inner=inner)
        ours, numpy = _common.Stats.of(times["ours"]), _common.Stats.of(times["numpy"])
        torch_us = f"{_common.Stats.of(times['torch']).median * 1e6:7.1f}" if case.torch else ""
        vs_torch = _common.ratio(times, "ours", "torch").ratio() if case.torch else ""
        overhead = f"{(ours.median - numpy.median) * 1e6:7.1f}"
        ratio = _common.ratio(times, "ours", "numpy").ratio()
        rows.append([case.name, ours.us(), f"{numpy.median * 1e6:7.1f}", torch_us, overhead])
        rows[-1] += [ratio, vs_torch]
    return rows


def time_attention(torch, lengths: list[int], repeats: int, sizes: tuple) -> list[list]:
    """[T, ours ms, floor ms, torch ms, ours/floor, ours/torch] per sequence length.

    sizes: (B, E, H) of the attention block."""
    batch, embed, heads = sizes
    rows = []
    for length in lengths:
        contenders = mha_contenders(torch, batch, length, embed, heads)
        inner = {
            name: _common.calibrate(fn, 0.05 if repeats > 1 else 0)
            for name, fn in contenders.items()
        }
        times = _common.interleave(contenders, repeats, warmup=1, inner=inner)
        rows.append([length] + _ms_and_ratios(times, "numpy floor"))
    return rows


def time_train_scaling(torch, widths: list[int], repeats: int, quick: bool) -> list[list]:
    """[d_model, ours ms, torch ms, ours/torch] of the train step at each model width."""
    rows = []
    for d_model in widths:
        cfg = TrainConfig(d_model, max(1, d_model // 16), 4 * d_model, 1 if quick else 2,
                          20 if quick else 500, 6 if quick else 24, 4 if quick else 64)  # fmt: skip
        contenders = train_contenders(torch, cfg)
        times = _common.interleave(contenders, repeats, warmup=2)
        rows.append([d_model] + _ms_and_ratios(times, None))
    return rows


def _ms_and_ratios(times: dict[str, list[float]], floor: str | None) -> list[str]:
    """Median ms of each contender, then ours / floor and ours / torch where present."""
    cells = [f"{_common.Stats.of(times[name]).median * 1e3:.2f}" for name in times]
    if floor is not None:
        cells.append(_common.ratio(times, "ours", floor).ratio())
    if "torch" in times:
        cells.append(_common.ratio(times, "ours", "torch").ratio())
    return cells


def plot(path: str, attention: list[list], train: list[list], with_torch: bool) -> None:
    """Two log-log panels: attention block time vs T, train step time vs d_model."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (pip install matplotlib)")
        return
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    names = ["ours", "numpy floor"] + (["torch"] if with_torch else [])
    for i, name in enumerate(names):
        left.loglog(
            [r[0] for r in attention], [float(r[1 + i]) for r in attention], "o-", label=name
        )
    for i, name in enumerate(["ours"] + (["torch"] if with_torch else [])):
        right.loglog([r[0] for r in train], [float(r[1 + i]) for r in train], "o-", label=name)
    left.set(xlabel="sequence length T", ylabel="ms (forward + backward)", title="MHA block")
    right.set(xlabel="d_model", ylabel="ms per step", title="train step")
    for axes in (left, right):
        axes.legend()
        axes.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per contender")
    parser.add_argument("--threads", type=int, default=1, help="BLAS / torch threads")
    parser.add_argument("--plot", help="write the scaling plot to this PNG file")
    args = parser.parse_args(argv)
    torch = _common.import_torch()
    print(_common.runtime_report(torch))
    repeats = 1 if args.quick else args.repeats
    with _common.threads(args.threads, torch):
        print(f"\nPer-op forward + backward on small tensors, {args.threads} thread(s)")
        headers = ["op", "ours us median [min-max]", "numpy us", "torch us", "overhead us"]
        headers += ["ours/numpy", "ours/torch"]
        print(_common.table(headers, time_ops(torch, repeats, args.quick)))
        attention = _attention_section(torch, repeats, args.quick)
        train = _train_section(torch, repeats, args.quick)
    print(f"\nat the end: {_common.load_report()}")
    if args.plot:
        plot(args.plot, attention, train, torch is not None)


def _attention_section(torch, repeats: int, quick: bool) -> list[list]:
    sizes = (2, 16, 2) if quick else (2, 128, 8)
    lengths = [8, 16] if quick else [64, 128, 256, 512, 1024]
    b, e, h = sizes
    print(f"\nMHA block forward + backward vs sequence length (B={b}, E={e}, H={h}), ms")
    rows = time_attention(torch, lengths, repeats, sizes)
    headers = ["T", "ours", "numpy floor"] + (["torch"] if torch else [])
    headers += ["ours/floor"] + (["ours/torch"] if torch else [])
    print(_common.table(headers, rows))
    return rows


def _train_section(torch, repeats: int, quick: bool) -> list[list]:
    sizes = "1+1 layers, vocab 20, len 6, batch 4" if quick else "2+2 layers, vocab 500, len 24"
    print(
        f"\nTrain step vs d_model (heads d/16, ffn 4d, {sizes}{'' if quick else ', batch 64'}), ms"
    )
    rows = time_train_scaling(torch, [8, 16] if quick else [32, 64, 128, 256], repeats, quick)
    headers = ["d_model", "ours"] + (["torch", "ours/torch"] if torch else [])
    print(_common.table(headers, rows))
    return rows


if __name__ == "__main__":
    main()
