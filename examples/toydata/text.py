"""Tokenisation helpers: segment typed Chinese into lexicon words; detokenise for display."""

from __future__ import annotations

from collections.abc import Iterable

from .lexicon import NAMES

# Punctuation a person might type, mapped to the corpus's tokens (exclamations end statements).
_PUNCT = {",": "，", ".": "。", "?": "？", "!": "。", "！": "。"}
_NO_SPACE_BEFORE = {".", ",", "?", "!", "'s"}
_CAPITALISED = set(NAMES.values()) | {"beijing", "shanghai", "chinese", "english", "i"}


def segment(text: str, vocab_words: Iterable[str]) -> list[str]:
    """Split Chinese typed without spaces into vocabulary words by greedy longest match.

    Whitespace separates tokens too; half-width , . ? become ， 。 ？ and ! or ！ become 。.
    A character that starts no known word comes back as its own token (the caller maps it to
    <unk> and should warn).
    Example: segment("我昨天在图书馆看了三本书。", words) -> ["我", "昨天", "在", "图书馆", ...].
    """
    words = set(vocab_words)
    longest = max((len(w) for w in words), default=1)
    tokens: list[str] = []
    for chunk in text.split():
        i = 0
        while i < len(chunk):
            for size in range(min(longest, len(chunk) - i), 0, -1):
                piece = chunk[i : i + size]
                if piece in words or size == 1:
                    tokens.append(_PUNCT.get(piece, piece) if piece not in words else piece)
                    i += size
                    break
    return tokens


def detokenize_zh(tokens: list[str]) -> str:
    """Chinese is written without spaces."""
    return "".join(tokens)


def detokenize_en(tokens: list[str]) -> str:
    """["i", "read", "xiaoming", "'s", "book", "."] -> "I read Xiaoming's book." """
    out = ""
    for k, tok in enumerate(tokens):
        word = tok.capitalize() if tok in _CAPITALISED or k == 0 else tok
        out += word if (not out or tok in _NO_SPACE_BEFORE) else " " + word
    return out
