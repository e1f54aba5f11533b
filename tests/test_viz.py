"""tinygrad_attn.viz writes real images: attention heatmaps (token labels, CJK or a clean
fallback) and the gradient-flow plot. Skipped without matplotlib."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import tinygrad_attn as tg  # noqa: E402
from tinygrad_attn import nn, viz  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"
RNG = np.random.default_rng(0)


def _weights(*shape: int) -> np.ndarray:
    e = np.exp(RNG.normal(size=shape))
    return e / e.sum(-1, keepdims=True)  # rows are distributions, as attention weights


def _is_png(path) -> bool:
    return path.read_bytes()[:8] == PNG and path.stat().st_size > 5_000


def _heatmaps(fig) -> list:
    return [ax for ax in fig.axes if ax.images and ax.get_xlabel() == "key (source)"]


@pytest.mark.parametrize(
    ("weights", "panels"),
    [
        (_weights(3, 4), 1),  # (T, S)
        (_weights(2, 3, 4), 2),  # (H, T, S)
        ([_weights(2, 3, 4), _weights(2, 3, 4), _weights(2, 3, 4)], 6),  # per layer
        (tg.Tensor(_weights(2, 1, 3, 4)), 2),  # (L, H, T, S) as a Tensor
    ],
)
def test_plot_attention_writes_one_panel_per_layer_and_head(tmp_path, weights, panels) -> None:
    path = tmp_path / "attn.png"
    fig = viz.plot_attention(weights, ["a", "b", "c", "d"], ["x", "y", "z"], path=path)
    assert _is_png(path)
    axes = _heatmaps(fig)
    assert len(axes) == panels
    assert [t.get_text() for t in axes[0].get_xticklabels()] == ["a", "b", "c", "d"]
    assert [t.get_text() for t in axes[0].get_yticklabels()] == ["x", "y", "z"]


def test_plot_attention_of_a_trained_models_stored_weights(tmp_path, tiny_model) -> None:
    sizes = dict(num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16)
    model = tiny_model(src_vocab=8, tgt_vocab=8, **sizes)
    for layer in model.encoder:
        layer.self_attn.store_attn_weights = True
    model(np.array([[3, 4, 5, 2]]), np.array([[1, 6, 7]]))
    maps = [layer.self_attn.last_attn_weights[0] for layer in model.encoder]  # (H, S, S) each
    tokens = ["我", "喜欢", "学习", "<eos>"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the fallback's warning, if no CJK font
        fig = viz.plot_attention(maps, tokens, tokens, path=tmp_path / "enc.png")
    assert _is_png(tmp_path / "enc.png") and len(_heatmaps(fig)) == 4
    assert [ax.get_title() for ax in _heatmaps(fig)][:2] == ["layer 1, head 1", "layer 1, head 2"]


def test_without_a_cjk_font_labels_fall_back_to_ascii_with_one_warning(tmp_path) -> None:
    viz._warn_missing_font.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = tmp_path / "a.png"
        fig = viz.plot_attention(
            _weights(2, 3), ["我", "a", "学习"], ["机器", "b"], path, "注意 attention", cjk_fonts=()
        )
        viz.plot_attention(_weights(2, 3), ["我", "a", "c"], ["机器", "b"], cjk_fonts=())
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "fonts-noto-cjk" in messages[0]  # once, and no glyph spam
    ax = _heatmaps(fig)[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0:?", "a", "2:??"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0:??", "b"]
    assert fig.get_suptitle() == "?? attention"
    assert _is_png(path)


def test_with_a_cjk_font_labels_render_as_given_without_warnings(tmp_path) -> None:
    if viz.find_cjk_font() is None:
        pytest.skip("no CJK font installed (e.g. apt-get install fonts-noto-cjk)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would warn, and fail the test
        fig = viz.plot_attention(_weights(2, 2), ["我", "学习"], ["I", "learn"],
                                 path=tmp_path / "cjk.png")  # fmt: skip
    assert [t.get_text() for t in _heatmaps(fig)[0].get_xticklabels()] == ["我", "学习"]
    assert _is_png(tmp_path / "cjk.png")


def test_plot_attention_names_mismatched_tokens_and_bad_shapes() -> None:
    with pytest.raises(ValueError, match="need 4 src_tokens and 3 tgt_tokens, got 3 and 3"):
        viz.plot_attention(_weights(3, 4), ["a", "b", "c"], ["x", "y", "z"])
    with pytest.raises(ValueError, match=r"\(T, S\), \(H, T, S\) or \(L, H, T, S\), got \(4,\)"):
        viz.plot_attention(_weights(4), ["a"] * 4, ["x"])
    with pytest.raises(ValueError, match="layers have different shapes"):
        viz.plot_attention([_weights(3, 4), _weights(2, 3, 4)], ["a"] * 4, ["x"] * 3)


def test_plot_gradient_flow_writes_a_png_from_a_real_training_run(tmp_path) -> None:
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
    model[2].requires_grad_(False)  # a frozen layer: zero norms must plot, not warn
    flow = tg.GradientFlow(model, group_by="module")
    for step in range(0, 50, 10):
        model.zero_grad()
        (model(tg.randn(16, 3)) ** 2).mean().backward()
        flow.record(step)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. log10(0) would warn
        fig = viz.plot_gradient_flow(flow, path=tmp_path / "flow.png")
    assert _is_png(tmp_path / "flow.png")
    lines_ax = fig.axes[0]
    assert len(lines_ax.get_lines()) == 5  # one line per recorded step (<= max_lines)
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["0", "2", "4"]


def test_plot_gradient_flow_needs_recorded_steps() -> None:
    with pytest.raises(ValueError, match="no recorded steps"):
        viz.plot_gradient_flow(tg.GradientFlow(nn.Linear(2, 2)))


def test_plots_without_matplotlib_say_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    with pytest.raises(ImportError, match=r"pip install \"tinygrad_attn\[viz\]\""):
        viz.plot_attention(_weights(2, 2), ["a", "b"], ["c", "d"])
