"""Example items in the report, written so that what a feature tests is seen first.

An item is stored for the report as what the foundation model reads (``Item.render()``: its
text, then its attributes as a JSON object with sorted keys). For a tabular item that JSON
would hide the attribute a feature tests behind "more"; :func:`example_text` writes the item
as ``year: 2008 · make: bmw · …`` with the attributes the feature names first (``'year' is
below 2012`` names ``year``; an LLM's free-text descriptor names an attribute by its word),
then the text, then the other attributes, and returns the ``name: value`` pieces to highlight.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["example_text", "tested_attributes", "split_render"]

_QUOTED = re.compile(r"""'([^'\\]*)'|attribute ("(?:[^"\\]|\\.)*")""")


def split_render(text: str) -> tuple[str, dict[str, Any]] | None:
    """``(free text, attributes)`` of an item's rendering, or None when it has no attributes."""
    text = str(text)
    if not text.rstrip().endswith("}"):
        return None
    for m in re.finditer(r"(?:^|(?<= ))\{", text):
        try:
            obj = json.loads(text[m.start():])
        except ValueError:
            continue
        if isinstance(obj, dict):
            return text[:m.start()].rstrip(), obj
    return None


def tested_attributes(feature: str, names: list[str]) -> list[str]:
    """The attributes among ``names`` that ``feature`` tests: quoted (``'year'``,
    ``attribute "a b"``) in an offline-engine descriptor, else named as a word."""
    found: list[str] = []
    for m in _QUOTED.finditer(feature or ""):
        name = m.group(1)
        if name is None:
            try:
                name = json.loads(m.group(2))
            except ValueError:
                continue
        if name in names and name not in found:
            found.append(name)
    if not found:
        low = (feature or "").lower()
        for n in names:
            if len(n) > 2 and re.search(r"(?<!\w)" + re.escape(n.lower().replace("_", " ")) + r"(?!\w)",
                                        low.replace("_", " ")):
                found.append(n)
    return found


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ", ".join(str(x) for x in v)
    return str(v)


def example_text(text: str, feature: str) -> tuple[str, list[str]]:
    """The item written for an example row (see the module docstring) and the pieces to
    highlight; an item without attributes is returned as it is."""
    split = split_render(text)
    if split is None:
        return str(text), []
    free, attrs = split
    first = tested_attributes(feature, list(attrs))
    pieces = [f"{k}: {_value(attrs[k])}" for k in first]
    rest = [f"{k}: {_value(v)}" for k, v in attrs.items() if k not in first]
    parts = pieces + ([free] if free else []) + rest
    return " · ".join(parts), pieces
