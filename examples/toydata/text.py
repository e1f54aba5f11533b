"""Tokenisation helpers: segment typed Chinese into lexicon words; detokenise for display."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .lexicon import NAMES, NOUNS
from .verbs import ADJECTIVES, VERBS

# Punctuation a person might type, mapped to the corpus's tokens (exclamations end statements).
_PUNCT = {",": "，", ".": "。", "?": "？", "!": "。", "！": "。"}
_NO_SPACE_BEFORE = {".", ",", "?", "!", "'s"}
_CAPITALISED = set(NAMES.values()) | {"beijing", "shanghai", "chinese", "english", "i"}
_LATIN = "A-Za-z\u00c0-\u024f"  # ASCII and accented Latin letters
_LATIN_OR_NUMBER = re.compile(f"[0-9]*[{_LATIN}][{_LATIN}0-9'-]*|[0-9]+")
# One-character nouns, verbs and adjectives: what an unknown character may form a word with.
_CONTENT_CHARS = {w for w in [*NOUNS, *VERBS, *ADJECTIVES] if len(w) == 1}


def segment(text: str, vocab_words: Iterable[str]) -> list[str]:
    """Split Chinese typed without spaces into words: vocabulary words by greedy longest match,
    and whole words for what the vocabulary does not know.

    - A run of Latin letters (with digits, '-' and "'") is one token ("iPhone", "MP3"), a run of
      digits one number token ("12"); whitespace separates tokens too.
    - Consecutive characters that start no known word form one unknown word (李雷). A single
      unknown character also takes the one-character content word after it (熊 + 猫 -> 熊猫,
      漫 + 画 -> 漫画): Chinese words are mostly two characters, a lone unknown one rarely a word.
    - Punctuation is a token of its own; half-width , . ? become ， 。 ？ and ! or ！ become 。.
    The caller maps tokens missing from the vocabulary to <unk> and names them in a warning.
    Example: segment("我昨天在图书馆看了三本书。", words) -> ["我", "昨天", "在", "图书馆", ...].
    """
    words = set(vocab_words)
    longest = max((len(w) for w in words), default=1)
    tokens: list[str] = []
    for chunk in text.split():
        start = 0
        for run in _LATIN_OR_NUMBER.finditer(chunk):
            tokens += _segment_chinese(chunk[start : run.start()], words, longest)
            tokens.append(run.group())
            start = run.end()
        tokens += _segment_chinese(chunk[start:], words, longest)
    return tokens


def _segment_chinese(text: str, words: set[str], longest: int) -> list[str]:
    """Greedy longest match; unknown characters gathered into words (see `segment`)."""
    tokens: list[str] = []
    unknown = ""
    i = 0
    while i < len(text):
        sizes = range(min(longest, len(text) - i), 0, -1)
        size = next((n for n in sizes if text[i : i + n] in words), 0)
        piece = text[i : i + max(size, 1)]
        i += len(piece)
        if size == 0 and piece.isalnum():
            unknown += piece
            continue
        if len(unknown) == 1 and piece in _CONTENT_CHARS:
            unknown, piece = unknown + piece, ""
        if unknown:
            tokens.append(unknown)
            unknown = ""
        if piece:
            tokens.append(piece if size else _PUNCT.get(piece, piece))
    return tokens + ([unknown] if unknown else [])


def detokenize_zh(tokens: list[str]) -> str:
    """Chinese is written without spaces, except between two Latin or number tokens."""
    out = ""
    for tok in tokens:
        latin_pair = out and _LATIN_OR_NUMBER.match(out[-1]) and _LATIN_OR_NUMBER.match(tok)
        out += " " + tok if latin_pair else tok
    return out


def detokenize_en(tokens: list[str]) -> str:
    """["i", "read", "xiaoming", "'s", "book", "."] -> "I read Xiaoming's book." """
    out = ""
    for k, tok in enumerate(tokens):
        word = tok[:1].upper() + tok[1:] if tok in _CAPITALISED or k == 0 else tok  # iPhone
        out += word if (not out or tok in _NO_SPACE_BEFORE) else " " + word
    return out
