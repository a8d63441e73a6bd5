"""Phrases a person would write: words within one sentence, never only function words, shown
in the words around them; a statement, not a fragment.

The rules (docs/offline-engine.md):

* **Words.** A word starts with a letter. *Function words* are scikit-learn's English stop
  words less a few that carry content (:data:`FUNCTION_WORDS`); the others are content words.
  *Vague words* (:data:`VAGUE_WORDS`: numbers in words, yes/no, and words whose meaning is
  what they qualify, such as "good", "ages", "type", "all") say nothing on their own.
* **A statement** (:func:`is_statement`) has at least two content words, at least one of them
  not vague ("water damage", "good condition"), or one content word that is not vague and has
  three letters or more ("sunroof", "overpriced"). "yes", "two", "ages", "all styles", "good"
  and "of the" are fragments, never offered.
* **Context.** A phrase is shown with the words that surround it in every text that has it
  (:func:`phrase_in_context`); a fragment gets its context from any number of texts, a
  statement only from :data:`_MIN_CONTEXT` or more. A fragment that stays a fragment is not
  offered.
* **Fixed expressions.** A phrase with a single content word that one content word accompanies
  in at least half the texts having it (:func:`dominant_neighbour`: "damage" in "water damage"
  and "damage deposit") is a piece of a longer phrase: not offered (the longer one is).
* **Near-duplicates** (:func:`near_duplicates`): two phrases in the same place (the free text,
  or one field) are near-duplicates when their content words differ only in endings of at
  most two letters ("http" / "https", "garage" / "garages": one phrase written two ways), or
  when one's content words appear in order in the other's ("garage" / "attached garage") and
  they hold on mostly the same items (Jaccard >= 0.8 on the exemplars). The phrase offered
  first stays; the other is not offered after it.
"""

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

#: content words that say nothing on their own (a phrase of these alone is a fragment)
VAGUE_WORDS = frozenset({
    # numbers and order in words
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "hundred", "thousand", "million", "first", "second",
    "third", "fourth", "fifth", "last", "single", "double", "triple",
    # answers
    "yes", "no", "none", "nope", "yeah", "na", "n/a", "true", "false",
    # evaluations and sizes that qualify something else
    "good", "bad", "poor", "fair", "average", "typical", "normal", "standard", "excellent", "great", "nice",
    "fine", "ok", "okay", "new", "old", "high", "low", "big", "small", "large", "little", "long", "short", "best",
    "better", "worse", "worst", "full", "half", "total", "overall", "general", "main", "other", "others", "same",
    "different", "various", "several", "many", "much", "more", "most", "less", "least", "very", "really", "quite",
    "well", "all", "both", "each", "every", "any", "some", "only", "just", "also", "even", "still", "non", "plus",
    "etc", "misc", "unknown", "available", "included", "present", "applicable",
    # nouns that name a slot, not a thing
    "ages", "age", "styles", "style", "type", "types", "kind", "kinds", "sort", "thing", "things", "way", "ways",
    "part", "parts", "side", "sides", "top", "bottom", "front", "back", "lot", "lots", "bit", "level", "levels",
    "item", "items", "unit", "units", "area", "areas", "number", "amount", "value",
})


def content_words(phrase: str) -> list[str]:
    """The phrase's content words (lower case): words that start with a letter and are not
    function words."""
    return [w for w in re.findall(_WORD_RE, phrase.lower()) if w not in FUNCTION_WORDS]


def is_statement(phrase: str) -> bool:
    """Whether a phrase says something on its own (see the module docstring): two content words
    not all vague, or one content word, not vague, of three letters or more."""
    words = content_words(phrase)
    solid = [w for w in words if w not in VAGUE_WORDS]
    if len(words) >= 2:
        return bool(solid)
    return len(solid) == 1 and len(solid[0]) >= 3


def _same_word(a: str, b: str) -> bool:
    """Words equal up to an ending of at most two letters ("http"/"https", "garage"/"garages")."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 3 and long_.startswith(short) and len(long_) - len(short) <= 2


def _aligned(a: str, b: str) -> list[tuple[str, str]] | None:
    """The word pairs where the shorter phrase's content words appear in order in the longer
    one's, equal up to short endings; None if they do not."""
    wa, wb = content_words(a) or a.lower().split(), content_words(b) or b.lower().split()
    short, long_ = sorted((wa, wb), key=len)
    for i in range(len(long_) - len(short) + 1):
        pairs = list(zip(short, long_[i:i + len(short)]))
        if all(_same_word(x, y) for x, y in pairs):
            return pairs
    return None


