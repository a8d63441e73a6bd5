"""Is a mined answer a judgeable characteristic of a single item? (issue 14)

GenZ sends every mined descriptor ``s_k`` to be judged item by item, ``b_nk = f(x_n, s_k)``
(paper Fig. 1). A statement about the groups the miner was shown ("The items in the positive
group have a higher average area than those in the negative group") cannot be judged for one
item, so it must never reach judging. :func:`check_descriptor` returns ``None`` for an
acceptable descriptor and otherwise a one-line reason, which the miner sends back to the model
when it asks once more.

The rules, in the order they are checked (the first that fails is the reason):

1. **empty**: nothing but whitespace or punctuation.
2. **non-answer**: "none", "n/a", "nothing", "no characteristic", "unknown", ...
   Then **unsafe**: the prompt-safety rules every descriptor obeys
   (:func:`genz.fm.prompts.descriptor_problem`: no prompt delimiters, no text addressed to the
   model, not over its length bound).
3. **too long**: more than ``max_chars`` characters (default 120) or ``max_words`` words
   (default 20) after whitespace is collapsed. A characteristic is a short phrase.
4. **group-level**: it talks about the groups or the set of items instead of one item:
   "the positive group", "negative items", "the positives", "both groups", "these items",
   "items in the positive ...", "most of the houses", "the majority", "all of them", "tend to".
5. **comparative between groups**: "higher average", "lower median", "on average", "the average",
   "compared to/with", "than those", "than the other/negative/positive/rest", "than items",
   "in contrast", "whereas", "unlike the", "relative to the other".
   A comparison with a fixed value is fine: "more than 3 bedrooms" and "area greater than
   2000 square feet" are judgeable for one item.
6. **already used**: equal, ignoring case, punctuation and a leading article, to a descriptor
   in ``used`` (features in the model, discarded or removed ones, earlier candidates).

The rules are lexical on purpose: they are cheap, deterministic and documented, so a user can
see why an answer was rejected (the reason is recorded in the run's history). They are
independent of the prompt-safety checks on descriptors (one line, bounded length, no prompt
delimiters) in :mod:`genz.fm.prompts`; :func:`compose` chains any such checks with these.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from .prompts import descriptor_problem

__all__ = ["check_descriptor", "DescriptorValidator", "Rejection", "normalize", "compose",
           "GROUP_PATTERNS", "COMPARATIVE_PATTERNS", "NON_ANSWERS"]

#: answers that say "nothing found" instead of naming a characteristic (after :func:`normalize`)
NON_ANSWERS = frozenset({
    "none", "n a", "na", "nothing", "no characteristic", "no characteristics", "unknown",
    "no difference", "not applicable", "null", "no clear difference", "none found", "characteristic",
})

_W = r"(?:items?|houses?|homes?|listings?|movies?|films?|examples?|entries|members?|ones|products?)"

#: phrases about the groups or the whole set rather than one item (rule 4)
GROUP_PATTERNS: tuple[str, ...] = (
    r"\b(?:positive|negative|first|second|other|both|either|each|this|that|these|those)\s+groups?\b",
    r"\bgroups?\s+(?:of|a|b|1|2|one|two)\b",
    r"\bthe\s+groups?\b",
    r"\b(?:positive|negative)\s+" + _W,
    r"\bthe\s+(?:positives|negatives)\b",
    r"\b(?:these|those|such|all\s+the|all\s+of\s+the)\s+" + _W,
    r"\b" + _W + r"\s+(?:in|from)\s+(?:the\s+)?(?:positive|negative|first|second|other|both)\b",
    r"\b(?:most|many|all|none)\s+of\s+(?:them|these|those|the\s+" + _W + r")\b",
    r"\bthe\s+majority\b",
    r"\bmajority\s+of\b",
    r"\btend(?:s)?\s+to\b",
)

#: comparisons between the groups (rule 5); comparisons with fixed values are not matched
COMPARATIVE_PATTERNS: tuple[str, ...] = (
    r"\b(?:higher|lower|larger|smaller|greater|bigger|more|less|fewer)\s+(?:on\s+)?(?:average|mean|median)\b",
    r"\bon\s+average\b",
    r"\b(?:the|their)\s+(?:average|mean|median)\b",
    r"\bcompared\s+(?:to|with)\b",
    r"\bin\s+comparison\b",
    r"\bthan\s+(?:those|these|that\s+of|the\s+(?:other|others|rest|negative|positive|ones?|second|first)|"
    r"others|in\s+the|" + _W + r"|the\s+" + _W + r")\b",
    r"\bin\s+contrast\b",
    r"\bwhereas\b",
    r"\bunlike\s+(?:the|those|these|other)\b",
    r"\brelative\s+to\s+(?:the|those|these|other)\b",
)

_GROUP_RE = [re.compile(p, re.IGNORECASE) for p in GROUP_PATTERNS]
_COMP_RE = [re.compile(p, re.IGNORECASE) for p in COMPARATIVE_PATTERNS]
_ARTICLE = re.compile(r"^(?:the|a|an)\s+")


def normalize(text: str) -> str:
    """Lower case, punctuation to spaces, collapsed whitespace, no leading article: the form in
    which two descriptors count as the same (rule 6)."""
    t = re.sub(r"[^a-z0-9]+", " ", str(text).casefold()).strip()
    return _ARTICLE.sub("", t)


@dataclass(frozen=True)
class Rejection:
    """A rejected mining answer: the text, the rule (``empty``, ``non-answer``, ``too long``,
    ``group-level``, ``comparative``, ``already used`` or a composed check's name) and why."""

    text: str
    rule: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"text": self.text, "rule": self.rule, "reason": self.reason}


