"""tinygrad_attn.viz_html without a browser: the pages are one self-contained file, their data
is the arrays given, and bad shapes are named. (tests/examples/test_explorer_browser.py clicks
through them in headless Chromium.)"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_attn as tg
from tinygrad_attn import viz
from tinygrad_attn.viz_html import DIGITS, Translation

RNG = np.random.default_rng(0)


def _weights(*shape: int) -> np.ndarray:
    e = np.exp(3 * RNG.normal(size=shape))
    return e / e.sum(-1, keepdims=True)


def _translation(**changes) -> Translation:
    src, tgt = ["我", "看", "</script><b>书"], ["i", "read", "</s>"]
    fields = dict(src_tokens=src, tgt_tokens=tgt, cross=_weights(2, 2, 3, 3),
                  enc_self=_weights(2, 2, 3, 3), dec_self=_weights(2, 2, 3, 3),
                  probs=[0.9, 0.8, 0.7], copied={1: 2})  # fmt: skip
    return Translation(**{**fields, **changes})


def page_data(html: str) -> dict:
    """The JSON the page's script reads, parsed as the browser would."""
    payload = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S)
    return json.loads(payload.group(1).replace("<\\/", "</"))


def test_the_page_is_one_self_contained_file(tmp_path: Path) -> None:
    html = viz.attention_html(_translation(), path=tmp_path / "x.html")
    assert (tmp_path / "x.html").read_text(encoding="utf-8") == html
    assert not re.search(r"""(src|href)\s*=|<link|@import|url\((?!data:)""", html)
    assert html.count("</script>") == 2  # a token holding "</script>" cannot end the data early
    assert "{{" not in html  # every placeholder of the template was filled


def test_the_pages_data_are_the_attention_arrays_rounded() -> None:
    t = _translation()
    data = page_data(viz.attention_html([t, _translation(name="second")], title="T"))
    assert data["title"] == "T" and len(data["sentences"]) == 2
    first = data["sentences"][0]
    for kind in ("cross", "enc_self", "dec_self"):
        np.testing.assert_allclose(first[kind], getattr(t, kind), atol=0.5 * 10**-DIGITS)
    assert first["src_tokens"] == list(t.src_tokens)
    assert first["fed_tokens"] == ["<s>", "i", "read"]  # what the decoder read at each step
    assert first["copied"] == {"1": 2} and first["probs"] == [0.9, 0.8, 0.7]


def test_tensors_and_missing_self_attention_are_accepted() -> None:
    t = _translation(cross=tg.Tensor(_weights(1, 2, 3, 3)), enc_self=None, dec_self=None)
    data = page_data(viz.attention_html(t))["sentences"][0]
    assert np.asarray(data["cross"]).shape == (1, 2, 3, 3) and data["enc_self"] is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"cross": _weights(2, 3, 3)}, r"cross must be \(L, H, 3, 3\) for these tokens"),
        ({"enc_self": _weights(1, 2, 3, 4)}, r"enc_self must be \(L, H, 3, 3\).*\(1, 2, 3, 4\)"),
        ({"probs": [0.5]}, "1 probs for 3 tokens"),
        ({"copied": {3: 0}}, "copied 3 -> 0 is out of range"),
    ],
)
def test_bad_shapes_are_named(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        viz.attention_html(_translation(**changes))


def test_no_translations_is_an_error() -> None:
    with pytest.raises(ValueError, match="no translations"):
        viz.attention_html([])


def test_backprop_page_links_each_op_of_the_tape_to_its_source_file() -> None:
    model = tg.nn.Sequential(tg.nn.Linear(3, 4), tg.nn.ReLU(), tg.nn.Linear(4, 1))
    flow = tg.GradientFlow(model, group_by="module")
    for step in (1, 2):
        model.zero_grad()
        (model(tg.randn(5, 3)) ** 2).mean().backward()
        flow.record(step)
    model.zero_grad()
    tape = tg.explain_backward((model(tg.randn(5, 3)) ** 2).mean(), file=io.StringIO())
    data = page_data(viz.backprop_html(tape, flow))
    assert [row["op"] for row in data["tape"]] == [r.op for r in tape]
    for row in data["tape"]:
        assert row["source"].startswith("tinygrad_attn/ops/"), row
        assert Path(row["link"].removeprefix("file://")).is_file()
    assert data["grad_norms"]["steps"] == [1, 2]
    assert data["grad_norms"]["norms"] == flow.history


def test_backprop_page_names_a_norm_history_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="layer has 1 norms for 2 steps"):
        viz.backprop_html(grad_norms={"steps": [1, 2], "norms": {"layer": [0.1]}})


def test_without_fonttools_the_page_still_works_and_leaves_chinese_to_the_browser(
    monkeypatch,
) -> None:
    monkeypatch.setitem(sys.modules, "fontTools", None)  # makes `from fontTools import` fail
    html = viz.attention_html(_translation())
    assert "@font-face" not in html
    assert page_data(html)["sentences"][0]["src_tokens"][0] == "我"


HOSTILE = "我<!--<script>学习。</script>&amp;\u2028\u2029{{data}}{{script}}{{title}}"


@pytest.mark.parametrize("page", ["explorer", "backprop"])
def test_user_text_cannot_break_the_data_element_or_the_template(page: str) -> None:
    """Issue 28: "<!--<script>" in a sentence let the data element swallow the page's script
    (a blank page), and "{{data}}" / "{{script}}" in the title were expanded after it."""
    title = "explorer: " + HOSTILE
    if page == "explorer":
        t = _translation(src_tokens=["我", "<!--<script>", HOSTILE], name=HOSTILE)
        html = viz.attention_html(t, title=title)
    else:
        html = viz.backprop_html([], None, title=title)
    payload = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S)
    text = payload.group(1)
    assert not set(text) & set("<>&\u2028\u2029")  # JSON \u escapes instead
    data = json.loads(text)
    assert data["title"] == title
    if page == "explorer":
        assert data["sentences"][0]["src_tokens"] == ["我", "<!--<script>", HOSTILE]
        assert data["sentences"][0]["name"] == HOSTILE
    head = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert head == title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    script = (Path(viz.__file__).parent / "_html" / f"{page}.js").read_text(encoding="utf-8")
    assert html.count(script) == 1  # the script once, in its element, never in the title
    rest = html.replace(script, "")
    assert rest.count("<script") == 2 and rest.count("</script>") == 2
