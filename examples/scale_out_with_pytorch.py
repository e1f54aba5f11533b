"""Past one machine: continue training our translation model with PyTorch's
DistributedDataParallel, bring it back, and study it with our tools.

    python examples/train_translation.py --out runs/zh_en                 # first, our own run
    python examples/scale_out_with_pytorch.py --run runs/zh_en --out runs/zh_en_ddp

It loads the run (config.json, vocab.json, model.npz), exports the model with
`tinygrad_attn.interop.to_torch` (checking that both give the same logits), trains it on for
--steps updates with DistributedDataParallel on --world-size CPU processes (gloo backend,
rendezvous on tcp://127.0.0.1, loopback only), then imports it back with `from_torch` and
runs train_translation.py's final report on it: the test table, samples and decoding walk.
Each process takes its own batches from train_translation.py's epoch_batches (the same
bucketing, continuing after the epochs the run has seen), so one update sees world-size x
batch-size pairs; the loss is the same label-smoothed cross-entropy (without the run's
question/statement consistency term, which is not ported), the update the same clipped Adam
with warmup and cosine. Measured on 2 CPU cores, continuing a small run (294k parameters, 37 s,
test_iid exact match 68.4%) with `--run runs/small --out runs/small_ddp`:

    python examples/train_translation.py --out runs/small --d-model 64 --dim-feedforward 256 \\
        --steps 400 --eval-every 400 --eval-size 200 --threads 1 --question-consistency 0

    exported runs/small (step 400) to PyTorch: max |logits difference| 7.6e-06
    DDP: 2 processes x 64 pairs, 200 updates, gloo on tcp://127.0.0.1:55021
    step 50/200 | loss 1.104 | lr 2.8e-04
    ...
    step 200/200 | loss 1.068 | lr 6.0e-06
    valid loss 1.1896 -> 1.0984 in 28 s; imported back: max |logits difference| 7.2e-06
    best model: step 600, valid exact match 86.50%
    split         exact %  token %    BLEU  align % best head
    test_iid        82.60    97.67   92.29    86.33 L2H4
    ...                                     (then samples and the decoding walk; 38 s in all)

--out becomes a run directory (model.npz, vocab.json, config.json, metrics.json) that
examples/translate.py reads, plus torch_model.pt, the PyTorch state dict. On GPUs and several
machines the same loop runs under torchrun with the nccl backend (docs/interop.md).
"""

from __future__ import annotations

import math
import os
import socket
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import _config
import _run_dir
import _translation_io as rio
import numpy as np
import train_translation as tt
from _generalization import Generalization
from _train_utils import flag_parser
from toydata import PAD, batches, load_task

from tinygrad_attn import interop

try:
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
    from torch.nn.parallel import DistributedDataParallel
except ImportError:
    sys.exit(f"scale_out_with_pytorch.py needs PyTorch: {interop.INSTALL}")

TORCH_FILE = "torch_model.pt"


@dataclass
class Config:
    """Settings of the continued run; each field is also a flag (`world_size` -> `--world-size`)."""

    run: str = "runs/zh_en"  # a run directory written by train_translation.py
    out: str = "runs/zh_en_ddp"  # where the continued model goes (a run directory too)
    steps: int = 200  # DDP updates; each process takes one batch per update
    world_size: int = 2  # processes (one per core here; one per GPU with nccl)
    lr: float = 3e-4  # peak lr, after `warmup` updates; then a cosine as in the run
    warmup: int = 20  # linear warmup updates
    log_every: int = 50  # one log line (rank 0) per this many updates
    eval_size: int = 500  # valid pairs for the loss printed before and after
    threads: int = 1  # torch threads per process
    port: int = 0  # rendezvous port on 127.0.0.1; 0 picks a free one


