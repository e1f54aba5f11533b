"""One training step of models.Transformer against the same architecture in PyTorch.

A step is forward, cross-entropy (PAD ignored), backward and an Adam update, on one batch of
random tokens with trailing padding. Both models are post-norm with ReLU and dropout 0 (so
neither spends time drawing masks), start from the same weights (the PyTorch one is loaded
from ours, and the script checks both give the same first loss), and run interleaved at 1 and
2 BLAS threads. Also: peak memory of a step (one subprocess per contender, see
benchmarks/README.md) and one multi-head attention block against a hand-written numpy floor.

Run from the repository root:
    python -m benchmarks.bench_train_step              # ~5 minutes
    python -m benchmarks.bench_train_step --quick      # tiny sizes, 1 repeat (the smoke test)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

import numpy as np

import tinygrad_attn as tg
import tinygrad_attn.functional as F
from benchmarks import _common, _memory
from benchmarks._mha_floor import mha_forward_backward, params_of
from models import Transformer
from tinygrad_attn import nn

PAD, BOS, EOS = 0, 1, 2


@dataclass(frozen=True)
class TrainConfig:
    """Model and batch sizes of one benchmark configuration."""

    d_model: int
    nhead: int
    ffn: int
    layers: int  # encoder layers = decoder layers
    vocab: int  # source vocab = target vocab
    length: int  # source length = target length
    batch: int


CONFIGS = {
    "tiny": TrainConfig(64, 4, 256, 2, 100, 16, 64),
    "small": TrainConfig(128, 8, 512, 3, 500, 24, 64),
}
QUICK = {"quick": TrainConfig(16, 2, 32, 1, 20, 6, 4)}


def make_batch(cfg: TrainConfig, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random (src, tgt_in, tgt_out), each (B, length), every row padded after a random length."""
    rng = np.random.default_rng(seed)
    src = rng.integers(3, cfg.vocab, size=(cfg.batch, cfg.length))
    words = rng.integers(3, cfg.vocab, size=(cfg.batch, cfg.length))
    tgt_in = np.full((cfg.batch, cfg.length), PAD)
    tgt_out = np.full((cfg.batch, cfg.length), PAD)
    for row in range(cfg.batch):
        src[row, rng.integers(cfg.length // 2, cfg.length + 1) :] = PAD
        n = rng.integers(cfg.length // 2, cfg.length)  # target words; + BOS or EOS fits
        tgt_in[row, 0], tgt_in[row, 1 : n + 1] = BOS, words[row, :n]
        tgt_out[row, :n], tgt_out[row, n] = words[row, :n], EOS
    return src, tgt_in, tgt_out


def build_ours(cfg: TrainConfig, max_len: int = 64, seed: int = 0) -> tuple:
    """Our model (dropout 0, post-norm, ReLU) and its Adam optimizer."""
    tg.manual_seed(seed)
    model = Transformer(
        cfg.vocab, cfg.vocab, cfg.d_model, cfg.nhead, cfg.layers, cfg.layers, cfg.ffn,
        dropout=0.0, max_len=max(max_len, cfg.length), pad_id=PAD,
    )  # fmt: skip
    return model, tg.optim.Adam(model.parameters(), lr=1e-4)


def ours_step(model, optimizer, batch) -> float:
    """Forward, loss, backward, Adam step; returns the loss."""
    src, tgt_in, tgt_out = batch
    loss = F.cross_entropy(model(src, tgt_in), tgt_out, ignore_index=PAD)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def build_torch(torch, ours):
    """The PyTorch twin of `ours` with the same weights, and its Adam optimizer."""
    from benchmarks._torch_models import TorchTransformer, copy_weights

    model = TorchTransformer(ours)
    copy_weights(ours, model)
    return model, torch.optim.Adam(model.parameters(), lr=1e-4)


def torch_step(torch, model, optimizer, batch) -> float:
    src, tgt_in, tgt_out = batch
    logits = model(src, tgt_in)
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=PAD
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def time_config(name: str, cfg: TrainConfig, torch, thread_counts, repeats: int) -> list[list]:
    """Interleaved step times of both contenders at each thread count -> table rows."""
    batch = make_batch(cfg)
    tokens = cfg.batch * 2 * cfg.length  # source + target positions per step
    model, optimizer = build_ours(cfg)
    contenders = {"ours": lambda: ours_step(model, optimizer, batch)}
    if torch is not None:
        t_model, t_optimizer = build_torch(torch, model)
        t_batch = tuple(torch.from_numpy(a) for a in batch)
        first = (
            ours_step(model, optimizer, batch),
            torch_step(torch, t_model, t_optimizer, t_batch),
        )
        print(f"{name}: same weights, first loss ours {first[0]:.5f} torch {first[1]:.5f}")
        contenders["torch"] = lambda: torch_step(torch, t_model, t_optimizer, t_batch)
    rows = []
    for n in thread_counts:
        with _common.threads(n, torch):
            times = _common.interleave(contenders, repeats, warmup=2)
        for who, samples in times.items():
            stats = _common.Stats.of(samples)
            vs = _common.ratio(times, "ours", "torch").ratio() if who == "ours" and torch else ""
            rows.append([name, n, who, stats.ms(), f"{tokens / stats.median:9.0f}", vs])
    return rows


def mha_contenders(torch, b: int, t: int, e: int, h: int) -> dict:
    """Forward + backward of one self-attention block: ours, the numpy floor and torch.

    Shapes: x (b, t, e) with h heads; every contender gets the same x, weights and upstream
    gradient, and computes dx and all parameter gradients.
    """
    tg.manual_seed(0)
    attn = nn.MultiheadAttention(e, h)
    rng = np.random.default_rng(0)
    x = tg.Tensor(rng.standard_normal((b, t, e), dtype=np.float32), requires_grad=True)
    grad_out = rng.standard_normal((b, t, e), dtype=np.float32)
    params = params_of(attn)

    def ours() -> None:
        x.grad = None
        attn.zero_grad()
        out, _ = attn(x, x, x, need_weights=False)
        out.backward(grad_out)

    contenders = {
        "ours": ours,
        "numpy floor": lambda: mha_forward_backward(x.data, params, grad_out, h),
    }
    if torch is not None:
        contenders["torch"] = _torch_mha(torch, attn, x.data, grad_out)
    ours()
    _, floor_grads = mha_forward_backward(x.data, params, grad_out, h)
    error = np.abs(floor_grads["x"] - x.grad.data).max() / np.abs(x.grad.data).max()
    if error > 1e-4:
        raise AssertionError(f"MHA floor's dx differs from ours (max rel err {error:.1e})")
    return contenders


def time_mha(torch, thread_counts, repeats: int, quick: bool) -> list[list]:
    """The MHA block at B=64, T=32, E=128, H=8 -> table rows with ratios to the floor."""
    contenders = mha_contenders(torch, *((4, 8, 16, 2) if quick else (64, 32, 128, 8)))
    rows = []
    for n in thread_counts:
        with _common.threads(n, torch):
            inner = _inner(contenders, 0 if quick else 0.05)
            times = _common.interleave(contenders, repeats, warmup=2, inner=inner)
        for who, samples in times.items():
            floor = _common.ratio(times, who, "numpy floor").ratio()
            rows.append([n, who, _common.Stats.of(samples).ms(), floor])
    return rows


def _inner(contenders: dict, target_s: float) -> dict[str, int]:
    """Calls per timed sample so that each sample lasts about target_s."""
    return {name: _common.calibrate(fn, target_s) for name, fn in contenders.items()}


def _torch_mha(torch, attn, x: np.ndarray, grad_out: np.ndarray):
    module = torch.nn.MultiheadAttention(attn.embed_dim, attn.num_heads, batch_first=True)
    xt = torch.from_numpy(x.copy()).requires_grad_(True)
    gt = torch.from_numpy(grad_out)

    def run() -> None:
        xt.grad = None
        module.zero_grad(set_to_none=True)
        out, _ = module(xt, xt, xt, need_weights=False)
        out.backward(gt)

    return run


def memory_rows(configs: dict[str, TrainConfig], with_torch: bool) -> list[list]:
    """Peak memory of each contender's steps, each measured in a fresh subprocess."""
    rows = []
    for name, cfg in configs.items():
        results = {}
        for who in ["ours"] + (["torch"] if with_torch else []):
            results[who] = _run_memory_child(who, cfg)
        for who, r in results.items():
            ratio = ""
            if who == "ours" and "torch" in results:
                ratio = f"{r['delta_mb'] / results['torch']['delta_mb']:.2f}x"
            traced = f"{r['traced_step_mb']:.1f}" if "traced_step_mb" in r else ""
            rows.append(
                [name, who, f"{r['delta_mb']:.1f}", ratio, traced, f"{r['baseline_mb']:.0f}"]
            )
    return rows


def _run_memory_child(who: str, cfg: TrainConfig) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [sys.executable, "-m", "benchmarks.bench_train_step", "--memory-child", who]
    command += ["--child-config", json.dumps(asdict(cfg))]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def memory_child(who: str, cfg: TrainConfig) -> None:
    """Build one contender, then report its RSS growth over 3 steps as a JSON line."""
    batch = make_batch(cfg)
    model, optimizer = build_ours(cfg)
    if who == "torch":
        import torch

        model, optimizer = build_torch(torch, model)
        batch = tuple(torch.from_numpy(a) for a in batch)
        step = lambda: torch_step(torch, model, optimizer, batch)
    else:
        step = lambda: ours_step(model, optimizer, batch)
    result = _memory.measure(step, steps=3, trace_numpy=who == "ours")
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repeat, 1 thread")
    parser.add_argument("--repeats", type=int, default=9, help="timed rounds per contender")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--memory-child", choices=["ours", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--child-config", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child, TrainConfig(**json.loads(args.child_config)))
        return
    torch = _common.import_torch()
    print(_common.runtime_report(torch))
    configs = QUICK if args.quick else CONFIGS
    repeats, thread_counts = (1, [1]) if args.quick else (args.repeats, args.threads)
    print(f"\nTrain step (forward + loss + backward + Adam), {repeats} interleaved rounds")
    rows = []
    for name, cfg in configs.items():
        rows += time_config(name, cfg, torch, thread_counts, repeats)
    headers = ["config", "threads", "who", "ms/step median [min-max]", "tokens/s", "ours/torch"]
    print(_common.table(headers, rows))
    print("\nMHA block forward + backward (self-attention, no mask; B=64 T=32 E=128 H=8)")
    mha = time_mha(torch, thread_counts, repeats, args.quick)
    print(_common.table(["threads", "who", "ms median [min-max]", "vs numpy floor"], mha))
    if not args.no_memory:
        print("\nPeak memory of a train step (RSS growth over 3 steps, fresh process, 1 thread)")
        headers = ["config", "who", "MB", "ours/torch", "numpy traced MB", "baseline RSS MB"]
        print(_common.table(headers, memory_rows(configs, torch is not None)))


if __name__ == "__main__":
    main()
