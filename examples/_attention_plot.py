"""A cross-attention heatmap with the tokens as labels (matplotlib), Chinese labels included.

Chinese needs a font with CJK glyphs; matplotlib's bundled DejaVu has none. We look for an
installed one (Noto CJK, Source Han, WenQuanYi, ... or any font whose character map covers
Chinese). Without one, CJK labels are replaced by their position ([0], [1], ...) and a warning
prints what each position holds, rather than drawing empty boxes.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Sequence

import numpy as np

CJK_FAMILIES = (
    "Noto Sans CJK",
    "Noto Serif CJK",
    "Source Han",
    "WenQuanYi",
    "Droid Sans Fallback",
    "AR PL",
    "SimHei",
    "Microsoft YaHei",
    "PingFang",
    "Heiti",
    "Hiragino",
    "Arial Unicode",
)


def find_cjk_font() -> str | None:
    """The family name of an installed font that can draw Chinese, or None."""
    from matplotlib import font_manager, ft2font

    entries = font_manager.fontManager.ttflist
    for entry in entries:
        if any(family in entry.name for family in CJK_FAMILIES):
            return entry.name
    for entry in entries:
        if "Last Resort" in entry.name:  # maps every character to a placeholder box
            continue
        try:
            if ord("的") in ft2font.FT2Font(entry.fname).get_charmap():
                return entry.name
        except (OSError, RuntimeError):
            continue
    return None


def _is_cjk(token: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in token)


def _labels(tokens: Sequence[str], axis: str, font: str | None) -> list[str]:
    """Tokens as tick labels; CJK ones by position when no CJK font is available."""
    if font is not None or not any(_is_cjk(t) for t in tokens):
        return list(tokens)
    legend = ", ".join(f"[{i}] {t}" for i, t in enumerate(tokens))
    print(
        f"warning: no CJK font found (e.g. install fonts-noto-cjk); {axis} tokens are "
        f"labelled by position: {legend}",
        file=sys.stderr,
    )
    return [f"[{i}]" for i in range(len(tokens))]


def _pyplot():  # noqa: ANN202 (matplotlib is optional: no annotation that imports it)
    """matplotlib.pyplot on the file-only Agg backend, or an ImportError saying what to install."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise ImportError("--plot-attention needs matplotlib: pip install matplotlib") from err
    return plt


def plot_attention(
    weights: np.ndarray,
    src_tokens: Sequence[str],
    tgt_tokens: Sequence[str],
    path: str,
    title: str = "cross-attention",
) -> None:
    """Save a heatmap of attention weights: one row per target token, one column per source.

    Shapes: weights (T, S) with T = len(tgt_tokens), S = len(src_tokens).
    """
    plt = _pyplot()
    weights = np.asarray(weights)
    if weights.shape != (len(tgt_tokens), len(src_tokens)):
        raise ValueError(
            f"plot_attention: weights {weights.shape} != (targets, sources) "
            f"{(len(tgt_tokens), len(src_tokens))}"
        )
    font = find_cjk_font()
    families = ["DejaVu Sans"] if font is None else ["DejaVu Sans", font]  # per-glyph fallback
    size = (1.5 + 0.6 * len(src_tokens), 1.2 + 0.45 * len(tgt_tokens))
    with plt.rc_context({"font.family": "sans-serif", "font.sans-serif": families}):
        fig, ax = plt.subplots(figsize=size)
        image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(src_tokens)), _labels(src_tokens, "source", font), rotation=45)
        ax.set_yticks(range(len(tgt_tokens)), _labels(tgt_tokens, "target", font))
        ax.set_xlabel("source token")
        ax.set_ylabel("output token")
        ax.set_title(title, fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.05)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
