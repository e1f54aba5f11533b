"""The train step the benchmarks time: configs, a padded random batch, both contenders.

Our models.Transformer and its PyTorch twin (benchmarks/_torch_models.py, loaded with the same
weights) each take one step: forward, cross-entropy ignoring PAD, backward, Adam update.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import tinygrad_attn as tg
import tinygrad_attn.functional as F
from models import Transformer

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


def train_contenders(torch: Any, cfg: TrainConfig, check: bool = False) -> dict:
    """Zero-argument train steps of our model and, when torch is given, its twin.

    With check=True both take one step first and their losses are printed: equal losses
    show both compute the same function from the same weights.
    """
    batch = make_batch(cfg)
    model, optimizer = build_ours(cfg)
    contenders = {"ours": lambda: ours_step(model, optimizer, batch)}
    if torch is None:
        return contenders
    t_model, t_optimizer = build_torch(torch, model)
    t_batch = tuple(torch.from_numpy(a) for a in batch)
    contenders["torch"] = lambda: torch_step(torch, t_model, t_optimizer, t_batch)
    if check:
        losses = contenders["ours"](), contenders["torch"]()
        print(f"same weights, first loss: ours {losses[0]:.5f}, torch {losses[1]:.5f}")
    return contenders
