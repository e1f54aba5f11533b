"""Plots for studying a model: attention heatmaps and gradient flow (needs matplotlib: the `viz`
extra, `pip install "tinygrad_attn[viz]"`).

    from tinygrad_attn import viz
    viz.plot_attention(weights, src_tokens, tgt_tokens, path="attn.png")   # (T, S), (H, T, S), ...
    viz.plot_gradient_flow(flow, path="flow.png")                          # a GradientFlow
    viz.attention_html(translation, path="explorer.html")    # interactive page (viz_html.py)

matplotlib is imported inside the functions, so `import tinygrad_attn` works without it. The
figures are drawn on matplotlib's Agg canvas directly (no pyplot, no display, no global state).
Token labels in Chinese or Japanese need a CJK font, found by `tinygrad_attn.fonts`: the Noto
Sans CJK SC that the `viz` extra installs, else a system font of `CJK_FONTS`; without one, each
label that holds a character no font can draw is shown as its index plus `?` for those
characters (`3:??`), with one warning, instead of empty boxes.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_attn.fonts import (
    CJK_FONTS,
    MISSING_FONT_HINT,
    find_cjk_font,
    label_fonts,
    safe_labels,
)
from tinygrad_attn.viz_html import Translation, attention_html, backprop_html

__all__ = [
    "CJK_FONTS",
    "Translation",
    "attention_html",
    "backprop_html",
    "find_cjk_font",
    "plot_attention",
    "plot_gradient_flow",
]


def _figure_class() -> Any:
    """matplotlib's Figure, or an ImportError that says what to install."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(
            'tinygrad_attn.viz needs matplotlib: pip install "tinygrad_attn[viz]"'
        ) from err
    return Figure


@functools.lru_cache(maxsize=1)
def _warn_missing_font() -> None:
    """Warn once per process (the cache remembers that it has), not once per plot."""
    warnings.warn(
        "plot_attention: no font found that draws some token labels; they are shown as "
        f"index:?? instead. For Chinese or Japanese: {MISSING_FONT_HINT}",
        UserWarning,
        stacklevel=3,
    )


def _as_grid(weights: Any) -> np.ndarray:
    """Attention weights as (layers, heads, T, S) from (T, S), (H, T, S), (L, H, T, S) or a
    list (one entry per layer) of (T, S) / (H, T, S); Tensors are accepted anywhere."""
    if isinstance(weights, (list, tuple)):
        layers = [_as_grid(w)[0] for w in weights]
        if len({layer.shape for layer in layers}) > 1:
            shapes = [layer.shape for layer in layers]
            raise ValueError(f"plot_attention: layers have different shapes {shapes}")
        return np.stack(layers)
    array = np.asarray(weights.data if hasattr(weights, "data") else weights, dtype=np.float64)
    if array.ndim not in (2, 3, 4):
        raise ValueError(
            f"plot_attention: weights must be (T, S), (H, T, S) or (L, H, T, S), got {array.shape}"
        )
    return array.reshape((1,) * (4 - array.ndim) + array.shape)


def plot_attention(
    weights: Any,
    src_tokens: Sequence[Any],
    tgt_tokens: Sequence[Any],
    path: str | Path | None = None,
    title: str | None = None,
    cjk_fonts: Sequence[str] = CJK_FONTS,
) -> Any:
    """Heatmaps of attention weights, one per layer (rows) and head (columns), keys along x
    labelled with `src_tokens` and queries along y labelled with `tgt_tokens`.

    Shapes: weights (T, S), (H, T, S), (L, H, T, S), or a list of L arrays (T, S) / (H, T, S);
    len(src_tokens) == S, len(tgt_tokens) == T. Saves to `path` if given (format from the
    suffix) and returns the matplotlib Figure. Cells show their value when T, S <= 8.
    Args:
        cjk_fonts: font families to try, in order, for labels with CJK characters.
    """
    Figure = _figure_class()
    grid = _as_grid(weights)  # (L, H, T, S)
    layers, heads, tgt_len, src_len = grid.shape
    if len(src_tokens) != src_len or len(tgt_tokens) != tgt_len:
        raise ValueError(
            f"plot_attention: weights (..., T={tgt_len}, S={src_len}) need {src_len} src_tokens "
            f"and {tgt_len} tgt_tokens, got {len(src_tokens)} and {len(tgt_tokens)}"
        )
    texts = [str(t) for t in (*src_tokens, *tgt_tokens)] + [title or ""]
    families, covered = label_fonts(texts, cjk_fonts)
    x_labels, x_changed = safe_labels(src_tokens, covered)
    y_labels, y_changed = safe_labels(tgt_tokens, covered)
    title_changed = False
    if title is not None:
        safe = "".join(c if ord(c) in covered or c.isspace() else "?" for c in title)
        title, title_changed = safe, safe != title
    if x_changed or y_changed or title_changed:
        _warn_missing_font()
    cell = 0.45
    width = heads * (1.2 + cell * src_len) + 1.0
    height = layers * (1.0 + cell * tgt_len) + (0.5 if title else 0.0)
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(layers, heads, squeeze=False)
    for layer in range(layers):
        for head in range(heads):
            ax = axes[layer, head]
            image = _heatmap(ax, grid[layer, head], x_labels, y_labels, families)
            ax.set_title(_panel_title(layer, head, layers, heads), fontsize=10)
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
    if title:
        fig.suptitle(title, fontfamily=families)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _panel_title(layer: int, head: int, layers: int, heads: int) -> str:
    parts = []
    if layers > 1:
        parts.append(f"layer {layer + 1}")
    if heads > 1:
        parts.append(f"head {head + 1}")
    return ", ".join(parts) or "attention"