def lr_factor(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """CosineWithWarmupLR (train_translation.py's schedule) as a factor of the peak lr, for
    torch's LambdaLR: update s = step + 1 ramps up to s = warmup, then a cosine to min_ratio."""
    s = step + 1
    if s <= warmup:
        return s / warmup
    progress = min(s - warmup, total - warmup) / max(total - warmup, 1)
    return min_ratio + (1 - min_ratio) * (1 + math.cos(math.pi * progress)) / 2


def loss_fn(model, batch: tuple, label_smoothing: float, reduction: str = "mean"):
    """train_step's loss in PyTorch: label-smoothed cross-entropy over the non-PAD targets."""
    src, tgt_in, tgt_out = (torch.from_numpy(a) for a in batch)
    logits = model(src, tgt_in)  # (B, T, V)
    return torch.nn.functional.cross_entropy(
        logits.flatten(0, 1),
        tgt_out.flatten(),
        ignore_index=PAD,
        label_smoothing=label_smoothing,
        reduction=reduction,
    )


def valid_loss(model, valid: list, label_smoothing: float) -> float:
    """Mean loss per target token over the valid batches (eval mode, no gradients)."""
    model.eval()
    with torch.no_grad():
        total = sum(loss_fn(model, b, label_smoothing, "sum").item() for b in valid)
    return total / sum(int((b[2] != PAD).sum()) for b in valid)


def max_logits_difference(ours, theirs, batch: tuple) -> float:
    """max |logits| difference of our model and the PyTorch one on a batch (eval mode)."""
    src, tgt_in, _ = batch
    with ours.evaluating(), torch.no_grad():
        mine = ours(src, tgt_in).data
        expected = theirs.eval()(torch.from_numpy(src), torch.from_numpy(tgt_in)).numpy()
    return float(np.abs(mine - expected).max())


def worker(
    rank: int, cfg: Config, tcfg: _config.Config, args: dict, state: dict, port: int
) -> None:
    """One DDP process: its share of the batches, gradients averaged across processes."""
    torch.set_num_threads(cfg.threads)
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo0" if sys.platform == "darwin" else "lo")
    url = f"tcp://127.0.0.1:{port}"
    dist.init_process_group("gloo", init_method=url, rank=rank, world_size=cfg.world_size)
    try:
        model = interop.TorchTransformer(**args)
        model.load_state_dict(state)
        ddp = DistributedDataParallel(model.train())  # all-reduces gradients in backward
        opt = torch.optim.Adam(ddp.parameters(), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-9)
        factor = lambda s: lr_factor(s, cfg.warmup, cfg.steps, tcfg.min_lr_ratio)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        data = load_task(tcfg.task, tcfg.direction)
        pairs = data["train"] + Generalization.extra_pairs(data, tcfg)  # as the run
        src_vocab, tgt_vocab = rio.read_vocabs(Path(cfg.run))
        extras = Generalization(tcfg, src_vocab, tgt_vocab)  # its <unk> slots, no final marks
        per_epoch = math.ceil(len(pairs) / tcfg.batch_size)
        first_epoch = math.ceil(tcfg.steps / per_epoch)  # after those the run has seen
        epoch, epoch_data = -1, []
        for step in range(cfg.steps):
            index = step * cfg.world_size + rank  # this process's batch of this update
            if first_epoch + index // per_epoch != epoch:
                epoch = first_epoch + index // per_epoch
                epoch_data = tt.epoch_batches(pairs, src_vocab, tgt_vocab, tcfg, epoch, extras)
            lr = sched.get_last_lr()[0]
            loss = loss_fn(ddp, epoch_data[index % per_epoch], tcfg.label_smoothing)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(ddp.parameters(), tcfg.clip)
            opt.step()
            sched.step()
            mean = loss.detach() / cfg.world_size
            dist.all_reduce(mean)  # summed over the processes: their mean loss
            if rank == 0 and ((step + 1) % cfg.log_every == 0 or step + 1 == cfg.steps):
                line = f"step {step + 1}/{cfg.steps} | loss {mean.item():.3f} | lr {lr:.1e}"
                print(line, flush=True)
        if rank == 0:
            torch.save(model.state_dict(), Path(cfg.out) / TORCH_FILE)
    finally:
        dist.destroy_process_group()


def scale_out(cfg: Config) -> dict:
    """Export, train with DDP, import; print the report. Returns the figures printed."""
    t_start = time.perf_counter()
    run, out = Path(cfg.run), Path(cfg.out)
    tcfg = _config.load_config(run / rio.CONFIG_FILE)
    src_vocab, tgt_vocab = rio.read_vocabs(run)
    digest = rio.vocab_digest(src_vocab, tgt_vocab)
    model = tt.build_model(tcfg, len(src_vocab), len(tgt_vocab))
    best = rio.load_weights(model, run / rio.MODEL_FILE, digest, asdict(tcfg))
    data = load_task(tcfg.task, tcfg.direction)
    valid = list(batches(data["valid"][: cfg.eval_size], src_vocab, tgt_vocab, 250))
    theirs = interop.to_torch(model)
    figures = {"export_difference": max_logits_difference(model, theirs, valid[0])}
    print(
        f"exported {run} (step {best['step']}) to PyTorch: max |logits difference| "
        f"{figures['export_difference']:.1e}"
    )
    figures["valid_loss_before"] = valid_loss(theirs, valid, tcfg.label_smoothing)
    port = cfg.port or free_port()
    print(
        f"DDP: {cfg.world_size} processes x {tcfg.batch_size} pairs, {cfg.steps} updates, "
        f"gloo on tcp://127.0.0.1:{port}",
        flush=True,
    )
    out.mkdir(parents=True, exist_ok=True)
    state = theirs.state_dict()
    mp.spawn(worker, (cfg, tcfg, asdict(theirs.config), state, port), nprocs=cfg.world_size)
    theirs.load_state_dict(torch.load(out / TORCH_FILE))
    imported = interop.from_torch(theirs.eval())
    figures["valid_loss_after"] = valid_loss(theirs, valid, tcfg.label_smoothing)
    figures["import_difference"] = max_logits_difference(imported, theirs, valid[0])
    figures["train_seconds"] = round(time.perf_counter() - t_start, 1)
    print(
        f"valid loss {figures['valid_loss_before']:.4f} -> {figures['valid_loss_after']:.4f} "
        f"in {figures['train_seconds']:.0f} s; imported back: max |logits difference| "
        f"{figures['import_difference']:.1e}"
    )
    imported_cfg = replace(tcfg, out=str(out))
    target = _run_dir.RunDir(out, asdict(imported_cfg))  # written as train_translation writes a run
    target.use_vocabularies(src_vocab, tgt_vocab)
    score = tt.valid_exact_match(imported, data["valid"][: tcfg.eval_size], src_vocab, tgt_vocab)
    target.save_best(imported.state_dict(), best["step"] + cfg.steps, score)
    figures["metrics"] = tt.final_report(imported_cfg, imported, data, target, t_start)
    return figures


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = flag_parser(Config, __doc__.split("\n\n")[0], {})
    cfg = replace(Config(), **vars(parser.parse_args(argv)))
    try:
        scale_out(cfg)
    except rio.RunFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
