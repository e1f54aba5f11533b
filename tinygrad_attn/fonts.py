"""Fonts for token labels: find one that draws Chinese, for matplotlib and for HTML pages.

    from tinygrad_attn import fonts
    fonts.find_cjk_font()              # "Noto Sans CJK SC", or None: a family matplotlib can use
    fonts.packaged_cjk_font()          # the font file a pip package brought, or None
    fonts.font_face_css("图书馆")       # an inline @font-face with just those glyphs, or ""

Where the font comes from, in order: a CJK font shipped inside a pip package (`mplfonts`, in
the `viz` and `examples` extras, ships Noto Sans CJK SC under the SIL Open Font License), found
by its file path, without importing the package or running any post-install step, and added to
matplotlib's font list for this process; else an installed system font of `CJK_FONTS` (e.g.
`apt-get install fonts-noto-cjk`). Without either, `viz.plot_attention` falls back to `3:??`
labels with one warning, and the HTML pages leave the Chinese to the browser's own fonts.
matplotlib (and fontTools, which it requires) is imported inside the functions.
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import io
from collections.abc import Sequence
from pathlib import Path

CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Hiragino Sans GB",
    "Heiti SC",
    "Arial Unicode MS",
    "AR PL UMing CN",
    "AR PL UMing",
    "Droid Sans Fallback",
)
BASE_FONT = "DejaVu Sans"  # matplotlib's bundled font: always present
# (pip package, font file inside it): OFL-licensed CJK fonts that a package ships.
PACKAGED_FONTS = (("mplfonts", "fonts/NotoSansCJKsc-Regular.otf"),)
MISSING_FONT_HINT = (
    'pip install "tinygrad_attn[viz]" (brings the Noto Sans CJK SC font), '
    "or install a system CJK font, e.g. `apt-get install fonts-noto-cjk`"
)


def packaged_cjk_font() -> Path | None:
    """The first font file of PACKAGED_FONTS whose package is installed, or None.

    The package is located with importlib.util.find_spec, which does not import it."""
    for package, relative in PACKAGED_FONTS:
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        for folder in (spec.submodule_search_locations or []) if spec else []:
            path = Path(folder) / relative
            if path.is_file():
                return path
    return None


@functools.lru_cache(maxsize=1)
def _register_packaged_font() -> str | None:
    """Add the packaged CJK font to matplotlib's font list (once); its family name, or None."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    path = packaged_cjk_font()
    if path is None:
        return None
    try:
        font_manager.fontManager.addfont(str(path))
    except (OSError, RuntimeError, ValueError):
        return None  # a truncated or unreadable file: as if the package were absent
    return FT2Font(str(path)).family_name


def font_paths() -> dict[str, str]:
    """Font family name -> file (the first file matplotlib lists for it)."""
    from matplotlib import font_manager

    paths: dict[str, str] = {}
    for entry in font_manager.fontManager.ttflist:
        paths.setdefault(entry.name, entry.fname)
    return paths


@functools.lru_cache(maxsize=8)
def charmap(path: str) -> frozenset[int]:
    """Code points the font file at `path` has glyphs for."""
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(path).get_charmap())


def find_cjk_font(candidates: Sequence[str] = CJK_FONTS) -> str | None:
    """The first of `candidates` that matplotlib can use (a family name), or None.

    The packaged font is registered first; system fonts installed after matplotlib cached its
    font list (e.g. `apt-get install fonts-noto-cjk` later) are found too."""
    if not candidates:
        return None
    _register_packaged_font()
    name = next((n for n in candidates if n in font_paths()), None)
    if name is None and _add_new_system_fonts():
        name = next((n for n in candidates if n in font_paths()), None)
    return name


@functools.lru_cache(maxsize=1)
def _add_new_system_fonts() -> bool:
    """Add the system fonts missing from matplotlib's cached font list (once per process)."""
    from matplotlib import font_manager

    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    added = False
    for path in font_manager.findSystemFonts():
        if path in known:
            continue
        try:
            font_manager.fontManager.addfont(path)
            added = True
        except (OSError, RuntimeError, ValueError):
            continue  # an unreadable font file: skip it
    return added


def label_fonts(
    texts: Sequence[str], candidates: Sequence[str] = CJK_FONTS
) -> tuple[list[str], frozenset[int]]:
    """Families to draw `texts` with (the base font, then a CJK font if one is needed and
    found) and the code points they can draw together."""
    covered = charmap(font_paths()[BASE_FONT])
    if all(ord(c) in covered or c.isspace() for text in texts for c in text):
        return [BASE_FONT], covered
    cjk = find_cjk_font(candidates)
    if cjk is None:
        return [BASE_FONT], covered
    return [BASE_FONT, cjk], covered | charmap(font_paths()[cjk])


def safe_labels(tokens: Sequence[object], covered: frozenset[int]) -> tuple[list[str], bool]:
    """Tokens as strings; characters no font can draw become '?' and the label gets its index
    (`3:??`). Returns the labels and whether any was changed."""
    labels, changed = [], False
    for i, token in enumerate(tokens):
        text = str(token)
        if all(ord(c) in covered or c.isspace() for c in text):
            labels.append(text)
            continue
        changed = True
        labels.append(f"{i}:" + "".join(c if ord(c) in covered else "?" for c in text))
    return labels, changed


FONT_FAMILY_CSS = "tg-cjk"  # the family name the inline @font-face declares


def font_face_css(text: str) -> str:
    """An @font-face rule holding the packaged CJK font cut down to the characters of `text`
    (a few kB, base64 inline), so a page shows its Chinese on machines without CJK fonts.

    "" when `text` has no character outside Latin-1, or the font package or fontTools (a
    matplotlib dependency) is missing: the browser's own fonts are used then."""
    chars = "".join(sorted({c for c in text if ord(c) > 0xFF}))
    path = packaged_cjk_font()
    if not chars or path is None:
        return ""
    try:
        from fontTools import subset
    except ImportError:
        return ""
    options = subset.Options()
    options.layout_features, options.hinting, options.name_IDs = [], False, [1, 2]
    font = subset.load_font(str(path), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=chars)
    subsetter.subset(font)
    data = io.BytesIO()
    font.save(data)
    encoded = base64.b64encode(data.getvalue()).decode("ascii")
    return (
        f'@font-face {{ font-family: "{FONT_FAMILY_CSS}"; font-weight: 100 900; '
        f'src: url(data:font/otf;base64,{encoded}) format("opentype"); }}'
    )
