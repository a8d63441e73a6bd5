"""Prompt templates for the LLM backends: loading, versioning, rendering, item delimiting.

The templates live in ``genz/fm/prompts/*.txt`` (``judge``, ``mine``, ``propose``,
``describe_image``); a user overrides any of them by putting a file of the same name in a
directory passed as ``prompts_dir`` (CLI: ``--prompts-dir``). A template file is::

    # comment lines, one of them "# version: judge-1"
    === system ===
    ...system message...
    === user ===
    ...user message with $placeholders...

Placeholders use :class:`string.Template` syntax (``$descriptor``), so JSON braces in the text
need no escaping. The template's cache identity (:attr:`PromptTemplate.key`) is its declared
version plus a hash of its text: editing a template can never serve stale cached answers.

Items are untrusted data. :func:`quote_item` turns an item into one JSON string literal on one
line (quotes, newlines and angle brackets escaped), so nothing inside an item can close the
``<items>`` block, start a new numbered line or pose as an instruction outside its quotes.
"""

from __future__ import annotations

import hashlib
import json
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import FMError, GenZInputError
from ..items import Item

__all__ = [
    "MAX_DESCRIPTOR_CHARS",
    "check_descriptor",
    "descriptor_problem",
    "looks_like_instructions",
    "quote_descriptor",
    "check_encodable",
    "TEMPLATE_NAMES",
    "PromptTemplate",
    "PromptSet",
    "quote_item",
    "numbered_items",
]

TEMPLATE_NAMES = ("judge", "mine", "propose", "describe_image", "judge_single")

