"""Self-contained HTML pages for studying a model in the browser: the attention explorer and
the backprop page. One file each, CSS, JavaScript and data inline, no network: open it from disk.

    from tinygrad_attn import viz
    page = viz.Translation(src_tokens, tgt_tokens, cross)        # cross: (L, H, T, S)
    viz.attention_html(page, path="explorer.html")               # or a list of Translations
    viz.backprop_html(tape=records, grad_norms=flow, path="backprop.html")

The pages' JavaScript and CSS live next to this file in `_html/` (readable, commented); this
module checks the arrays, turns them into JSON and fills the template. No matplotlib needed; the
Chinese glyphs come inline from the packaged CJK font when it is installed (`fonts.py`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_attn.fonts import FONT_FAMILY_CSS, font_face_css

ASSETS = Path(__file__).resolve().parent / "_html"
DIGITS = 4  # weights are written rounded to this many decimals (the page stays small)


@dataclass
class Translation:
    """One sentence for the attention explorer: tokens and the model's attention maps.

    Shapes: cross (L, H, T, S), row j is the attention while writing tgt_tokens[j];
    enc_self (L_enc, H, S', S') over the encoder's rows `enc_tokens` (default src_tokens; S' =
    S + 1 for a model that puts a start token before the source); dec_self (L, H, T, T) over
    the decoder's inputs `fed_tokens` (default "<s>" + tgt_tokens[:-1]); probs (T,) the
    probability each output token had when it was chosen; alternatives: per step, the most
    likely tokens as (token, probability) pairs; copied: output position -> source position of
    each copied unknown word.
    """

    src_tokens: Sequence[str]
    tgt_tokens: Sequence[str]
    cross: Any
    enc_self: Any = None
    dec_self: Any = None
    fed_tokens: Sequence[str] | None = None
    enc_tokens: Sequence[str] | None = None
    probs: Sequence[float] | None = None
    alternatives: Sequence[Sequence[tuple[str, float]]] | None = None
    copied: Mapping[int, int] = field(default_factory=dict)
    reference: Sequence[str] | None = None
    name: str = ""

    def to_json(self) -> dict:
        """The checked arrays as plain lists (weights rounded to DIGITS decimals)."""
        src, tgt = [str(t) for t in self.src_tokens], [str(t) for t in self.tgt_tokens]
        fed = list(self.fed_tokens) if self.fed_tokens is not None else ["<s>"] + tgt[:-1]
        out: dict[str, Any] = {"name": self.name, "src_tokens": src, "tgt_tokens": tgt}
        enc = src if self.enc_tokens is None else [str(t) for t in self.enc_tokens]
        out["fed_tokens"], out["enc_tokens"] = [str(t) for t in fed], enc
        out["cross"] = _maps("cross", self.cross, len(tgt), len(src))
        out["enc_self"] = _maps("enc_self", self.enc_self, len(enc), len(enc))
        out["dec_self"] = _maps("dec_self", self.dec_self, len(tgt), len(fed))
        if self.probs is not None and len(self.probs) != len(tgt):
            raise ValueError(f"attention_html: {len(self.probs)} probs for {len(tgt)} tokens")
        out["probs"] = None if self.probs is None else [round(float(p), DIGITS) for p in self.probs]
        out["alternatives"] = [
            [[str(token), round(float(p), DIGITS)] for token, p in step]
            for step in (self.alternatives or [])
        ]
        for target, source in self.copied.items():
            if not (0 <= target < len(tgt) and 0 <= source < len(src)):
                raise ValueError(f"attention_html: copied {target} -> {source} is out of range")
        out["copied"] = {str(t): int(s) for t, s in self.copied.items()}
        out["reference"] = None if self.reference is None else [str(t) for t in self.reference]
        return out


def _maps(name: str, weights: Any, rows: int, cols: int) -> list | None:
    """(L, H, rows, cols) weights as nested lists, or None; a ValueError naming the shapes."""
    if weights is None:
        return None
    array = np.asarray(weights.data if hasattr(weights, "data") else weights, dtype=np.float64)
    if array.ndim != 4 or array.shape[2:] != (rows, cols):
        raise ValueError(
            f"attention_html: {name} must be (L, H, {rows}, {cols}) for these tokens, "
            f"got {array.shape}"
        )
    return np.round(array, DIGITS).tolist()


def attention_html(
    translations: Translation | Sequence[Translation],
    path: str | Path | None = None,
    title: str = "attention explorer",
) -> str:
    """The attention explorer page for one or more translations; written to `path` if given.

    Choose the sentence, the attention (decoder -> source, encoder self, decoder self), the
    layer and the head (or their mean); click an output token to see the source tokens it
    attends to (shaded, weights shown) or a source token for the reverse; the decoding walk
    lists each step with the probability of the chosen token. Returns the HTML text.
    """
    if isinstance(translations, Translation):
        translations = [translations]
    if not translations:
        raise ValueError("attention_html: no translations given")
    sentences = [t.to_json() for t in translations]
    text = "".join(tok for s in sentences for tok in s["src_tokens"] + s["tgt_tokens"])
    data = {"title": title, "sentences": sentences}
    return _page(title, data, "explorer.js", font_face_css(text + title), path)


def backprop_html(
    tape: Sequence[Any] = (),
    grad_norms: Any = None,
    path: str | Path | None = None,
    title: str = "backprop",
) -> str:
    """The backprop page: gradient norm per layer over training, and one backward tape.

    Args:
        tape: `explain_backward`'s TapeRecords, one row each, in the engine's order; each op
            links to the file that defines it.
        grad_norms: a GradientFlow, or {"steps": [..], "norms": {name: [norm per step]}}.
    Returns the HTML text (written to `path` if given).
    """
    if hasattr(grad_norms, "history"):
        grad_norms = {"steps": list(grad_norms.steps), "norms": dict(grad_norms.history)}
    if grad_norms is not None:
        steps = list(grad_norms["steps"])
        for name, values in grad_norms["norms"].items():
            if len(values) != len(steps):
                raise ValueError(
                    f"backprop_html: {name} has {len(values)} norms for {len(steps)} steps"
                )
    rows = [_tape_row(r) for r in tape]
    data = {"title": title, "grad_norms": grad_norms, "tape": rows}
    return _page(title, data, "backprop.js", "", path)


def _tape_row(record: Any) -> dict:
    """One TapeRecord as JSON; its op's source file as a file:// link when known."""
    source = getattr(record, "source", None)
    link = None
    if source:
        file, _, line = source.rpartition(":")
        link = Path(file).resolve().as_uri() if Path(file).is_file() else None
        source = f"{_short(file)}:{line}"
    return {
        "step": record.step,
        "op": record.op,
        "site": record.site,
        "inputs": [None if s is None else list(s) for s in record.input_shapes],
        "output": list(record.output_shape),
        "grad_out": record.grad_out_norm,
        "grad_in": record.grad_in_norms,
        "source": source,
        "link": link,
    }


