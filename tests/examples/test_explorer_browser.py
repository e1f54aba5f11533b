"""The attention explorer in a real browser: headless Chromium and chromedriver from the system's
packages (apt-get install chromium chromium-driver), driven by Selenium. The page of a tiny
untrained model is loaded from a file:// URL and clicked through; what it highlights must be the
model's attention, computed here from the numpy arrays. One browser for the module; skipped with
a message saying what to install where there is no browser, driver or selenium."""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from _browser import BrowserMissingError, start_browser
from _explorer import explore
from toydata import Vocab

from tests._tiny import tiny_model
from tests.examples.test_translate_cli import run_script, translate
from tests.test_viz_html import page_data
from tinygrad_attn import fonts, viz

SRC = ["我", "昨天", "在", "图书馆", "看", "了", "三", "本", "书", "。"]
OUT = ["i", "read", "three", "books", "in", "the", "library", "yesterday", "."]
LAYERS, HEADS = 2, 2


@pytest.fixture(scope="module")
def browser():
    try:
        driver = start_browser(1200, 900)
    except BrowserMissingError as err:
        pytest.skip(f"no browser for the explorer tests: {err}")
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory):
    """A tiny untrained translator's explorer page: (file path, the Translation it shows)."""
    src_vocab, tgt_vocab = Vocab.build([SRC]), Vocab.build([OUT])
    sizes = dict(d_model=16, nhead=HEADS, num_encoder_layers=LAYERS, num_decoder_layers=LAYERS)
    model = tiny_model(  # the factory itself: this fixture is module-scoped
        src_vocab=len(src_vocab), tgt_vocab=len(tgt_vocab), dim_feedforward=32, **sizes
    )
    written = [*OUT[:6], "<unk>", *OUT[7:]]  # "library" copied: the model wrote <unk>
    translation = explore(model, SRC, OUT, src_vocab, tgt_vocab, {6: 3}, written=written)
    path = tmp_path_factory.mktemp("explorer") / "explorer.html"
    viz.attention_html(translation, path, title="explorer: 我昨天在图书馆看了三本书。")
    return path, translation


@pytest.fixture()
def loaded(browser, page):
    """The page freshly loaded (state reset), its fonts ready; the browser log emptied first."""
    browser.get_log("browser")
    browser.get(page[0].resolve().as_uri())
    browser.execute_async_script("document.fonts.ready.then(arguments[0])")
    return browser, page[1]


def tokens(driver, row: str) -> list:
    return driver.find_elements("css selector", f"#{row} .token")


def shown(driver, row: str) -> tuple[np.ndarray, set[int], list[int]]:
    """The weights the tokens of `row` show, which are highlighted, which is the top one."""
    chips = tokens(driver, row)
    weights = np.array([float(c.get_attribute("data-weight")) for c in chips])
    classes = [c.get_attribute("class").split() for c in chips]
    highlighted = {i for i, cls in enumerate(classes) if "highlight" in cls}
    return weights, highlighted, [i for i, cls in enumerate(classes) if "top" in cls]