_SECTION = re.compile(r"^===\s*(system|user)\s*===\s*$", re.MULTILINE)
_VERSION = re.compile(r"^#\s*version:\s*(\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class PromptTemplate:
    """One prompt template: a system and a user message with ``$placeholders``."""

    name: str
    version: str
    system: str
    user: str
    source: str  # where it was read from (for error messages)

    @property
    def key(self) -> str:
        """Cache identity: the declared version and a hash of the template text."""
        digest = hashlib.sha256((self.system + "\x00" + self.user).encode("utf-8")).hexdigest()[:10]
        return f"{self.version}+{digest}"

    def render(self, **values: object) -> tuple[str, str]:
        """(system, user) messages with the placeholders filled in.

        A placeholder the template uses but ``values`` lacks is a clear error; values the
        template does not use are ignored (a user template may leave some out).
        """
        vals = {k: str(v) for k, v in values.items()}
        try:
            return (
                string.Template(self.system).substitute(vals).strip(),
                string.Template(self.user).substitute(vals).strip(),
            )
        except KeyError as exc:
            raise GenZInputError(
                f"{self.source}: unknown placeholder ${exc.args[0]} (known: "
                f"{', '.join('$' + k for k in sorted(vals))})"
            ) from None
        except ValueError as exc:
            raise GenZInputError(f"{self.source}: bad placeholder syntax ({exc}); write $$ for a dollar sign") from None

    @classmethod
    def parse(cls, name: str, text: str, source: str) -> "PromptTemplate":
        m = _VERSION.search(text.split("===", 1)[0])
        version = m.group(1) if m else f"{name}-custom"
        parts = _SECTION.split(text)
        # parts = [preamble, 'system', body, 'user', body] in either order
        sections: dict[str, str] = {}
        for i in range(1, len(parts) - 1, 2):
            sections[parts[i]] = parts[i + 1]
        if "user" not in sections:
            raise GenZInputError(f"{source}: a prompt template needs a '=== user ===' section")
        return cls(
            name=name,
            version=version,
            system=sections.get("system", "").strip(),
            user=sections["user"].strip(),
            source=source,
        )


class PromptSet:
    """The four templates, each from ``prompts_dir`` when that directory has it, else built in."""

    def __init__(self, prompts_dir: str | Path | None = None) -> None:
        self.prompts_dir = Path(prompts_dir) if prompts_dir is not None else None
        if self.prompts_dir is not None and not self.prompts_dir.is_dir():
            raise GenZInputError(f"{self.prompts_dir}: prompts directory does not exist")
        self._templates: dict[str, PromptTemplate] = {}
        for name in TEMPLATE_NAMES:
            self._templates[name] = self._load(name)

    def _load(self, name: str) -> PromptTemplate:
        fname = f"{name}.txt"
        if self.prompts_dir is not None and (self.prompts_dir / fname).is_file():
            path = self.prompts_dir / fname
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise GenZInputError(f"{path}: prompt template is not UTF-8 text") from None
            return PromptTemplate.parse(name, text, str(path))
        text = resources.files("genz.fm").joinpath("prompts", fname).read_text(encoding="utf-8")
        return PromptTemplate.parse(name, text, f"genz/fm/prompts/{fname}")

    def __getitem__(self, name: str) -> PromptTemplate:
        return self._templates[name]

    def keys(self) -> Mapping[str, str]:
        """Cache identity of every template."""
        return {n: t.key for n, t in self._templates.items()}


def check_encodable(items: Sequence[Item]) -> None:
    """GenZInputError naming the first item whose text or attributes cannot be encoded as
    UTF-8 (a lone surrogate, e.g. from a ``\\ud800`` escape in the JSONL), instead of a traceback
    from deep inside the HTTP client or the cache."""
    for it in items:
        try:
            it.render().encode("utf-8")
        except UnicodeEncodeError as exc:
            raise GenZInputError(
                f"item {it.id!r}: its text is not valid Unicode (character {exc.start} of its rendered text is a lone "
                f"surrogate {exc.object[exc.start:exc.end]!a}); fix or remove it in the items file"
            ) from None


def quote_item(item: Item, max_chars: int | None = None) -> str:
    """The item's rendered text as one JSON string literal, safe to embed in a prompt.

    ``<`` and ``>`` are written as JSON escapes so an item cannot contain a literal
    ``</items>``; newlines and quotes are escaped by JSON itself.
    """
    text = item.render()
    if max_chars is not None and len(text) > max_chars:
        text = text[:max_chars] + " …"
    lit = json.dumps(text, ensure_ascii=False)
    return lit.replace("<", "\\u003c").replace(">", "\\u003e")


def numbered_items(items: Sequence[Item], start: int = 1, max_chars: int | None = None) -> str:
    """Items as ``[k] "json string"`` lines, numbered from ``start``."""
    return "\n".join(f"[{start + i}] {quote_item(it, max_chars)}" for i, it in enumerate(items))


# ---------------------------------------------------------------------------------------------
# Descriptors are data too: the safety rules every descriptor passes before it reaches a prompt
# ---------------------------------------------------------------------------------------------
#: longest descriptor accepted (characters)
MAX_DESCRIPTOR_CHARS = 300
#: prompt structure a descriptor must not contain: our block tags, template section markers,
#: code fences and chat-template control tokens
_DELIMITERS = re.compile(
    r"</?\s*(items|item|positive_group|negative_group|system|user|assistant|instructions?)\s*>"
    r"|===|```|<\|[^|]{0,40}\|>|\[/?INST\]|<<\s*/?SYS\s*>>",
    re.IGNORECASE,
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")
#: text addressed to the model rather than describing an item (a heuristic; see
#: docs/llm-backends.md, "Untrusted items and descriptors")
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(instructions?|prompt|rules|above|previous|prior)\b"
    r"|\b(answer|respond|reply|say|output|label|mark)\b[^.\n]{0,30}\b(yes|no|true|false)\b[^.\n]{0,30}"
    r"\b(every|all|each|any|other|remaining)\b"
    r"|\b(every|all|each)\b[^.\n]{0,30}\b(items?|entries)\b[^.\n]{0,30}\b(yes|no)\b"
    r"|\bsystem\s+prompt\b|\bnew\s+instructions?\b|\byou\s+are\s+now\b|\bas\s+an?\s+ai\b"
    r"|\binstructions?\s*:"
    # issue 22: verdicts on the whole set, addressed to whoever judges it
    r"|\b(treat|consider|regard|count|mark|label|classify|flag|rate|score|tag)\b[^.;:\n]{0,40}"
    r"\b(every|all|each|any|other|remaining|the\s+rest)\b"
    r"|\b(every|all|each|other|remaining|the\s+rest)\b[^.;\n]{0,50}\b(as|should|is|are)\s+(a\s+)?"
    r"(match(es|ing)?|positives?|affirmative|true|yes|qualif\w*|satisf\w*)\b"
    r"|\b(correct|right|expected)\s+(answer|label|judg(e)?ment|response|verdict)s?\b"
    r"|\b(note|message|guidance|heads-up|reminder)\s+(to|for)\s+(the\s+)?(reviewer|grader|annotator|labell?er|rater|"
    r"assistant|model|judge|ai)\b"
    r"|\b(reviewer|grader|annotator|labell?er|rater|assistant)(\s+note)?\s*[:,]",
    re.IGNORECASE,
)


def looks_like_instructions(item_or_text: Item | str) -> bool:
    """Whether text reads like instructions to the model ("ignore previous instructions",
    "answer yes for every item", chat-template tokens, our own block tags). Such items are
    judged alone (one item per request), so they can at most change their own answer. A
    heuristic: it catches the usual phrasings, not every possible one."""
    text = item_or_text.render() if isinstance(item_or_text, Item) else str(item_or_text)
    return bool(_INSTRUCTION.search(text) or _DELIMITERS.search(text))


def descriptor_problem(descriptor: object) -> str | None:
    """Why ``descriptor`` may not be used in a prompt, or None when it may: it must be a
    non-empty string on one line, at most :data:`MAX_DESCRIPTOR_CHARS` characters, without
    prompt delimiters (block tags, ``===``, code fences, chat-template tokens) and without text
    addressed to the model. Shared by judging, mining and the mining validator."""
    if not isinstance(descriptor, str) or not descriptor.strip():
        return "it is empty"
    if _CONTROL.search(descriptor):
        return "it is not one line (it has a line break or a control character)"
    if len(descriptor) > MAX_DESCRIPTOR_CHARS:
        return f"it is longer than {MAX_DESCRIPTOR_CHARS} characters ({len(descriptor)})"
    m = _DELIMITERS.search(descriptor)
    if m:
        return f"it contains the prompt delimiter {m.group(0)!r}"
    m = _INSTRUCTION.search(descriptor)
    if m:
        return f"it reads like an instruction to the model ({m.group(0)!r})"
    try:
        descriptor.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid Unicode text (a lone surrogate)"
    return None


def check_descriptor(descriptor: object) -> str:
    """``descriptor`` if :func:`descriptor_problem` finds nothing wrong, else FMError (one line)."""
    why = descriptor_problem(descriptor)
    if why is not None:
        shown = json.dumps(str(descriptor)[:80], ensure_ascii=True)
        raise FMError(f"characteristic {shown} cannot be used in a prompt: {why}")
    return str(descriptor)


def quote_descriptor(descriptor: str) -> str:
    """The descriptor as one JSON string literal (like :func:`quote_item`), for the data part."""
    lit = json.dumps(descriptor, ensure_ascii=False)
    return lit.replace("<", "\\u003c").replace(">", "\\u003e")
