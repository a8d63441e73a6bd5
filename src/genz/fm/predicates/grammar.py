"""Parsing a rendered predicate back (what is mined is what is judged)."""

from __future__ import annotations

import json
import re
from typing import Any

from ...errors import FMError
from ..date_predicates import parse_date_predicate  # dates read as dates (issue 21)
from .predicate import (And, AtLeast, Below, Between, Equals, FieldIs, FieldMentions, HasField, Includes, Mentions,
                        ModRange, Not, OneOf, Predicate, StartsWith)
from .textfields import QUANTITIES, NumberKey, normalize_unit, quantity_of

_ATTR = r"""(?:'(?P<attr>[^'\\]*)'|attribute (?P<jattr>"(?:[^"\\]|\\.)*"))"""
_SUBJ = rf"(?:the number|{_ATTR})"
_NUM = r"([-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
_JSON_STR = r'("(?:[^"\\]|\\.)*")'

# a number in the text: its subject, and numbers written with their unit
_TLABEL = r"the text's '(?P<label>[^']+)'"
_TSUBJ = (rf"(?:{_TLABEL}|the text's (?P<qty>{'|'.join(sorted(set(QUANTITIES.values()) | {'amount', 'rating'}))})"
          r"|the text's number of (?P<nof>[^\d$'\"]+?))")
_TN = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?"
_TPOST = r"(?:/\d+|%|(?: [^\W\d_][^\d]*?))?"


def _tnum(name: str, post: bool = True) -> str:
    return rf"(?P<{name}pre>\$)?(?P<{name}>{_TN})" + (rf"(?P<{name}post>{_TPOST})" if post else "")


def _tfloat(s: str) -> float:
    return float(s.replace(",", ""))


def _text_key(m: re.Match, last: str) -> NumberKey:
    """The key of a number in the text from a rendered subject and the unit written after the
    last number (``last`` names its group)."""
    pre, post = m[last + "pre"] or "", (m[last + "post"] or "").strip()
    written = (pre + (" " if pre and post else "") + post) if (pre or post) else ""
    grouped = "," in m.group(0)
    if m["nof"] is not None:
        return NumberKey("", normalize_unit(m["nof"]), shown=m["nof"], grouped=grouped)
    if m["qty"] is not None:
        unit = normalize_unit(written)
        if quantity_of(unit) != m["qty"]:
            raise ValueError(f"{written!r} is not a unit of {m['qty']}")
        return NumberKey("", unit, shown=post if not pre else written, grouped=grouped)
    return NumberKey(m["label"], normalize_unit(written), shown=(post if not pre else written), grouped=grouped)


