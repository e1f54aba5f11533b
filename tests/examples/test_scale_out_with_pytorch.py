"""examples/scale_out_with_pytorch.py, tiny: a short reversal run of ours, continued for a few
updates by DistributedDataParallel on 2 processes (gloo, loopback), imported back; the loss
goes down and the imported model's logits are the PyTorch model's."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import _config
import _translation_io as rio
import numpy as np
import pytest
import train_translation as tt

torch = pytest.importorskip("torch")

import scale_out_with_pytorch as so  # noqa: E402 (after the skip: it needs torch)

from tinygrad_attn import interop  # noqa: E402

TINY_RUN = _config.Config(
    task="reversal",
    d_model=16,
    nhead=2,
    num_encoder_layers=1,
    num_decoder_layers=1,
    dim_feedforward=32,
    dropout=0.0,
    steps=40,
    batch_size=32,
    lr=3e-3,
    warmup=10,
    eval_every=40,
    eval_size=50,
    log_every=20,
    samples=1,
    threads=1,
)


@pytest.fixture(scope="module")
def continued(tmp_path_factory: pytest.TempPathFactory) -> tuple[so.Config, dict, str]:
    """(config, figures, what it printed) of the example continuing a 40-step run of ours
    (15-20 s in all on 2 busy cores, most of it the 2 processes starting and importing)."""
    run = tmp_path_factory.mktemp("ours")
    tt.train(_config.Config(**{**vars(TINY_RUN), "out": str(run)}))
    cfg = so.Config(
        run=str(run),
        out=str(tmp_path_factory.mktemp("ddp")),
        steps=6,
        world_size=2,
        lr=3e-3,
        warmup=1,
        log_every=2,
        eval_size=100,
    )
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # the parent's lines (rank 0 logs to the fd)
        figures = so.scale_out(cfg)
    return cfg, figures, printed.getvalue()


def test_ddp_training_lowers_the_valid_loss(continued) -> None:
    _, figures, _ = continued
    assert figures["valid_loss_after"] < figures["valid_loss_before"] - 1e-3, figures


def test_export_and_import_keep_the_logits(continued) -> None:
    _, figures, _ = continued
    assert figures["export_difference"] < 1e-5 and figures["import_difference"] < 1e-5, figures


def test_the_saved_run_holds_the_pytorch_weights(continued) -> None:
    """model.npz (what translate.py loads) gives the logits of torch_model.pt, and they differ
    from the model before the DDP updates."""
    cfg, _, _ = continued
    out = Path(cfg.out)
    tcfg = _config.load_config(out / rio.CONFIG_FILE)
    src_vocab, tgt_vocab = rio.read_vocabs(out)
    ours = tt.build_model(tcfg, len(src_vocab), len(tgt_vocab))
    saved = rio.load_weights(ours, out / rio.MODEL_FILE, rio.vocab_digest(src_vocab, tgt_vocab))
    assert saved["step"] == TINY_RUN.steps + cfg.steps
    theirs = interop.to_torch(ours)  # the architecture; the weights come from torch_model.pt
    theirs.load_state_dict(torch.load(out / so.TORCH_FILE))
    rng = np.random.default_rng(0)
    src, tgt_in = rng.integers(4, len(src_vocab), (3, 6)), rng.integers(4, len(tgt_vocab), (3, 5))
    tgt_in[:, 0] = 1
    expected = theirs.eval()(torch.from_numpy(src), torch.from_numpy(tgt_in)).detach().numpy()
    np.testing.assert_allclose(ours(src, tgt_in).data, expected, atol=1e-5, rtol=1e-5)
    before = tt.build_model(tcfg, len(src_vocab), len(tgt_vocab))
    rio.load_weights(before, Path(cfg.run) / rio.MODEL_FILE, rio.vocab_digest(src_vocab, tgt_vocab))
    assert np.abs(before.eval()(src, tgt_in).data - expected).max() > 1e-3


def test_it_prints_the_figures_the_test_table_and_the_decoding_walk(continued) -> None:
    cfg, figures, printed = continued
    assert f"exported {cfg.run} (step {TINY_RUN.steps}) to PyTorch" in printed
    assert "DDP: 2 processes x 32 pairs, 6 updates, gloo on tcp://127.0.0.1:" in printed
    before, after = figures["valid_loss_before"], figures["valid_loss_after"]
    assert f"valid loss {before:.4f} -> {after:.4f}" in printed
    assert "exact %" in printed and "test_iid" in printed and "test_long" in printed
    assert "decoding walk for" in printed and "-> output" in printed
    assert set(figures["metrics"]) >= {"test_iid", "test_long", "best_step"}
    assert figures["metrics"]["best_step"] == TINY_RUN.steps + cfg.steps
    assert (Path(cfg.out) / rio.METRICS_FILE).is_file()