def _short(file: str) -> str:
    """A source path from the package folder on ("tinygrad_attn/ops/softmax.py")."""
    parts = Path(file).parts
    for anchor in ("tinygrad_attn", "models"):
        if anchor in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(anchor) - 1 :])
    return Path(file).name


def _page(title: str, data: dict, script: str, font_css: str, path: str | Path | None) -> str:
    """Fill _html/page.html: inline CSS, the data as JSON, then the page's script.

    Every placeholder is filled in one pass over the template, so a title or data holding
    "{{data}}" or "{{script}}" stays that text."""
    style = (ASSETS / "style.css").read_text(encoding="utf-8")
    replacements = {
        "title": _escape(title),
        "style": style.replace("{{font_family}}", FONT_FAMILY_CSS),
        "font_css": font_css,
        "script": (ASSETS / script).read_text(encoding="utf-8"),
        "data": _script_json(data),
    }
    html = (ASSETS / "page.html").read_text(encoding="utf-8")
    html = re.sub(r"\{\{(\w+)\}\}", lambda m: replacements[m.group(1)], html)
    if path is not None:
        Path(path).write_text(html, encoding="utf-8")
    return html


# Characters that mean something to the HTML parser inside <script> ("</script>", "<!--",
# "<script"), and the two line separators older JavaScript parsers end a line at: written as
# JSON's own \u escapes, they parse back to the same data and the element is only JSON.
_SCRIPT_ESCAPES = {ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029"}


def _script_json(data: Any) -> str:
    """`data` as JSON that is safe inside an HTML <script> element: no <, >, & or U+2028/9."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.translate(_SCRIPT_ESCAPES)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