_TEXT_PATTERNS: list[tuple[re.Pattern, Any]] = [
    (re.compile(rf"^{_TLABEL} is one of (?P<v>\[.*\])$"),
     lambda m: FieldIs(m["label"], tuple(str(x) for x in json.loads(m["v"])))),
    (re.compile(rf"^{_TLABEL} is (?P<v>{_JSON_STR})$"), lambda m: FieldIs(m["label"], (json.loads(m["v"]),))),
    (re.compile(rf"^{_TLABEL} mentions (?P<v>{_JSON_STR})$"), lambda m: FieldMentions(m["label"], json.loads(m["v"]))),
    (re.compile(r"^the text lists '(?P<label>[^']+)'$"), lambda m: HasField(m["label"])),
    (re.compile(rf"^{_TSUBJ} is at least {_tnum('x')}$"), lambda m: AtLeast(_text_key(m, "x"), _tfloat(m["x"]))),
    (re.compile(rf"^{_TSUBJ} is below {_tnum('x')}$"), lambda m: Below(_text_key(m, "x"), _tfloat(m["x"]))),
    (re.compile(rf"^{_TSUBJ} is between {_tnum('x', post=False)} and {_tnum('y')}$"),
     lambda m: Between(_text_key(m, "y"), _tfloat(m["x"]), _tfloat(m["y"]))),
    (re.compile(rf"^{_TSUBJ} is {_tnum('x')}$"),
     lambda m: Between(_text_key(m, "x"), _tfloat(m["x"]), _tfloat(m["x"]))),
]
_PATTERNS: list[tuple[re.Pattern, Any]] = [
    (re.compile(rf"^{_SUBJ} is at least (?P<x>{_NUM})$"), lambda m, a: AtLeast(a, float(m["x"]))),
    (re.compile(rf"^{_SUBJ} is below (?P<x>{_NUM})$"), lambda m, a: Below(a, float(m["x"]))),
    (re.compile(rf"^{_SUBJ} is (?P<x>{_NUM})$"), lambda m, a: Between(a, float(m["x"]), float(m["x"]))),
    (re.compile(rf"^{_SUBJ} is between (?P<x>{_NUM}) and (?P<y>{_NUM})$"),
     lambda m, a: Between(a, float(m["x"]), float(m["y"]))),
    (re.compile(rf"^{_SUBJ} modulo (?P<m>\d+) is between (?P<x>\d+) and (?P<y>\d+)$"),
     lambda m, a: ModRange(a, int(m["m"]), int(m["x"]), int(m["y"]))),
    (re.compile(rf"^{_SUBJ} modulo (?P<m>\d+) is (?P<x>\d+)$"),
     lambda m, a: ModRange(a, int(m["m"]), int(m["x"]), int(m["x"]))),
    (re.compile(rf"^{_ATTR} is one of (?P<v>\[.*\])$"),
     lambda m, a: OneOf(a, tuple(str(x) for x in json.loads(m["v"])))),
    (re.compile(rf"^{_ATTR} is (?P<v>{_JSON_STR})$"), lambda m, a: Equals(a, json.loads(m["v"]))),
    (re.compile(rf"^{_ATTR} starts with (?P<v>{_JSON_STR})$"), lambda m, a: StartsWith(a, json.loads(m["v"]))),
    (re.compile(rf"^{_ATTR} include (?P<v>{_JSON_STR})$"), lambda m, a: Includes(a, json.loads(m["v"]))),
    (re.compile(rf"^mentions (?P<v>{_JSON_STR})$"), lambda m, a: Mentions(json.loads(m["v"]))),
]


def _closing_paren(s: str, start: int) -> int:
    """Index of the parenthesis closing the one at ``start`` (skipping JSON strings), or -1."""
    depth, in_str, esc, in_name = 0, False, False, False
    for i in range(start, len(s)):
        c = s[i]
        if in_name:  # a 'name' (names with quotes are rendered as JSON strings)
            if c == "'":
                in_name = False
        elif in_str:
            if esc:
                esc = False
            elif c == "\\":
                esc = True
            elif c == '"':
                in_str = False
        elif c == "'" and not (s[i - 4:i] == "text" and s[i + 1:i + 3] == "s "):  # not "the text's"
            in_name = True
        elif c == '"':
            in_str = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    return -1


def parse_predicate(text: str) -> Predicate:
    """Parse a rendered predicate back; raises :class:`FMError` for anything else."""
    s = text.strip()
    if s.startswith("("):
        end = _closing_paren(s, 0)
        if end > 0 and s[end + 1:].startswith(" and (") and s.endswith(")"):
            right = s[end + 6:]
            if _closing_paren(right, 0) == len(right) - 1:
                return And(parse_predicate(s[1:end]), parse_predicate(right[1:-1]))
    if s.startswith("not (") and s.endswith(")") and _closing_paren(s, 4) == len(s) - 1:
        return Not(parse_predicate(s[5:-1]))
    dated = parse_date_predicate(s)
    if dated is not None:
        return dated  # type: ignore[return-value]
    if s.startswith("the text"):
        for pat, make_text in _TEXT_PATTERNS:
            m = pat.match(s)
            if m:
                try:
                    return make_text(m)
                except (ValueError, json.JSONDecodeError):
                    break
    for pat, make in _PATTERNS:
        m = pat.match(s)
        if m:
            g = m.groupdict()
            try:
                attr = json.loads(g["jattr"]) if g.get("jattr") is not None else g.get("attr")
                return make(m, attr)
            except (ValueError, json.JSONDecodeError):
                break
    raise FMError(
        f"the predicate foundation model cannot read the descriptor {text!r}: it only judges "
        "descriptors in its own grammar (see genz.fm.predicates); use an LLM backend for free text"
    )
