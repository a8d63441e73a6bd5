"""Answers: the JSON schemas genz asks for, and the parsing and validation of what comes back.

Nothing here guesses: an answer that cannot be trusted as a whole raises :class:`ParseFailure`
(``garbage=True`` when it is not an answer at all), which the judging rounds
(:mod:`genz.fm.judging`) retry or split, and batch ingestion (:mod:`genz.fm.requests`) reports.

* judging: :func:`judge_schema`, :func:`parse_judge_completion` (``{"answers": {"1": "yes", …}}``
  or ``[{"id": 1, "answer": "yes"}, …]``), P(yes) from token log-probabilities
  (:func:`answer_probs` for a batch, :func:`first_token_prob` for one item);
* mining and proposal: :data:`MINE_SCHEMA`, :data:`PROPOSE_SCHEMA`, :data:`DESCRIBE_SCHEMA`,
  :func:`mined_answers`, :func:`mine_feedback`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .transport import shorten
from .validate import Rejection

__all__ = ["ParseFailure", "judge_schema", "MINE_SCHEMA", "PROPOSE_SCHEMA", "DESCRIBE_SCHEMA", "answer_json",
           "extract_json", "yes_no", "parse_judge_completion", "answer_probs", "first_token_prob", "classify",
           "mined_answers", "mine_feedback", "norm_descr"]


class ParseFailure(Exception):
    """An answer that does not validate (triggers retry / split). ``garbage``: not an answer at
    all (no JSON, not a chat completion), as opposed to a wrong or partial one."""

    def __init__(self, message: str, garbage: bool = False) -> None:
        super().__init__(message)
        self.garbage = garbage


def judge_schema(n: int) -> dict[str, Any]:
    """JSON schema of a batch judgment: ``{"answers": {"1": "yes", "2": "no", ...}}`` with exactly
    the keys 1..n, each "yes" or "no" (servers with constrained decoding then cannot produce a
    wrong item count)."""
    keys = [str(k) for k in range(1, n + 1)]
    return {
        "type": "object",
        "properties": {
            "answers": {
                "type": "object",
                "properties": {k: {"type": "string", "enum": ["yes", "no"]} for k in keys},
                "required": keys,
                "additionalProperties": False,
            }
        },
        "required": ["answers"],
        "additionalProperties": False,
    }


#: mining answer: a list of characteristics (``n_candidates`` of them are asked for)
MINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"characteristics": {"type": "array", "items": {"type": "string"}}},
    "required": ["characteristics"],
    "additionalProperties": False,
}
PROPOSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"questions": {"type": "array", "items": {"type": "string"}}},
    "required": ["questions"],
    "additionalProperties": False,
}
DESCRIBE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"description": {"type": "string"}},
    "required": ["description"],
    "additionalProperties": False,
}


def answer_json(comp: Any) -> Any:
    """The JSON object of a completion; :class:`ParseFailure` for a refusal or an empty answer."""
    if comp.refusal:
        raise ParseFailure(f"the model refused: {comp.refusal[:200]!r}")
    if not comp.content:
        raise ParseFailure(f"empty answer (finish reason {comp.finish_reason})", garbage=True)
    return extract_json(comp.content)


def extract_json(text: str) -> Any:
    """The JSON value in a model's answer (tolerating code fences and chatter around one object)."""
    t = text.strip()
    if t.startswith("```"):
        t = re.sub(r"^```[a-zA-Z]*\s*", "", t)
        t = re.sub(r"\s*```\s*$", "", t)
    try:
        return json.loads(t)
    except json.JSONDecodeError:
        pass
    start, end = t.find("{"), t.rfind("}")
    if start < 0 or end <= start:
        raise ParseFailure(f"no JSON object in the answer {shorten(text, 80)!r}", garbage=True)
    try:
        return json.loads(t[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ParseFailure(f"malformed JSON in the answer ({exc.msg}): {shorten(text, 80)!r}", garbage=True) from None


YES_NO = {"yes": True, "no": False, "Yes": True, "No": False, "YES": True, "NO": False}


def yes_no(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        fast = YES_NO.get(value)  # the usual answer, as the schema asks for it
        if fast is not None:
            return fast
        v = value.strip().strip(".!").strip().lower()
        if v == "yes":
            return True
        if v == "no":
            return False
    return None


def norm_descr(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.casefold()).strip()


def parse_judge_completion(comp: Any, n: int) -> tuple[dict[int, bool], np.ndarray | None]:
    """``({k: answer}, P(yes) or None)`` of a judging answer for ``n`` items (``comp``:
    content, finish_reason, refusal, logprobs). An answer that cannot be trusted as a whole
    (refused, cut off, not JSON, an unknown or repeated id) raises :class:`ParseFailure`; a
    valid answer that leaves out some items is returned as is. Also used on batch output
    lines (:mod:`genz.fm.requests`)."""
    if comp.refusal:
        raise ParseFailure(f"the model refused: {comp.refusal[:200]!r}")
    if comp.finish_reason == "length":
        raise ParseFailure("the answer was cut off (max tokens)")
    if comp.finish_reason == "content_filter":
        raise ParseFailure("the answer was blocked by the server's content filter")
    if not comp.content:
        raise ParseFailure(f"empty answer ({comp.finish_reason})", garbage=True)
    obj = extract_json(comp.content)
    answers = obj.get("answers") if isinstance(obj, dict) else obj if isinstance(obj, list) else None
    if isinstance(answers, dict):  # {"1": "yes", ...}
        pairs: Any = answers.items()
    elif isinstance(answers, list):  # [{"id": 1, "answer": "yes"}, ...]
        pairs = []
        for a in answers:
            if not isinstance(a, dict) or "id" not in a:
                raise ParseFailure(f"an answer without an id: {a!r}"[:120])
            pairs.append((a["id"], a.get("answer")))
    else:
        raise ParseFailure(f"no 'answers' list in {shorten(comp.content, 80)!r}", garbage=True)
    values: dict[int, bool] = {}
    for key, answer in pairs:
        try:
            k = int(key)
        except (TypeError, ValueError):
            raise ParseFailure(f"a non-numeric id {key!r}") from None
        if k in values:
            raise ParseFailure(f"item {k} answered twice")
        if not 1 <= k <= n:
            raise ParseFailure(f"answer for item {k}, but the batch has items 1..{n}")
        v = YES_NO.get(answer) if type(answer) is str else None
        if v is None:
            v = yes_no(answer)
        if v is not None:
            values[k] = v
    probs = answer_probs(comp.content, comp.logprobs, n) if len(values) == n else None
    return values, probs


_DICT_ANSWER = re.compile(r'"(\d+)"\s*:\s*"')
_LIST_ANSWER = re.compile(r'"id"\s*:\s*"?(\d+)"?\s*,\s*"answer"\s*:\s*"', re.IGNORECASE)


def answer_probs(content: str, logprobs: Any, n: int) -> np.ndarray | None:
    """P(yes) for each of the ``n`` answers, from the top log-probabilities of the token that
    starts each answer's yes/no value. None when the server sent no usable log-probabilities.

    P(yes) = Σ p(yes-like tokens) / (Σ p(yes-like) + Σ p(no-like)) over the top alternatives,
    where a token is yes-like when, stripped of quotes and spaces, it is a prefix of "yes".
    """
    toks = getattr(logprobs, "content", None) if logprobs is not None else None
    if not toks:
        return None
    starts: list[int] = []
    pos = 0
    for t in toks:
        starts.append(pos)
        pos += len(t.token or "")
    if "".join(t.token or "" for t in toks) != content:
        return None  # byte-level pieces that do not spell the text: cannot align
    out = np.full(n, np.nan)
    matches = list(_DICT_ANSWER.finditer(content)) or list(_LIST_ANSWER.finditer(content))
    for m in matches:
        k = int(m.group(1))
        if not 1 <= k <= n:
            continue
        vpos = m.end()
        ti = max(i for i, s0 in enumerate(starts) if s0 <= vpos)
        tok = toks[ti]
        if classify(tok.token) is None:
            if ti + 1 < len(toks) and classify(toks[ti + 1].token) is not None:
                tok = toks[ti + 1]
            else:
                continue
        alts = list(getattr(tok, "top_logprobs", None) or [])
        if not any(a.token == tok.token for a in alts):
            alts.append(tok)
        py = sum(math.exp(a.logprob) for a in alts if classify(a.token) == "yes")
        pn = sum(math.exp(a.logprob) for a in alts if classify(a.token) == "no")
        if py + pn > 0:
            out[k - 1] = py / (py + pn)
    return None if np.isnan(out).all() else out


def first_token_prob(logprobs: Any) -> float | None:
    """P(yes) from the first answer token's top log-probabilities (single-item mode):
    Σ p(yes-like) / (Σ p(yes-like) + Σ p(no-like)); None without usable log-probabilities."""
    toks = getattr(logprobs, "content", None) if logprobs is not None else None
    if not toks:
        return None
    tok = toks[0]
    alts = list(getattr(tok, "top_logprobs", None) or [])
    if not any(a.token == tok.token for a in alts):
        alts.append(tok)
    py = sum(math.exp(a.logprob) for a in alts if classify(a.token) == "yes")
    pn = sum(math.exp(a.logprob) for a in alts if classify(a.token) == "no")
    return py / (py + pn) if py + pn > 0 else None


def mined_answers(obj: Any) -> list[Any]:
    """The characteristics in a mining answer: ``{"characteristics": [...]}``, a bare list, or
    one ``{"characteristic": "..."}`` (templates of genz < issue 14); list entries may also be
    ``{"characteristic": "..."}`` objects."""
    if isinstance(obj, dict):
        if "characteristics" in obj:
            v = obj["characteristics"]
        elif "characteristic" in obj:
            v = [obj["characteristic"]]
        else:
            raise ParseFailure(f"no 'characteristics' list in {json.dumps(obj)[:80]!r}")
    else:
        v = obj
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not v:
        raise ParseFailure("the answer has no characteristics")
    return [e.get("characteristic") if isinstance(e, dict) and "characteristic" in e else e for e in v]


def mine_feedback(rejected: Sequence[Rejection], why: str, accepted: Sequence[str], want: int) -> str:
    """What the miner is told when it is asked once more (model answers quoted as JSON data)."""
    lines = ["", ""]
    if why:
        lines.append(f"Your previous answer could not be used: {why[:200]}.")
    if rejected:
        lines.append("These characteristics from your previous answer were rejected:")
        lines += [f"- {json.dumps(r.text[:200], ensure_ascii=False)}: {r.reason}" for r in rejected]
    if accepted:
        lines.append("These were accepted; do not repeat them:")
        lines += [f"- {json.dumps(a, ensure_ascii=False)}" for a in accepted]
    lines.append(f"Give {want} other characteristic{'s' if want > 1 else ''}, each a short characteristic of a "
                 "single item that can be judged from that item alone, as JSON "
                 '{"characteristics": [...]}.')
    return "\n".join(lines)


def classify(token: str | None) -> str | None:
    if not token:
        return None
    t = token.strip().strip('"').strip().lower()
    if not t:
        return None
    if "yes".startswith(t):
        return "yes"
    if "no".startswith(t):
        return "no"
    return None