def _heatmap(
    ax: Any, values: np.ndarray, x_labels: list[str], y_labels: list[str], families: list[str]
) -> Any:
    """One (T, S) panel: queries down, keys across, weights in [0, 1]."""
    image = ax.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0, aspect="equal")
    ax.set_xticks(range(len(x_labels)), x_labels, rotation=60, ha="right", fontfamily=families)
    ax.set_yticks(range(len(y_labels)), y_labels, fontfamily=families)
    ax.set_xlabel("key (source)")
    ax.set_ylabel("query (target)")
    if max(values.shape) <= 8:
        for (i, j), v in np.ndenumerate(values):
            color = "black" if v > 0.6 else "white"  # readable on viridis' light and dark ends
            ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color=color)
    return image


def plot_gradient_flow(flow: Any, path: str | Path | None = None, max_lines: int = 8) -> Any:
    """The gradient flow recorded by a `GradientFlow`, groups (layers or parameters) in model
    order along x. Top: each group's gradient norm at up to `max_lines` of the recorded steps
    (light = early, dark = late), log scale. Bottom: log10 of every norm, steps down the y
    axis, so a layer whose gradient vanishes or explodes shows as a dark or bright column.
    A zero norm is drawn at a floor a decade below the smallest positive one.

    Shapes: flow.history {name: [norm per step]} -> one Figure (saved to `path` if given).
    """
    Figure = _figure_class()
    from matplotlib import colormaps

    if not flow.steps:
        raise ValueError("plot_gradient_flow: the GradientFlow has no recorded steps")
    names = list(flow.history)
    norms = np.array([flow.history[name] for name in names], dtype=np.float64).T  # (steps, G)
    positive = norms[norms > 0]
    norms = np.maximum(norms, positive.min() / 10 if positive.size else 1e-12)
    width = min(max(8.0, 0.28 * len(names) + 2.5), 24.0)
    fig = Figure(figsize=(width, 7.5), layout="constrained")
    lines, table = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    picks = np.unique(np.linspace(0, len(flow.steps) - 1, min(max_lines, len(flow.steps))).round())
    colors = colormaps["Blues"](np.linspace(0.35, 1.0, len(picks)))
    for color, index in zip(colors, picks.astype(int)):
        label = f"step {flow.steps[index]}"
        lines.plot(norms[index], marker="o", ms=3, color=color, label=label)
    lines.set_yscale("log")
    lines.set_ylabel("gradient L2 norm")
    lines.set_title("gradient norm per layer, in model order")
    lines.legend(fontsize=7, ncols=2)
    image = table.imshow(np.log10(norms), aspect="auto", cmap="magma", interpolation="nearest")
    rows = np.unique(np.linspace(0, len(flow.steps) - 1, min(6, len(flow.steps))).round())
    table.set_yticks(rows, [str(flow.steps[int(r)]) for r in rows])  # steps need not be 0, 1, ..
    table.set_ylabel("step")
    table.set_xticks(range(len(names)), names, rotation=75, ha="right", fontsize=7)
    fig.colorbar(image, ax=table, label="log10 norm", pad=0.01)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
