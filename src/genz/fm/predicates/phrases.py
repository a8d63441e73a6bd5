"""Phrases a person would write: words within one sentence, never only function words, shown
in the words around them."""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Sequence

_CONTENT_WORDS = frozenset({
    "back", "bill", "bottom", "call", "cry", "describe", "detail", "eight", "eleven", "empty", "fifteen",
    "fifty", "fill", "find", "fire", "first", "five", "forty", "found", "four", "front", "full", "give",
    "hundred", "interest", "keep", "last", "made", "mill", "move", "name", "nine", "part", "put", "serious",
    "show", "side", "sincere", "six", "sixty", "system", "take", "ten", "thick", "thin", "third", "three",
    "top", "twelve", "twenty", "two", "well",
})


def _function_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) - _CONTENT_WORDS


FUNCTION_WORDS = _function_words()
_WORD_RE = r"[^\W\d_]\w*"  # a word starts with a letter
#: a sentence ends at . ! ? ; or : followed by a space or the end, or at a line break
_SENTENCE_END = re.compile(r"[.!?;:]+(?=\s|$)|\n")
_BREAK = " qqgenzsentencebreakqq "  # stands between sentences while n-grams are counted
#: what may stand between two words of a phrase: anything but a word character or a sentence end
_GAP = r"[^\w.!?;:\n]+"


def _mark_sentences(text: str) -> str:
    """Lower-cased text with a break token between sentences (no n-gram spans two sentences)."""
    return _SENTENCE_END.sub(_BREAK, text.lower())


def is_readable_phrase(phrase: str) -> bool:
    """A phrase worth proposing: not only function words, and not ending in one
    (``"of the"``, ``"a"`` and ``"sunroof and"`` are out; ``"no accidents"`` is in)."""
    words = phrase.lower().split()
    return bool(words) and words[-1] not in FUNCTION_WORDS and "qqgenzsentencebreakqq" not in words


@functools.lru_cache(maxsize=4096)
def _phrase_pattern(phrase: str) -> re.Pattern:
    words = phrase.split()
    return re.compile(r"(?<!\w)" + _GAP.join(re.escape(w) for w in words) + r"(?!\w)", re.IGNORECASE)


_LEFT = re.compile(rf"(?<!\w)({_WORD_RE}){_GAP}$")
_RIGHT = re.compile(rf"^{_GAP}({_WORD_RE})(?!\w)")


#: a phrase is shown with its surrounding words only when at least this many texts have it and
#: all of them have those words (fewer would not show that new texts will)
_MIN_CONTEXT = 10


def phrase_in_context(phrase: str, texts: Sequence[str], max_words: int = 5) -> str:
    """The phrase with the words that surround it in every text that has it, within the
    sentence (``"sunroof"`` → ``"has a sunroof"`` when every listing says "Has a sunroof"), so
    that it reads as written; it matches exactly the same texts."""
    words = phrase.split()
    while len(words) < max_words:
        pat = _phrase_pattern(" ".join(words))
        left: Counter = Counter()
        right: Counter = Counter()
        n = 0
        for t in texts:
            m = pat.search(t)
            if not m:
                continue
            n += 1
            lm = _LEFT.search(t, 0, m.start())
            if lm:
                left[lm.group(1).lower()] += 1
            rm = _RIGHT.match(t[m.end():])
            if rm:
                right[rm.group(1).lower()] += 1
        if n < _MIN_CONTEXT:  # too few texts to claim the surrounding words always come with it
            break
        lw = left.most_common(1)
        rw = right.most_common(1)
        if lw and lw[0][1] == n:
            words.insert(0, lw[0][0])
        elif rw and rw[0][1] == n and rw[0][0] not in FUNCTION_WORDS:
            words.append(rw[0][0])
        else:
            break
    return " ".join(words)