def related_phrases(a: str, b: str) -> bool:
    """One phrase's content words appear in order in the other's, up to endings of at most two
    letters ("garage" / "attached garage", "http" / "https", "http" / "docs at https site")."""
    return _aligned(a, b) is not None


def variants(a: str, b: str) -> bool:
    """Related phrases with a word written two ways ("http"/"https", "garage"/"garages")."""
    pairs = _aligned(a, b)
    return pairs is not None and any(x != y for x, y in pairs)


def near_duplicates(a: str, b: str, col_a, col_b, jaccard: float = 0.8) -> bool:
    """Variants of one phrase (whatever items they hold on), or related phrases that hold on
    mostly the same items (``col_a``, ``col_b``: 0/1 columns; Jaccard >= ``jaccard``)."""
    if variants(a, b):
        return True
    if not related_phrases(a, b):
        return False
    both, either = int((col_a & col_b).sum()), int((col_a | col_b).sum())
    return either == 0 or both / either >= jaccard


_WORD_RE = r"[^\W\d_]\w*"  # a word starts with a letter
#: a sentence ends at . ! ? ; or : followed by a space or the end, or at a line break
_SENTENCE_END = re.compile(r"[.!?;:]+(?=\s|$)|\n")
_BREAK = " qqgenzsentencebreakqq "  # stands between sentences while n-grams are counted
#: what may stand between two words of a phrase: anything but a word character or a sentence end
_GAP = r"[^\w.!?;:\n]+"


def _mark_sentences(text: str) -> str:
    """Lower-cased text with a break token between sentences (no n-gram spans two sentences)."""
    return _SENTENCE_END.sub(_BREAK, text.lower())


#: function words a phrase may start with: they turn what follows into a statement
LEADING = frozenset({"no", "not", "never", "without", "nor", "non", "has", "have", "had", "very", "too"})


def is_readable_phrase(phrase: str) -> bool:
    """A phrase worth proposing: not only function words, not ending in one, not starting
    with one other than a negation or "has", not starting or ending with what an apostrophe
    left of a word (``"building s"``) (``"of the"``, ``"a"``, ``"sunroof and"`` and ``"and
    basement"`` are out; ``"no accidents"`` and ``"has a sunroof"`` are in)."""
    words = phrase.lower().split()
    return (bool(words) and words[-1] not in FUNCTION_WORDS and "qqgenzsentencebreakqq" not in words
            and (words[0] not in FUNCTION_WORDS or words[0] in LEADING)
            and words[0] not in CLITICS and words[-1] not in CLITICS)


#: what is left of a word after its apostrophe ("building's" → "building s"): a phrase never
#: starts or ends with one ("building s" is a fragment)
CLITICS = frozenset({"s", "t", "d", "ll", "re", "ve", "m"})


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
    that it reads as written; it matches exactly the same texts. A statement is extended only
    when :data:`_MIN_CONTEXT` or more texts have it; a fragment ("yes", "good") whatever the
    number of texts (it may stay a fragment: the caller drops it then)."""
    words = phrase.split()
    while len(words) < max_words:
        fragment = not is_statement(" ".join(words))
        left, right, n = _neighbours(" ".join(words), texts, content_only=False)
        if n < (1 if fragment else _MIN_CONTEXT):  # too few texts to claim the words always come with it
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


#: a one-word phrase is part of a fixed expression when one content word stands next to it in at
#: least this share of the texts that have it ("damage" in "water damage")
DOMINANT = 0.5


def dominant_neighbour(phrase: str, texts: Sequence[str]) -> float:
    """The largest share of the texts having ``phrase`` in which one same content word stands
    right before it, or right after it (within the sentence); 0 when no text has it."""
    left, right, n = _neighbours(phrase, texts, content_only=True)
    if n == 0:
        return 0.0
    top = max([c for _, c in left.most_common(1)] + [c for _, c in right.most_common(1)] + [0])
    return top / n


def _neighbours(phrase: str, texts: Sequence[str], content_only: bool) -> tuple[Counter, Counter, int]:
    """The words right before and right after ``phrase`` (within its sentence) in the texts
    that have it, counted (``content_only``: function words left out), and how many texts have
    it; the first occurrence in each text counts."""
    pat = _phrase_pattern(phrase)
    left: Counter = Counter()
    right: Counter = Counter()
    n = 0
    for t in texts:
        m = pat.search(t)
        if not m:
            continue
        n += 1
        for w, bag in ((_LEFT.search(t, 0, m.start()), left), (_RIGHT.match(t[m.end():]), right)):
            if w and not (content_only and w.group(1).lower() in FUNCTION_WORDS):
                bag[w.group(1).lower()] += 1
    return left, right, n