Check = Callable[[str], "str | None"]


@dataclass(frozen=True)
class DescriptorValidator:
    """The rules of the module docstring with their limits; :meth:`check` gives the first
    failing rule as a :class:`Rejection`, or ``None``."""

    max_chars: int = 120
    max_words: int = 20

    def check(self, text: str, used: Iterable[str] = ()) -> Rejection | None:
        t = " ".join(str(text).split()) if isinstance(text, str) else ""
        norm = normalize(t)
        if not norm:
            return Rejection(t, "empty", "the answer is empty")
        if norm in NON_ANSWERS:
            return Rejection(t, "non-answer", f"{t!r} names no characteristic")
        unsafe = descriptor_problem(t)  # descriptors are data: no prompt delimiters, nothing addressed to the model
        if unsafe is not None:
            return Rejection(t, "unsafe", f"it cannot be used in a prompt: {unsafe}")
        if len(t) > self.max_chars:
            return Rejection(t, "too long", f"the answer has {len(t)} characters; at most {self.max_chars} are allowed "
                                             "(give a short phrase)")
        n_words = len(t.split())
        if n_words > self.max_words:
            return Rejection(t, "too long", f"the answer has {n_words} words; at most {self.max_words} are allowed "
                                             "(give a short phrase)")
        for rx in _GROUP_RE:
            m = rx.search(t)
            if m:
                return Rejection(t, "group-level", f"it describes the groups ({m.group(0)!r}), not a single item")
        for rx in _COMP_RE:
            m = rx.search(t)
            if m:
                return Rejection(t, "comparative", f"it compares the groups ({m.group(0)!r}); describe what a "
                                                    "single item has, e.g. with a fixed threshold")
        used_norm = {normalize(u) for u in used if u}
        if norm in used_norm:
            return Rejection(t, "already used", "this characteristic is already used (it is excluded)")
        return None


_DEFAULT = DescriptorValidator()


def check_descriptor(text: str, used: Collection[str] = (), validator: DescriptorValidator | None = None) -> str | None:
    """``None`` when ``text`` is a judgeable characteristic of a single item that is not in
    ``used``; otherwise the reason (one line) it is not. See the module docstring."""
    r = (validator or _DEFAULT).check(text, used)
    return None if r is None else r.reason


def compose(*checks: Check) -> Check:
    """One check from several ``text -> reason | None`` functions: the first reason wins.
    E.g. ``compose(prompt_safety_check, lambda t: check_descriptor(t, used))``."""

    def check(text: str) -> str | None:
        for c in checks:
            why = c(text)
            if why:
                return why
        return None

    return check
