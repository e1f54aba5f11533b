"""Make docs/explorer.png, the README's picture of the attention explorer, from a trained run.

    python examples/train_translation.py                 # the default run, into runs/zh_en
    python docs/explorer_screenshot.py                   # writes docs/explorer.png
    python docs/explorer_screenshot.py --ckpt /tmp/run --out /tmp/explorer.png

Needs headless Chromium and its driver (`apt-get install chromium chromium-driver`) and the
`test` extra (selenium). It writes the page as `translate.py --html` does, opens it, picks the
cross-attention head that gives "library" the most weight on 图书馆, clicks "library" and saves
the screenshot; it prints every head's weight so the README's sentence can be checked.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import translate  # noqa: E402
from _browser import start_browser  # noqa: E402
from _explorer import explore  # noqa: E402

from tinygrad_attn.viz import attention_html  # noqa: E402

SENTENCE = "我昨天在图书馆看了三本书。"
TARGET, SOURCE = "library", "图书馆"


def library_weights(ckpt: Path, html: Path) -> np.ndarray:
    """Write the explorer page of SENTENCE to `html`; the weight each cross-attention head gives
    SOURCE while writing TARGET.  -> (L, H)"""
    tr = translate.Translator(ckpt)
    tokens, src = tr.encode(SENTENCE)
    output = tr.translate(src, beam=1)
    page = explore(tr.model, tokens, output, tr.src_vocab, tr.tgt_vocab, name=SENTENCE)
    attention_html(page, html, title=f"attention explorer: {SENTENCE}")
    print(" ".join(output))
    return np.asarray(page.cross)[:, :, output.index(TARGET), tokens.index(SOURCE)]


def screenshot(html: Path, layer: int, head: int, out: Path) -> None:
    """Open the page, choose the layer and head, click TARGET, save a PNG of the window."""
    from selenium.webdriver.support.ui import Select

    driver = start_browser(1280, 1020)
    try:
        driver.get(html.resolve().as_uri())
        driver.execute_async_script("document.fonts.ready.then(arguments[0])")
        Select(driver.find_element("id", "layer")).select_by_value(str(layer))
        Select(driver.find_element("id", "head")).select_by_value(str(head))
        for chip in driver.find_elements("css selector", "#queries .token"):
            if chip.text.split("\n")[0] == TARGET:
                chip.click()
                break
        driver.save_screenshot(str(out))
    finally:
        driver.quit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ckpt", default=str(ROOT / "runs" / "zh_en"), help="run directory")
    parser.add_argument("--out", default=str(ROOT / "docs" / "explorer.png"), help="PNG to write")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        html = Path(tmp) / "explorer.html"
        weights = library_weights(Path(args.ckpt), html)  # (L, H)
        for layer, row in enumerate(weights):
            cells = "  ".join(f"H{h + 1} {w:.3f}" for h, w in enumerate(row))
            print(f"weight of {SOURCE} while writing {TARGET!r}, layer {layer + 1}: {cells}")
        layer, head = np.unravel_index(int(np.argmax(weights)), weights.shape)
        print(f"best: layer {layer + 1} head {head + 1} ({weights[layer, head]:.3f})")
        screenshot(html, int(layer), int(head), Path(args.out))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
