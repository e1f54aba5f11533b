"""Every Chinese character of the toy lexicon is drawn with a real glyph of the CJK font that the
`viz`/`examples` extras install (mplfonts' Noto Sans CJK SC), by matplotlib and in the HTML
pages' inline font, on a machine without any system CJK font. Skipped without that package."""

from __future__ import annotations

import base64
import inspect
import io
import re
import warnings

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import toydata.lexicon  # noqa: E402
import toydata.verbs  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ft2font import FT2Font  # noqa: E402
from toydata import Vocab, load_task  # noqa: E402

from tinygrad_attn import fonts, viz  # noqa: E402

NO_PACKAGE = "the CJK font package is not installed (pip install mplfonts, in the viz extra)"


def lexicon_words() -> list[str]:
    """The source words of the translation task, plus every word in the lexicon's tables (the
    unseen names and nouns of test_unk too)."""
    train = load_task("translation", "zh-en")["train"]
    words = set(Vocab.build([p.src for p in train]).itos[4:])
    source = inspect.getsource(toydata.lexicon) + inspect.getsource(toydata.verbs)
    words |= set(re.findall(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+", source))
    return sorted(words)


@pytest.fixture()
def fresh_machine(monkeypatch):
    """matplotlib's font list as on a machine with no system fonts: its bundled DejaVu only."""
    bundled = [f for f in font_manager.fontManager.ttflist if "matplotlib" in f.fname]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", bundled)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *args, **kwargs: [])
    for cached in (fonts._register_packaged_font, fonts._add_new_system_fonts):
        cached.cache_clear()
    yield
    for cached in (fonts._register_packaged_font, fonts._add_new_system_fonts):
        cached.cache_clear()  # the real font list comes back: register again there


def test_the_lexicon_has_many_chinese_characters() -> None:
    chars = {c for w in lexicon_words() for c in w if "\u4e00" <= c <= "\u9fff"}
    assert len(chars) > 250 and {"图", "书", "馆", "韩", "梅"} <= chars


def test_every_lexicon_character_gets_a_real_glyph_without_system_fonts(fresh_machine) -> None:
    if fonts.packaged_cjk_font() is None:
        pytest.skip(NO_PACKAGE)
    assert fonts.find_cjk_font() == "Noto Sans CJK SC"
    words = lexicon_words()
    families, _ = fonts.label_fonts(words)
    # Each character's glyph in the first font of the label families that has one (the order
    # matplotlib's fallback follows); glyph index 0 is the "missing glyph" box.
    files = [FT2Font(font_manager.findfont(f, fallback_to_default=False)) for f in families]
    chars = {c for w in words for c in w}
    missing = [c for c in chars if all(f.get_char_index(ord(c)) == 0 for f in files)]
    assert missing == []
    assert "mplfonts" in files[-1].fname
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would be raised here
        fig = viz.plot_attention(np.full((1, len(words)), 1 / len(words)), words, ["x"])
        fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == words  # drawn as given, no "3:??" fallback


def test_without_the_font_package_labels_fall_back_and_the_warning_says_what_to_install(
    fresh_machine, monkeypatch
) -> None:
    monkeypatch.setattr(fonts, "PACKAGED_FONTS", (("no_such_font_package", "x.otf"),))
    assert fonts.find_cjk_font() is None
    viz._warn_missing_font.cache_clear()
    with pytest.warns(UserWarning, match=r'pip install "tinygrad_attn\[viz\]"'):
        fig = viz.plot_attention(np.eye(2), ["图书馆", "a"], ["x", "y"])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["0:???", "a"]
    assert fonts.font_face_css("图书馆") == ""  # the page leaves Chinese to the browser


def test_the_pages_inline_font_holds_a_glyph_for_each_character_and_little_else() -> None:
    if fonts.packaged_cjk_font() is None:
        pytest.skip(NO_PACKAGE)
    ttlib = pytest.importorskip("fontTools.ttLib")
    text = "我昨天在图书馆看了三本书。"
    css = fonts.font_face_css(text + "abc")
    encoded = re.search(r"base64,([A-Za-z0-9+/=]+)\)", css).group(1)
    font = ttlib.TTFont(io.BytesIO(base64.b64decode(encoded)))
    cmap = font.getBestCmap()
    assert {chr(c) for c in cmap} == set(text)  # Latin stays with the page's Latin font
    assert len(encoded) < 20_000  # a few kB, not the 16 MB font
    assert fonts.font_face_css("only ascii") == ""