def choose(driver, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", select_id)).select_by_value(value)


def assert_shows_row(driver, expected: np.ndarray, row: str) -> None:
    threshold = float(driver.find_element("id", "app").get_attribute("data-highlight"))
    weights, highlighted, top = shown(driver, row)
    np.testing.assert_allclose(weights, expected, atol=1e-4)  # the page rounds to 4 decimals
    assert highlighted == {i for i, w in enumerate(expected) if w >= threshold - 1e-4}
    assert int(np.argmax(expected)) in top


def test_the_page_loads_from_a_file_without_console_errors(loaded) -> None:
    driver, _ = loaded
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == []
    assert [t.text.split("\n")[0] for t in tokens(driver, "keys")] == SRC
    assert "图书馆" in driver.find_element("tag name", "h1").text
    faces = driver.execute_script(
        "return [...document.fonts].map(f => [f.family.replace(/\"/g, ''), f.status])"
    )
    assert ["tg-cjk", "loaded"] in faces or fonts.packaged_cjk_font() is None


def test_clicking_an_output_token_highlights_the_source_tokens_it_attends_to(loaded) -> None:
    driver, translation = loaded
    cross = np.asarray(translation.cross)  # (L, H, T, S)
    library = OUT.index("library")
    tokens(driver, "queries")[library].click()
    assert_shows_row(driver, cross[0].mean(0)[library], "keys")  # layer 1, mean of the heads
    choose(driver, "layer", "1")  # 0-based values: layer 2
    choose(driver, "head", "1")  # head 2
    tokens(driver, "queries")[library].click()
    assert_shows_row(driver, cross[1, 1, library], "keys")
    assert "layer 2, head 2" in driver.find_element("css selector", "h2").text


def test_clicking_a_source_token_shows_what_attends_to_it(loaded) -> None:
    driver, translation = loaded
    choose(driver, "head", "0")
    tokens(driver, "keys")[3].click()  # 图书馆
    assert_shows_row(driver, np.asarray(translation.cross)[0, 0, :, 3], "queries")


def test_hovering_a_token_shows_its_weights_until_the_mouse_leaves(loaded) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    driver, translation = loaded
    cross = np.asarray(translation.cross)[0].mean(0)  # layer 1, mean of the heads: (T, S)
    ActionChains(driver).move_to_element(tokens(driver, "queries")[2]).perform()
    assert_shows_row(driver, cross[2], "keys")
    ActionChains(driver).move_to_element(driver.find_element("tag name", "h1")).perform()
    assert_shows_row(driver, cross[0], "keys")  # back to the selected (first) output token


@pytest.mark.parametrize("kind", ["enc_self", "dec_self"])
def test_self_attention_tables_show_each_heads_weights(loaded, kind: str) -> None:
    driver, translation = loaded
    choose(driver, "kind", kind)
    choose(driver, "layer", "1")
    choose(driver, "head", "0")
    expected = np.asarray(getattr(translation, kind))[1, 0]  # (queries, keys)
    rows = driver.find_elements("css selector", "#heat tr")[1:]
    cells = [[float(td.get_attribute("title")) for td in r.find_elements("tag name", "td")]
             for r in rows]  # fmt: skip
    np.testing.assert_allclose(cells, expected, atol=1e-4)
    if kind == "dec_self":  # causal: no query looks at a later input
        assert np.allclose(np.triu(np.asarray(cells), 1), 0.0)


def test_the_walk_lists_each_step_with_the_chosen_tokens_probability(loaded) -> None:
    driver, translation = loaded
    rows = driver.find_elements("css selector", "#walk tr")[1:]
    assert len(rows) == len(OUT) + 1  # one step per output token and </s>
    cells = [r.find_elements("tag name", "td") for r in rows]
    assert [c[1].text for c in cells[:3]] == ["<s>", "i", "read"]
    probs = [float(c[3].text) for c in cells]
    np.testing.assert_allclose(probs, translation.probs, atol=0.0051)  # shown to 2 decimals
    assert cells[6][2].text == "<unk> → library (copied)"
    assert cells[7][1].text == "<unk>"  # what the decoder read next
    assert "copied from 图书馆" in tokens(driver, "queries")[6].text


def test_the_screenshot_is_not_blank(loaded) -> None:
    driver, _ = loaded
    png = driver.get_screenshot_as_base64()
    # The browser decodes its own PNG onto a canvas: the spread of the pixels' brightness.
    spread = driver.execute_async_script(
        """const done = arguments[1], img = new Image();
        img.onload = () => {
          const c = document.createElement("canvas");
          c.width = img.width; c.height = img.height;
          const ctx = c.getContext("2d");
          ctx.drawImage(img, 0, 0);
          const px = ctx.getImageData(0, 0, c.width, c.height).data;
          let n = 0, sum = 0, sq = 0;
          for (let i = 0; i < px.length; i += 4) {
            const y = (px[i] + px[i + 1] + px[i + 2]) / 3; n++; sum += y; sq += y * y;
          }
          done(Math.sqrt(sq / n - (sum / n) ** 2));
        };
        img.src = "data:image/png;base64," + arguments[0];""",
        png,
    )
    assert len(base64.b64decode(png)) > 20_000
    assert spread > 20  # a blank or single-colour page has ~0


def test_the_page_written_by_translate_py_is_explored_the_same_way(browser, tmp_path) -> None:
    """translate.py --html on a tiny trained run (5 updates): the page loads without errors."""
    run = tmp_path / "run"
    flags = "--d-model 16 --nhead 2 --num-encoder-layers 1 --num-decoder-layers 1 "
    flags += "--dim-feedforward 32 --steps 5 --eval-every 5 --eval-size 20 --samples 2"
    assert run_script("train_translation.py", *flags.split(), "--out", str(run)).returncode == 0
    assert (run / "explorer.html").is_file() and (run / "backprop.html").is_file()
    result = translate(run, "--html", str(tmp_path / "t.html"), "我昨天在图书馆看了三本书。")
    assert result.returncode == 0, result.stderr
    for page in (tmp_path / "t.html", run / "explorer.html", run / "backprop.html"):
        browser.get_log("browser")
        browser.get(Path(page).resolve().as_uri())
        assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    second = page_data((run / "explorer.html").read_text(encoding="utf-8"))["sentences"][1]
    browser.get((run / "explorer.html").resolve().as_uri())
    choose(browser, "sentence", "1")  # the run's page holds its two sample translations
    assert [t.text.split("\n")[0] for t in tokens(browser, "keys")] == second["src_tokens"]
    browser.get((tmp_path / "t.html").resolve().as_uri())
    assert [t.text.split("\n")[0] for t in tokens(browser, "keys")][3] == "图书馆"
    tokens(browser, "queries")[0].click()
    assert len(shown(browser, "keys")[0]) == len(SRC)
