"""A foundation model behind any OpenAI-compatible chat-completions server.

Works with OpenAI itself and with vLLM, Ollama, llama.cpp's server, LM Studio: anything that
speaks ``POST /v1/chat/completions``. Built on the official ``openai`` SDK.

* **Judging** (paper Fig. 1): items go in numbered batches of ``batch_size``; each batch is one
  request answered as JSON ``{"answers": [{"id": k, "answer": "yes"|"no"}, ...]}``. Batches run
  concurrently (``concurrency`` threads). Every answer is validated: exactly the batch's ids,
  one yes/no each. A malformed, partial, refused or cut-off answer is retried
  (``parse_retries``), then the batch is split in halves, down to one item per call; an item
  that still gets no valid answer raises :class:`~genz.errors.FMError`. Nothing is guessed.
* **Soft judgments**: where the server returns token log-probabilities, P(yes) for each item is
  read from the top log-probabilities of its yes/no token (``Judgments.prob``).
* **Mining** (Fig. 2) and **zero-shot proposal** use the ``mining_model`` (default: ``model``).
* **Structured output**: ``response_format`` with a JSON schema where the server supports it;
  a server that rejects a parameter (``response_format``, ``logprobs``, ``temperature``,
  ``max_tokens``) with HTTP 400 is asked again without it, once per model.
* **Faults**: HTTP 429 (honouring ``Retry-After``), 408/409/5xx, timeouts and connection errors
  are retried with exponential backoff and jitter, up to ``max_retries`` times; then FMError.
* **Cost**: token usage per call type and dollars from :mod:`genz.fm.pricing` go to ``stats``.
* **Secrets**: the API key is read from ``api_key`` or the environment variable named by
  ``api_key_env``; it is never part of ``name``, ``repr``, pickles or error messages.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import math
import mimetypes
import os
import random
import re
import sys
import threading
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
import time
from collections.abc import Callable, Collection, Iterator, Sequence
import queue
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from ..errors import FMError, GenZInputError, MiningError
from ..items import Item
from .base import FMStats, Judgments
from .pricing import cost_usd, price_for
from .prompts import (PromptSet, check_descriptor, check_encodable, descriptor_problem, looks_like_instructions,
                      numbered_items, quote_descriptor, quote_item)
from .validate import DescriptorValidator, Rejection

__all__ = ["OpenAIFM", "DEFAULT_MODEL", "JUDGE_MODES", "redact_secret", "sanitize_url", "url_secrets"]

log = logging.getLogger("genz.fm")

DEFAULT_MODEL = "gpt-4o-mini"
_REASONING = re.compile(r"^(o\d|gpt-5)(?!.*-chat)", re.IGNORECASE)
_VISION = re.compile(
    r"gpt-4o|gpt-4\.1|gpt-5|gpt-4-turbo|^o[34]|vision|llava|bakllava|-vl\b|-vl-|pixtral|gemma-?3|"
    r"moondream|minicpm-v|qwen2(\.5)?-vl|llama-?3\.2.*vision|idefics|smolvlm",
    re.IGNORECASE,
)
#: what each (server, model, structured mode) was found to accept, shared by backend objects
_CAPS_SEEN: dict[tuple[str | None, str, str], dict[str, Any]] = {}
_KEYLIKE = re.compile(r"(sk-[A-Za-z0-9_\-]{6,}|Bearer\s+[A-Za-z0-9_\-\.=:]{6,})")

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


#: judging modes: numbered batches answered as JSON, or one item per request answered with a
#: single yes/no token read with its log-probabilities (``--judge-mode``)
JUDGE_MODES = ("batch", "single")

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


def sanitize_url(url: str | None) -> str | None:
    """``url`` without user info, query or fragment (they can carry tokens)."""
    if url is None:
        return None
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def redact_secret(text: str, secret: str | None, *more: str | None) -> str:
    """``text`` with ``secret`` (and ``more`` secrets), anything that looks like an API key or
    bearer token, and credentials in URLs or basic-auth headers masked."""
    from ..runs import scrub_credentials

    for s in (secret, *more):
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    return scrub_credentials(_KEYLIKE.sub("***", text))


def url_secrets(url: str | None) -> tuple[str, ...]:
    """The secret parts of a URL: its password, ``user:password`` and their base64 (what an
    HTTP client sends as basic auth), and its query string."""
    if not url:
        return ()
    parts = urlsplit(str(url))
    out: list[str] = []
    if parts.password:
        pair = f"{parts.username or ''}:{parts.password}"
        out += [parts.password, pair, base64.b64encode(pair.encode()).decode()]
    if parts.query:
        out.append(parts.query)
    return tuple(o for o in out if len(o) >= 4)


def chat_body(
    model: str,
    caps: dict[str, Any],
    system: str,
    user: str | list[dict[str, Any]],
    schema_name: str,
    schema: dict[str, Any],
    max_tokens: int,
    *,
    temperature: float,
    top_logprobs: int,
    want_logprobs: bool,
) -> dict[str, Any]:
    """The JSON body of one chat-completions request, given what the server accepts (``caps``).
    The synchronous backend sends exactly this; :mod:`genz.fm.requests` writes it into batch
    lines (OpenAI Batch API, ``vllm run-batch``)."""
    kw: dict[str, Any] = {"model": model}
    msgs = []
    if system:
        msgs.append({"role": "system", "content": system})
    msgs.append({"role": "user", "content": user})
    kw["messages"] = msgs
    rf = caps["response_format"] if schema is not None else None  # None: free text (single-token judging)
    if rf == "json_schema":
        kw["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "schema": schema, "strict": True},
        }
    elif rf == "json_object_schema":  # llama-cpp-python: JSON mode constrained by a schema
        kw["response_format"] = {"type": "json_object", "schema": schema}
    elif rf == "json_object":
        kw["response_format"] = {"type": "json_object"}
    if caps["temperature"]:
        kw["temperature"] = temperature
    budget = max_tokens + (4000 if caps["reasoning"] else 0)
    kw[caps["token_param"]] = budget
    if want_logprobs and caps["logprobs"]:
        kw["logprobs"] = True
        kw["top_logprobs"] = top_logprobs
    return kw


class _ParseFailure(Exception):
    """An answer that does not validate (internal: triggers retry / split). ``garbage``: not
    an answer at all (no JSON, not a chat completion), as opposed to a wrong or partial one."""

    def __init__(self, message: str, garbage: bool = False) -> None:
        super().__init__(message)
        self.garbage = garbage


class _Cancelled(Exception):
    """The pass was cancelled (Ctrl-C, SIGTERM, or another batch's error): no new request."""


#: consecutive unusable answers (not JSON, not a chat completion) after which a pass stops
GARBAGE_LIMIT = 6


def shorten(text: Any, n: int = 120) -> str:
    """``text`` on one line, at most ``n`` characters (for messages quoting a server's reply)."""
    t = " ".join(str(text).split())
    return t if len(t) <= n else t[: n - 1] + "…"


_Segment = tuple[list[int], np.ndarray, "np.ndarray | None"]


class _Completion:
    __slots__ = ("content", "finish_reason", "refusal", "logprobs")

    def __init__(self, content: str | None, finish_reason: str | None, refusal: str | None, logprobs: Any) -> None:
        self.content = content
        self.finish_reason = finish_reason
        self.refusal = refusal
        self.logprobs = logprobs


def _answer_json(comp: Any) -> Any:
    """The JSON object of a completion; :class:`_ParseFailure` for a refusal or an empty answer."""
    if comp.refusal:
        raise _ParseFailure(f"the model refused: {comp.refusal[:200]!r}")
    if not comp.content:
        raise _ParseFailure(f"empty answer (finish reason {comp.finish_reason})", garbage=True)
    return _extract_json(comp.content)


def _extract_json(text: str) -> Any:
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
        raise _ParseFailure(f"no JSON object in the answer {shorten(text, 80)!r}", garbage=True)
    try:
        return json.loads(t[start : end + 1])
    except json.JSONDecodeError as exc:
        raise _ParseFailure(f"malformed JSON in the answer ({exc.msg}): {shorten(text, 80)!r}", garbage=True) from None


_YES_NO = {"yes": True, "no": False, "Yes": True, "No": False, "YES": True, "NO": False}


def _yes_no(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        fast = _YES_NO.get(value)  # the usual answer, as the schema asks for it
        if fast is not None:
            return fast
        v = value.strip().strip(".!").strip().lower()
        if v == "yes":
            return True
        if v == "no":
            return False
    return None


def _norm_descr(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.casefold()).strip()


class OpenAIFM:
    """The foundation-model protocol (:class:`genz.fm.base.FoundationModel`) over an
    OpenAI-compatible server. See the module docstring for the behaviour; arguments:

    model / mining_model: chat models for judging and for mining + proposal (env
        ``GENZ_FM_MODEL``, ``GENZ_MINING_MODEL``; default ``gpt-4o-mini``).
    base_url: server URL, e.g. ``http://127.0.0.1:8080/v1`` (env ``OPENAI_BASE_URL``;
        default OpenAI's).
    api_key / api_key_env: the key, or the environment variable holding it (default
        ``OPENAI_API_KEY``). Local servers need none.
    batch_size: items per judging request. concurrency: requests in flight.
    structured: ``"auto"`` (JSON schema, falling back when the server rejects it),
        ``"json_schema"``, ``"json_object"`` or ``"none"`` (instructions only).
    logprobs: request token log-probabilities for soft judgments.
    vision: send item images to the model (None: guess from the model name).
    judge_mode: ``"batch"`` (numbered items, JSON answer) or ``"single"`` (one item per request,
        a one-token yes/no with log-probabilities; the instructions and descriptor form a
        common prompt prefix that llama.cpp's and vLLM's prefix caches reuse).
    validator: the rules a mined characteristic must pass (:mod:`genz.fm.validate`).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        mining_model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        prompts_dir: str | Path | None = None,
        batch_size: int = 10,
        concurrency: int = 4,
        timeout: float = 120.0,
        max_retries: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        parse_retries: int = 1,
        structured: str = "auto",
        logprobs: bool = True,
        top_logprobs: int = 5,
        temperature: float = 0.0,
        vision: bool | None = None,
        max_exemplars: int = 10,
        price_in: float | None = None,
        price_out: float | None = None,
        mining_price_in: float | None = None,
        mining_price_out: float | None = None,
        item_max_chars: int | None = 4000,
        progress: bool | None = None,
        interrupt_grace: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        judge_mode: str = "batch",
        validator: DescriptorValidator | None = None,
    ) -> None:
        self.model = model or os.environ.get("GENZ_FM_MODEL") or DEFAULT_MODEL
        self.mining_model = mining_model or os.environ.get("GENZ_MINING_MODEL") or self.model
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self._base_url = base_url.rstrip("/") if base_url else None
        self.base_url = sanitize_url(self._base_url)  # for messages; never holds credentials
        self.api_key_env = api_key_env
        self._api_key = api_key if api_key else None
        if batch_size < 1:
            raise GenZInputError(f"batch_size must be >= 1, got {batch_size}")
        if concurrency < 1:
            raise GenZInputError(f"concurrency must be >= 1, got {concurrency}")
        if structured not in ("auto", "json_schema", "json_object", "none"):
            raise GenZInputError(f"structured must be auto, json_schema, json_object or none, not {structured!r}")
        if judge_mode not in JUDGE_MODES:
            raise GenZInputError(f"judge_mode must be one of {', '.join(JUDGE_MODES)}, not {judge_mode!r}")
        self.judge_mode = judge_mode
        self.validator = validator or DescriptorValidator()
        self.batch_size = int(batch_size)
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.parse_retries = int(parse_retries)
        self.structured = structured
        self.logprobs = bool(logprobs)
        self.top_logprobs = int(top_logprobs)
        self.temperature = float(temperature)
        self.vision = vision
        self.max_exemplars = int(max_exemplars)
        self.item_max_chars = item_max_chars
        self.progress = progress
        self.prices = price_for(self.model, price_in, price_out)
        self.mining_prices = price_for(
            self.mining_model,
            mining_price_in if mining_price_in is not None else (price_in if self.mining_model == self.model else None),
            mining_price_out if mining_price_out is not None else (price_out if self.mining_model == self.model else None),
        )
        self.prompts = PromptSet(prompts_dir)
        self.prompts_dir = str(prompts_dir) if prompts_dir is not None else None
        self.stats = FMStats()
        self.name = f"openai:{self.model}" + (f"+{self.mining_model}" if self.mining_model != self.model else "")
        self._sleep = sleep
        self.interrupt_grace = float(interrupt_grace)
        self._tls = threading.local()  # the cancel event of the pass a worker thread serves
        self._garbage_lock = threading.Lock()
        self._garbage_streak = 0
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._caps_lock = threading.Lock()
        self._caps: dict[str, dict[str, Any]] = {}
        self._warned_images = False
        self.last_confidence: float | None = None

    # ------------------------------------------------------------------ identity & secrets
    def __repr__(self) -> str:
        mm = f", mining_model={self.mining_model!r}" if self.mining_model != self.model else ""
        url = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"OpenAIFM(model={self.model!r}{mm}{url}, batch_size={self.batch_size})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_api_key"] = None  # never pickle the key; it is read from the environment again
        state["_client"] = None
        state["_client_lock"] = None
        state["_caps_lock"] = None
        state["_sleep"] = None
        state["_tls"] = None
        state["_garbage_lock"] = None
        state["stats"] = self.stats.snapshot()  # FMStats holds a lock
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        snap = state.pop("stats", None) or {}
        self.__dict__.update(state)
        self.stats = FMStats()
        for k, v in snap.items():
            if k != "total_calls" and hasattr(self.stats, k):
                setattr(self.stats, k, v)
        self._client_lock = threading.Lock()
        self._caps_lock = threading.Lock()
        self._sleep = time.sleep
        self._tls = threading.local()
        self._garbage_lock = threading.Lock()
        self._garbage_streak = 0

    def cache_identity(self, kind: str) -> tuple[str, str, str]:
        """(backend, model, prompt-template key) for cache rows of call type ``kind``."""
        template = {"judge": "judge", "mine": "mine", "propose": "propose", "describe": "describe_image"}[kind]
        if kind == "judge" and self.judge_mode == "single":
            template = "judge_single"  # another prompt, other answers: never shares cache rows
        key = self.prompts[template].key
        if self.temperature:
            key += f";t={self.temperature:g}"
        if kind == "judge" and self._vision_for(self.model):
            key += ";vision"
        model = self.model if kind in ("judge", "describe") else self.mining_model
        return ("openai", model, key)

    def _redact(self, text: str) -> str:
        return redact_secret(text, self._resolve_key(required=False), *url_secrets(self._base_url))

    def _resolve_key(self, required: bool = True) -> str | None:
        if self._api_key:
            return self._api_key
        key = os.environ.get(self.api_key_env) if self.api_key_env else None
        if key:
            return key
        if self._base_url is not None:
            return None
        if required:
            raise FMError(
                f"no API key for OpenAI: set the environment variable {self.api_key_env} "
                "(or choose another with --api-key-env), or give --base-url for a local server"
            )
        return None

    @property
    def client(self) -> Any:
        """The ``openai.OpenAI`` client, created on first use (so ``estimate`` needs no key)."""
        with self._client_lock:
            if self._client is None:
                import openai

                key = self._resolve_key(required=True) or "no-key"  # local servers ignore it
                self._client = openai.OpenAI(
                    api_key=key,
                    base_url=self._base_url,
                    timeout=self.timeout,
                    max_retries=0,  # retries are ours: counted, jittered, Retry-After honoured
                )
            return self._client

    # ------------------------------------------------------------------ capabilities
    def _caps_for(self, model: str) -> dict[str, Any]:
        with self._caps_lock:
            if model not in self._caps and (self.base_url, model, self.structured) in _CAPS_SEEN:
                # another backend object already learnt what this server accepts
                self._caps[model] = dict(_CAPS_SEEN[(self.base_url, model, self.structured)])
            if model not in self._caps:
                reasoning = bool(_REASONING.match(model))
                self._caps[model] = {
                    "response_format": "json_schema" if self.structured in ("auto", "json_schema") else (
                        "json_object" if self.structured == "json_object" else None),
                    "logprobs": self.logprobs and not reasoning,
                    "temperature": not reasoning,
                    "token_param": "max_completion_tokens" if reasoning else "max_tokens",
                    "reasoning": reasoning,
                }
            return self._caps[model]

    def _downgrade(self, model: str, message: str) -> bool:
        """After an HTTP 400, drop the optional parameter the server complained about."""
        changed = self._downgrade_caps(model, message)
        if changed:
            with self._caps_lock:
                _CAPS_SEEN[(self.base_url, model, self.structured)] = dict(self._caps[model])
        return changed

    def _downgrade_caps(self, model: str, message: str) -> bool:
        m = message.lower()
        with self._caps_lock:
            caps = self._caps[model]
            if caps["logprobs"] and "logprob" in m:
                caps["logprobs"] = False
                return True
            if caps["response_format"] and ("response_format" in m or "json_schema" in m or "schema" in m
                                            or "grammar" in m or "response format" in m):
                order = ["json_schema", "json_object_schema", "json_object", None]
                if self.structured == "auto":
                    caps["response_format"] = order[order.index(caps["response_format"]) + 1]
                else:
                    return False
                return True
            if caps["temperature"] and "temperature" in m:
                caps["temperature"] = False
                return True
            if "max_tokens" in m and caps["token_param"] == "max_tokens":
                caps["token_param"] = "max_completion_tokens"
                return True
            if "max_completion_tokens" in m and caps["token_param"] == "max_completion_tokens":
                caps["token_param"] = "max_tokens"
                return True
        return False

    def _vision_for(self, model: str) -> bool:
        if self.vision is not None:
            return bool(self.vision)
        return bool(_VISION.search(model))

    # ------------------------------------------------------------------ transport
    def _retry_delay(self, attempt: int, exc: Exception | None) -> float:
        retry_after = None
        resp = getattr(exc, "response", None)
        if resp is not None:
            headers = resp.headers
            ms = headers.get("retry-after-ms")
            ra = headers.get("retry-after")
            try:
                if ms is not None:
                    retry_after = float(ms) / 1000.0
                elif ra is not None:
                    try:
                        retry_after = float(ra)
                    except ValueError:
                        retry_after = max(0.0, parsedate_to_datetime(ra).timestamp() - time.time())
            except (TypeError, ValueError):
                retry_after = None
        if retry_after is not None and math.isfinite(retry_after) and retry_after >= 0:
            # the server said when; add a little jitter so concurrent workers do not stampede
            return min(retry_after, max(self.backoff_max, 120.0)) + random.uniform(0, 0.1 * max(retry_after, 0.1))
        return min(self.backoff_max, self.backoff_base * (2**attempt)) * random.uniform(0.5, 1.0)

    def _request(
        self,
        kind: str,
        model: str,
        system: str,
        user: str | list[dict[str, Any]],
        schema_name: str,
        schema: dict[str, Any] | None,
        max_tokens: int,
        want_logprobs: bool = False,
    ) -> _Completion:
        import openai

        caps = self._caps_for(model)
        prices = self.prices if model == self.model else self.mining_prices
        attempt = 0
        while True:
            kw = chat_body(model, caps, system, user, schema_name, schema, max_tokens,
                           temperature=self.temperature, top_logprobs=self.top_logprobs,
                           want_logprobs=want_logprobs)
            self._check_cancel()
            self.stats.add_call(kind)
            if attempt:
                self.stats.add_retry()
            try:
                resp = self.client.chat.completions.create(**kw)
            except openai.BadRequestError as exc:
                msg = self._redact(str(getattr(exc, "message", exc)))
                if self._downgrade(model, msg):
                    log.info("server rejected a parameter (%s); asking again without it", msg[:200])
                    attempt += 1
                    continue
                raise FMError(f"{kind}: the server at {self._where()} rejected the request: {msg}") from None
            except openai.AuthenticationError as exc:
                raise FMError(
                    f"{kind}: authentication failed at {self._where()} (HTTP {exc.status_code}); "
                    f"check the key in ${self.api_key_env}"
                ) from None
            except openai.PermissionDeniedError as exc:
                raise FMError(f"{kind}: permission denied at {self._where()}: {self._redact(str(exc.message))}") from None
            except openai.NotFoundError as exc:
                raise FMError(
                    f"{kind}: model {model!r} or endpoint not found at {self._where()}: {self._redact(str(exc.message))}"
                ) from None
            except (openai.RateLimitError, openai.InternalServerError, openai.ConflictError,
                    openai.APIConnectionError, openai.APIStatusError) as exc:
                status = getattr(exc, "status_code", None)
                if status in (422, 500) and self._downgrade(model, self._redact(str(exc))):
                    # e.g. llama-cpp-python answers an unknown response_format with a 500
                    log.info("server rejected a parameter (HTTP %s); asking again without it", status)
                    attempt += 1
                    continue
                transient = (
                    isinstance(exc, (openai.RateLimitError, openai.InternalServerError,
                                     openai.ConflictError, openai.APIConnectionError))
                    or status in (408, 425, 429)
                    or (status is not None and status >= 500)
                )
                what = ("timed out" if isinstance(exc, openai.APITimeoutError)
                        else f"HTTP {status}" if status else "connection error")
                if not transient:
                    raise FMError(f"{kind}: {what} from {self._where()}: {self._redact(str(exc))}") from None
                if attempt >= self.max_retries:
                    detail = f" (timeout {self.timeout:g}s)" if isinstance(exc, openai.APITimeoutError) else ""
                    raise FMError(
                        f"{kind}: {what} from {self._where()}{detail}; gave up after {attempt + 1} attempts"
                    ) from None
                delay = self._retry_delay(attempt, exc)
                log.info("%s: %s; retrying in %.2fs", kind, what, delay)
                self._pause(delay)
                attempt += 1
                continue
            if isinstance(resp, (str, bytes)):  # HTTP 200 with a body that is not JSON (an HTML page)
                body = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else resp
                return _Completion(None, f"not a chat completion: {shorten(body, 80)!r}", None, None)
            usage = getattr(resp, "usage", None)
            if usage is not None:
                pt = int(getattr(usage, "prompt_tokens", 0) or 0)
                ct = int(getattr(usage, "completion_tokens", 0) or 0)
                self.stats.add_tokens(pt, ct, cost_usd(pt, ct, prices), kind=kind)
            try:
                ch = resp.choices[0]
                msg = ch.message
                return _Completion(msg.content, ch.finish_reason, getattr(msg, "refusal", None),
                                   getattr(ch, "logprobs", None))
            except (AttributeError, IndexError, TypeError):
                # not a chat completion (an HTML error page with status 200, an empty choices list)
                return _Completion(None, f"not a chat completion: {shorten(resp, 80)!r}", None, None)

    @contextlib.contextmanager
    def cancellable(self, cancel: threading.Event) -> Iterator[None]:
        """Inside the block, requests made by this thread stop (no new request, no retry wait)
        once ``cancel`` is set: used by :class:`~genz.fm.cache.CachedFM` on Ctrl-C."""
        old = getattr(self._tls, "cancel", None)
        self._tls.cancel = cancel
        try:
            yield
        finally:
            self._tls.cancel = old

    def _cancel_event(self) -> threading.Event | None:
        return getattr(self._tls, "cancel", None) if self._tls is not None else None

    def _check_cancel(self) -> None:
        ev = self._cancel_event()
        if ev is not None and ev.is_set():
            raise _Cancelled()

    def _pause(self, delay: float) -> None:
        """Sleep before a retry; a cancelled pass wakes at once (and sends nothing more)."""
        ev = self._cancel_event()
        if ev is not None and self._sleep is time.sleep:
            ev.wait(delay)
        else:
            self._sleep(delay)
        self._check_cancel()

    def _unusable(self, kind: str, what: str) -> None:
        """Count an answer that is not a usable answer at all (not JSON, not a chat completion);
        after :data:`GARBAGE_LIMIT` in a row, stop with one line quoting what the server sent."""
        with self._garbage_lock:
            self._garbage_streak += 1
            n = self._garbage_streak
        if n >= GARBAGE_LIMIT:
            with self._garbage_lock:
                self._garbage_streak = 0
            raise FMError(
                f"{kind}: the server at {self._where()} sent {n} unusable answers in a row; the last: "
                f"{self._redact(shorten(what))}. Check --base-url and --fm-model; nothing was cached"
            )

    def _usable(self) -> None:
        with self._garbage_lock:
            self._garbage_streak = 0

    def _where(self) -> str:
        return self.base_url or "api.openai.com"

    # ------------------------------------------------------------------ judging
    def _image_parts(self, labelled: Sequence[tuple[str, Item]]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        for label, it in labelled:
            if not it.images:
                continue
            parts.append({"type": "text", "text": f"Images of {label}:"})
            for p in it.images:
                parts.append({"type": "image_url", "image_url": {"url": image_data_url(p, it.id)}})
        return parts

    def _user_content(self, user: str, labelled: Sequence[tuple[str, Item]], model: str) -> str | list[dict[str, Any]]:
        """The user message: text, followed by each item's images (as ``data:`` URLs) when the
        model takes images; ``labelled`` pairs each item with how the prompt refers to it."""
        if not any(it.images for _, it in labelled):
            return user
        if not self._vision_for(model):
            if not self._warned_images:
                log.warning(
                    "items have images but %s is not treated as a vision model: sending text only "
                    "(pass vision=True / --vision, or run `genz describe-images` first)", model)
                self._warned_images = True
            return user
        return [{"type": "text", "text": user}, *self._image_parts(labelled)]

    def _judge_prompt(self, descriptor: str, batch: Sequence[Item]) -> tuple[str, str | list[dict[str, Any]]]:
        """(system, user content) of the judging request for ``batch``."""
        tpl = self.prompts["judge"]
        n = len(batch)
        system, user = tpl.render(
            descriptor=quote_descriptor(descriptor),
            items=numbered_items(batch, 1, self.item_max_chars),
            n_items=n,
            first_id=1,
            last_id=n,
        )
        return system, self._user_content(user, [(f"item [{k}]", it) for k, it in enumerate(batch, 1)], self.model)

    def judge_request_body(self, descriptor: str, batch: Sequence[Item]) -> dict[str, Any]:
        """The chat-completions body that judging ``batch`` sends now (for batch files)."""
        system, content = self._judge_prompt(descriptor, batch)
        n = len(batch)
        return chat_body(self.model, self._caps_for(self.model), system, content, "judgments", judge_schema(n),
                         32 + 12 * n, temperature=self.temperature, top_logprobs=self.top_logprobs,
                         want_logprobs=True)

    def _judge_once(self, descriptor: str, batch: Sequence[Item]) -> tuple[dict[int, bool], np.ndarray | None]:
        """One judging request for ``batch``: ``({k: answer}, P(yes) per position or None)`` for
        the item numbers ``k`` (1-based) that got a valid answer (see
        :meth:`parse_judge_completion`), so that only the missing items are asked again."""
        n = len(batch)
        system, content = self._judge_prompt(descriptor, batch)
        comp = self._request(
            "judge", self.model, system, content,
            "judgments", judge_schema(n), max_tokens=32 + 12 * n, want_logprobs=True,
        )
        values, probs = self.parse_judge_completion(comp, n)
        self._usable()
        return values, probs

    @staticmethod
    def parse_judge_completion(comp: Any, n: int) -> tuple[dict[int, bool], np.ndarray | None]:
        """``({k: answer}, P(yes) or None)`` of a judging answer for ``n`` items (``comp``:
        content, finish_reason, refusal, logprobs). An answer that cannot be trusted as a whole
        (refused, cut off, not JSON, an unknown or repeated id) raises :class:`_ParseFailure`; a
        valid answer that leaves out some items is returned as is. Also used on batch output
        lines (:mod:`genz.fm.requests`)."""
        if comp.refusal:
            raise _ParseFailure(f"the model refused: {comp.refusal[:200]!r}")
        if comp.finish_reason == "length":
            raise _ParseFailure("the answer was cut off (max tokens)")
        if comp.finish_reason == "content_filter":
            raise _ParseFailure("the answer was blocked by the server's content filter")
        if not comp.content:
            raise _ParseFailure(f"empty answer ({comp.finish_reason})", garbage=True)
        obj = _extract_json(comp.content)
        answers = obj.get("answers") if isinstance(obj, dict) else obj if isinstance(obj, list) else None
        if isinstance(answers, dict):  # {"1": "yes", ...}
            pairs: Any = answers.items()
        elif isinstance(answers, list):  # [{"id": 1, "answer": "yes"}, ...]
            pairs = []
            for a in answers:
                if not isinstance(a, dict) or "id" not in a:
                    raise _ParseFailure(f"an answer without an id: {a!r}"[:120])
                pairs.append((a["id"], a.get("answer")))
        else:
            raise _ParseFailure(f"no 'answers' list in {shorten(comp.content, 80)!r}", garbage=True)
        values: dict[int, bool] = {}
        for key, answer in pairs:
            try:
                k = int(key)
            except (TypeError, ValueError):
                raise _ParseFailure(f"a non-numeric id {key!r}") from None
            if k in values:
                raise _ParseFailure(f"item {k} answered twice")
            if not 1 <= k <= n:
                raise _ParseFailure(f"answer for item {k}, but the batch has items 1..{n}")
            v = _YES_NO.get(answer) if type(answer) is str else None
            if v is None:
                v = _yes_no(answer)
            if v is not None:
                values[k] = v
        probs = _answer_probs(comp.content, comp.logprobs, n) if len(values) == n else None
        return values, probs

    def _judge_attempt(self, descriptor: str, items: Sequence[Item], pos: list[int]) -> tuple[list[_Segment], list[int], str]:
        """One request for ``items[pos]``: (answered segments, positions still without a valid
        answer, why they have none)."""
        batch = [items[i] for i in pos]
        try:
            values, probs = self._judge_once(descriptor, batch)
        except _ParseFailure as exc:
            why = str(exc)
            log.info("judge %r, %d items: %s", descriptor, len(batch), why)
            if exc.garbage:
                self._unusable("judge", why)
            return [], list(pos), why
        got = [k for k in range(1, len(pos) + 1) if k in values]
        missing = [pos[k - 1] for k in range(1, len(pos) + 1) if k not in values]
        segs: list[_Segment] = []
        if got:
            v = np.array([values[k] for k in got], dtype=bool)
            p = None if probs is None else np.asarray(probs, dtype=float)[[k - 1 for k in got]]
            segs.append(([pos[k - 1] for k in got], v, p))
        why = f"{len(missing)} of {len(pos)} items without a yes/no answer" if missing else ""
        return segs, missing, why

    def _round_sizes(self) -> list[int]:
        """Batch size of each judging round: ``batch_size`` for the first try and its
        ``parse_retries`` retries, then halving down to one item per request, then one item per
        request for ``parse_retries`` more tries."""
        sizes = [self.batch_size] * (1 + self.parse_retries)
        b = self.batch_size
        while b > 1:
            b = max(1, b // 2)
            sizes.append(b)
        sizes += [1] * self.parse_retries
        return sizes

    def _batches(self, items: Sequence[Item], pos: list[int], size: int) -> list[list[int]]:
        """``pos`` in batches of ``size``; an item whose text reads like instructions to the
        model (:func:`~genz.fm.prompts.looks_like_instructions`) always goes alone, so it can
        at most change its own answer."""
        alone = [i for i in pos if looks_like_instructions(items[i])] if size > 1 else []
        alone_set = set(alone)
        rest = [i for i in pos if i not in alone_set]
        return [rest[s : s + size] for s in range(0, len(rest), size)] + [[i] for i in alone]

    def judge_batches(
        self,
        descriptor: str,
        items: Sequence[Item],
        on_result: Callable[[list[int], np.ndarray, np.ndarray | None], None],
    ) -> None:
        """Judge ``items`` in concurrent batches, calling ``on_result(positions, values, probs)``
        as each request returns (from the worker thread that made it, one call at a time), so a
        cache stores every answer the moment it arrives.

        Rounds: every batch is asked once; the items left without a valid answer (left out,
        refused, garbled) are pooled and asked again together, so a missing answer costs about
        one item's worth of requests, not a batch's; batches shrink after ``parse_retries``
        retries, down to one item per request; an item that never gets an answer raises
        :class:`FMError`. Ctrl-C / SIGTERM (KeyboardInterrupt in the calling thread) cancels
        every queued request at once, waits at most ``interrupt_grace`` seconds for the
        requests in flight (their answers are still delivered), and re-raises. The first
        error stops the pass the same way (after the requests in flight have returned)."""
        if not isinstance(descriptor, str) or not descriptor.strip():
            raise GenZInputError("judge: the descriptor is empty")
        check_descriptor(descriptor)
        check_encodable(items)
        if self.judge_mode == "single":
            return self.judge_single_items(descriptor, items, on_result)
        n = len(items)
        if n == 0:
            return
        bar = self._progress_bar(f"judging: {descriptor[:40]}", -(-n // self.batch_size))
        cancel = threading.Event()
        closed = threading.Event()
        deliver_lock = threading.Lock()

        def deliver(segments: list[_Segment]) -> None:
            with deliver_lock:
                if closed.is_set():
                    return
                for seg_pos, v, p in segments:
                    on_result(seg_pos, v, p)

        todo = list(range(n))
        why = ""
        try:
            for r, size in enumerate(self._round_sizes()):
                if not todo:
                    break
                batches = self._batches(items, todo, size)
                if r:
                    self.stats.add_retry(len(batches))
                missing, why = self._judge_round(descriptor, items, batches, deliver, cancel, bar)
                todo = sorted(missing)
            if todo:
                it = items[todo[0]]
                raise FMError(
                    f"judge: no valid yes/no answer from {self.model} for item {it.id!r} and characteristic "
                    f"{descriptor!r} after {len(self._round_sizes())} tries: {self._redact(why)}"
                    + (f" ({len(todo) - 1} more items without an answer)" if len(todo) > 1 else "")
                )
        finally:
            closed.set()
            bar.close()

    def _judge_round(self, descriptor: str, items: Sequence[Item], batches: list[list[int]],
                     deliver: Callable[[list[_Segment]], None], cancel: threading.Event,
                     bar: "_Bar") -> tuple[list[int], str]:
        """Ask every batch once with ``concurrency`` worker threads; return the positions left
        without an answer and why (see :meth:`judge_batches` for interruption)."""
        tasks: queue.SimpleQueue = queue.SimpleQueue()
        for b in batches:
            tasks.put(b)
        results: queue.SimpleQueue = queue.SimpleQueue()

        def worker() -> None:
            self._tls.cancel = cancel
            try:
                while not cancel.is_set():
                    try:
                        pos = tasks.get_nowait()
                    except queue.Empty:
                        return
                    try:
                        segs, missing, why = self._judge_attempt(descriptor, items, pos)
                        deliver(segs)
                        results.put(("ok", missing, why))
                    except _Cancelled:
                        results.put(("cancelled", list(pos), "cancelled"))
                        return
                    except BaseException as exc:  # noqa: BLE001 - handed to the calling thread
                        cancel.set()
                        results.put(("error", exc, ""))
                        return
            finally:
                self._tls.cancel = None

        n_workers = min(self.concurrency, len(batches))
        threads = [threading.Thread(target=worker, name=f"genz-fm-{k}", daemon=True) for k in range(n_workers)]
        for t in threads:
            t.start()
        missing_all: list[int] = []
        why_last = ""
        error: BaseException | None = None
        try:
            while any(t.is_alive() for t in threads) or not results.empty():
                try:
                    kind, payload, why = results.get(timeout=0.05)
                except queue.Empty:
                    continue
                if kind == "ok":
                    missing_all.extend(payload)
                    if why:
                        why_last = why
                    bar.advance()
                elif kind == "error" and error is None:
                    error = payload
                elif kind == "cancelled":
                    missing_all.extend(payload)
        except BaseException:  # Ctrl-C / SIGTERM: nothing new is sent; wait briefly for the rest
            cancel.set()
            deadline = time.monotonic() + max(0.0, self.interrupt_grace)
            for t in threads:
                t.join(max(0.0, deadline - time.monotonic()))
            raise
        if error is not None:
            raise error
        return missing_all, why_last

    def judge(self, descriptor: str, items: Sequence[Item]) -> Judgments:
        """b_nk = f(x_n, s_k) for every item (paper Fig. 1), with P(yes) when logprobs allow."""
        n = len(items)
        values = np.zeros(n, dtype=bool)
        probs = np.full(n, np.nan)
        have_prob = np.zeros(n, dtype=bool)

        def store(pos: list[int], v: np.ndarray, p: np.ndarray | None) -> None:
            values[pos] = v
            if p is not None:
                probs[pos] = p
                have_prob[pos] = ~np.isnan(p)

        self.judge_batches(descriptor, items, store)
        self.stats.add_judgments(n)
        return Judgments(values=values, prob=probs if n and have_prob.all() else None)

    # ------------------------------------------------------------------ single-item judging
    def _judge_single_once(self, descriptor: str, item: Item) -> tuple[bool, float | None]:
        """One item, one request, a one-token answer: (yes?, P(yes) or None).

        The system message holds the instructions and the descriptor, the user message the item:
        requests for one descriptor share their whole prefix up to the item. P(yes) is
        Σ p(yes-like) / (Σ p(yes-like) + Σ p(no-like)) over the answer token's top alternatives;
        the judgment is yes when P(yes) > ½, i.e. the more probable of the two answers (as a
        grammar allowing only yes/no would decode). Without log-probabilities the token itself
        must be yes or no."""
        tpl = self.prompts["judge_single"]
        system, user = tpl.render(descriptor=quote_descriptor(descriptor), item=quote_item(item, self.item_max_chars))
        comp = self._request("judge", self.model, system,
                             self._user_content(user, [("the item", item)], self.model),
                             "judgment", None, max_tokens=1, want_logprobs=True)
        if comp.refusal:
            raise _ParseFailure(f"the model refused: {comp.refusal[:200]!r}")
        if comp.finish_reason == "content_filter":
            raise _ParseFailure("the answer was blocked by the server's content filter")
        said = _classify((comp.content or "").strip().split(" ")[0] if comp.content else None)
        p = _first_token_prob(comp.logprobs)
        if p is not None:
            return bool(p > 0.5) if p != 0.5 else said == "yes", p
        if said is None:
            raise _ParseFailure(f"the answer {str(comp.content)[:40]!r} is not yes or no")
        return said == "yes", None

    def _judge_single_robust(self, descriptor: str, items: Sequence[Item], i: int) -> _Segment:
        why = ""
        for attempt in range(1 + self.parse_retries):
            if attempt:
                self.stats.add_retry()
            try:
                v, p = self._judge_single_once(descriptor, items[i])
                return [i], np.array([v], dtype=bool), None if p is None else np.array([p])
            except _ParseFailure as exc:
                why = str(exc)
                log.info("judge (single) %r, item %r: %s", descriptor, items[i].id, why)
        raise FMError(
            f"judge: no valid yes/no answer from {self.model} for item {items[i].id!r} and "
            f"characteristic {descriptor!r} after {1 + self.parse_retries} tries: {self._redact(why)}")

    def judge_single_items(
        self,
        descriptor: str,
        items: Sequence[Item],
        on_result: Callable[[list[int], np.ndarray, np.ndarray | None], None],
    ) -> None:
        """``judge_mode="single"``: one request per item (``concurrency`` in flight), each answer
        reported through ``on_result([position], values, probs)`` in the calling thread as it
        arrives. The first error is raised after the requests already running are reported."""
        n = len(items)
        if n == 0:
            return
        bar = self._progress_bar(f"judging: {descriptor[:40]}", n)
        try:
            if self.concurrency == 1 or n == 1:
                for i in range(n):
                    on_result(*self._judge_single_robust(descriptor, items, i))
                    bar.advance()
                return
            error: BaseException | None = None
            with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="genz-fm") as pool:
                pending = {pool.submit(self._judge_single_robust, descriptor, items, i) for i in range(n)}
                while pending:
                    done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                    for f in done:
                        exc = f.exception()
                        if exc is None:
                            on_result(*f.result())
                            bar.advance()
                        elif error is None:
                            error = exc
                            for g in pending:
                                g.cancel()
                    pending = {g for g in pending if not g.cancelled()}
            if error is not None:
                raise error
        finally:
            bar.close()

    # ------------------------------------------------------------------ mining & proposal
    def mine(
        self,
        positives: Sequence[Item],
        negatives: Sequence[Item],
        *,
        exclude: Collection[str] = (),
        context: str | None = None,
    ) -> str:
        """A characteristic true of ``positives`` and not of ``negatives`` (paper Fig. 2): the
        first of :meth:`mine_candidates` with ``n=1``."""
        return self.mine_candidates(positives, negatives, 1, exclude=exclude, context=context)[0]

    def mine_candidates(
        self,
        positives: Sequence[Item],
        negatives: Sequence[Item],
        n: int = 5,
        *,
        exclude: Collection[str] = (),
        context: str | None = None,
    ) -> list[str]:
        """Up to ``n`` characteristics true of ``positives`` and not of ``negatives`` from ONE
        mining call (paper Fig. 2, several candidates; discovery keeps the one whose judgments
        explain most of the residual).

        Every answer is checked by ``self.validator`` (:mod:`genz.fm.validate`: no statements
        about the groups, no comparisons between them, not empty, not too long, not already in
        ``exclude`` or among the accepted ones). When some are rejected, or the answer cannot
        be read, the model is asked once more, with the reasons, for that many others. What
        fails again is skipped: it is never returned, hence never judged; every rejection is
        recorded in ``stats.rejections`` (and counted in ``stats.rejected``), so it reaches the
        run's history. :class:`MiningError` when no answer passes."""
        if n < 1:
            raise GenZInputError(f"mine_candidates: n must be >= 1, got {n}")
        if not positives or not negatives:
            raise MiningError("mining needs at least one positive and one negative item")
        pos = list(positives)[: self.max_exemplars]
        neg = list(negatives)[: self.max_exemplars]
        check_encodable(pos + neg)
        excl = sorted({e for e in exclude if e})
        tpl = self.prompts["mine"]
        system, user = tpl.render(
            positives=numbered_items(pos, 1, self.item_max_chars),
            negatives=numbered_items(neg, 1, self.item_max_chars),
            n_pos=len(pos),
            n_neg=len(neg),
            n_candidates=n,
            exclude="\n".join(f"- {json.dumps(e, ensure_ascii=False)}" for e in excl) if excl else "(none)",
            context=f"Context: {context}\n" if context else "",
        )
        labelled = [(f"positive item [{k}]", it) for k, it in enumerate(pos, 1)]
        labelled += [(f"negative item [{k}]", it) for k, it in enumerate(neg, 1)]
        accepted: list[str] = []
        rejected: list[Rejection] = []  # of the latest answer
        why = ""  # why the latest answer could not be read
        garbage = 0  # answers that were not an answer at all (not JSON, an HTML page)
        attempts = 0
        for attempt in range(2):  # the first answer, and once more with the reasons
            attempts += 1
            want = n - len(accepted)
            prompt = user
            if attempt:
                self.stats.add_retry()
                prompt = user + _mine_feedback(rejected, why, accepted, want)
            comp = self._request("mine", self.mining_model, system,
                                 self._user_content(prompt, labelled, self.mining_model),
                                 "characteristic", MINE_SCHEMA, max_tokens=60 * want + 60)
            try:
                obj = _answer_json(comp)
                answers = _mined_answers(obj)
            except _ParseFailure as exc:
                why, rejected = str(exc), []
                log.info("mine: %s", why)
                if exc.garbage:
                    garbage += 1
                    self._unusable("mine", why)
                continue
            self._usable()
            why, rejected = "", []
            conf = obj.get("confidence") if isinstance(obj, dict) else None
            self.last_confidence = float(conf) if isinstance(conf, (int, float)) else None
            for a in answers:
                if len(accepted) >= n:
                    break
                r = self.validator.check(a, [*excl, *accepted]) if isinstance(a, str) else \
                    Rejection(str(a)[:200], "empty", "the answer is not a string")
                if r is None:
                    accepted.append(" ".join(a.split()))
                else:
                    rejected.append(r)
            if rejected:
                self.stats.add_rejections([{**r.as_dict(), "attempt": attempt + 1, "skipped": attempt == 1}
                                           for r in rejected])
                for r in rejected:
                    log.info("mine: rejected %r (%s)", r.text[:120], r.reason)
            if len(accepted) >= n or not rejected:
                break
        if not accepted:
            if garbage == attempts:  # not one answer at all: the server is broken, stop
                raise FMError(
                    f"mine: the server at {self._where()} sent no usable answer in {garbage} tries; the last: "
                    f"{self._redact(why)}. Check --base-url and --mining-model; nothing was cached"
                )
            detail = "; ".join(f"{r.text[:80]!r}: {r.reason}" for r in rejected) or why or "no answer"
            err = MiningError(f"mining with {self.mining_model}: no usable characteristic: {self._redact(detail)}")
            err.cacheable = False  # type: ignore[attr-defined]  # a failure, not an answer: never cached
            raise err
        return accepted

    def propose(self, task: str, sample_items: Sequence[Item], n: int = 50) -> list[str]:
        """About ``n`` yes/no features from a task description (zero-shot baseline)."""
        if not task or not task.strip():
            raise GenZInputError("propose: the task description is empty")
        tpl = self.prompts["propose"]
        sample = list(sample_items)[: max(self.max_exemplars * 3, 1)]
        system, user = tpl.render(task=task.strip(), items=numbered_items(sample, 1, self.item_max_chars), n=n)
        why = ""
        for attempt in range(1 + self.parse_retries):
            if attempt:
                self.stats.add_retry()
            comp = self._request("propose", self.mining_model, system, user, "questions", PROPOSE_SCHEMA,
                                 max_tokens=30 * n + 60)
            try:
                obj = _answer_json(comp)
                qs = obj.get("questions") if isinstance(obj, dict) else obj
                if not isinstance(qs, list):
                    raise _ParseFailure(f"no 'questions' list in {comp.content[:80]!r}")
                out: list[str] = []
                seen: set[str] = set()
                for q in qs:
                    if isinstance(q, str) and descriptor_problem(" ".join(q.split())) is None \
                            and _norm_descr(q) not in seen:
                        seen.add(_norm_descr(q))
                        out.append(" ".join(q.split()))
                if not out:
                    raise _ParseFailure("no usable questions")
                return out[:n]
            except _ParseFailure as exc:
                why = str(exc)
        raise FMError(f"propose with {self.mining_model}: no usable answer: {self._redact(why)}")

    def describe_images(self, item: Item) -> str:
        """A text description of the item's images (one vision call; see genz.fm.images)."""
        if not item.images:
            raise GenZInputError(f"item {item.id!r} has no images to describe")
        tpl = self.prompts["describe_image"]
        system, user = tpl.render(item=quote_item(item, self.item_max_chars), n_images=len(item.images))
        parts = [{"type": "text", "text": user}]
        for p in item.images:
            parts.append({"type": "image_url", "image_url": {"url": image_data_url(p, item.id)}})
        why = ""
        for attempt in range(1 + self.parse_retries):
            if attempt:
                self.stats.add_retry()
            comp = self._request("describe", self.model, system, parts, "description", DESCRIBE_SCHEMA,
                                 max_tokens=400)
            try:
                obj = _answer_json(comp)
                d = obj.get("description") if isinstance(obj, dict) else None
                if not isinstance(d, str) or not d.strip():
                    raise _ParseFailure("no 'description' string")
                return " ".join(d.split())
            except _ParseFailure as exc:
                why = str(exc)
        raise FMError(f"describe-images with {self.model}: no usable description for item {item.id!r}: {self._redact(why)}")

    # ------------------------------------------------------------------ progress
    def _progress_bar(self, label: str, total: int) -> "_Bar":
        show = self.progress if self.progress is not None else (sys.stderr.isatty() and total > 1)
        return _Bar(label, total, bool(show))


class _Bar:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, label: str, total: int, show: bool) -> None:
        self._p = None
        if show:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            from rich.errors import LiveError

            p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                         TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            try:
                p.start()
            except LiveError:  # another live display (e.g. genz fit's progress panel) is on
                return
            self._p = p
            self._task = p.add_task(label, total=total)

    def advance(self) -> None:
        if self._p is not None:
            self._p.advance(self._task)

    def close(self) -> None:
        if self._p is not None:
            self._p.stop()
            self._p = None


def image_data_url(path: str, item_id: str) -> str:
    """A ``data:`` URL with the image's bytes (base64), for the chat API's ``image_url``."""
    p = Path(path)
    if not p.is_file():
        raise GenZInputError(f"item {item_id!r}: image {path} does not exist")
    mime = mimetypes.guess_type(p.name)[0] or "image/jpeg"
    if not mime.startswith("image/"):
        raise GenZInputError(f"item {item_id!r}: {path} is not an image file ({mime})")
    return f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode('ascii')}"


_DICT_ANSWER = re.compile(r'"(\d+)"\s*:\s*"')
_LIST_ANSWER = re.compile(r'"id"\s*:\s*"?(\d+)"?\s*,\s*"answer"\s*:\s*"', re.IGNORECASE)


def _answer_probs(content: str, logprobs: Any, n: int) -> np.ndarray | None:
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
        if _classify(tok.token) is None:
            if ti + 1 < len(toks) and _classify(toks[ti + 1].token) is not None:
                tok = toks[ti + 1]
            else:
                continue
        alts = list(getattr(tok, "top_logprobs", None) or [])
        if not any(a.token == tok.token for a in alts):
            alts.append(tok)
        py = sum(math.exp(a.logprob) for a in alts if _classify(a.token) == "yes")
        pn = sum(math.exp(a.logprob) for a in alts if _classify(a.token) == "no")
        if py + pn > 0:
            out[k - 1] = py / (py + pn)
    return None if np.isnan(out).all() else out


def _first_token_prob(logprobs: Any) -> float | None:
    """P(yes) from the first answer token's top log-probabilities (single-item mode):
    Σ p(yes-like) / (Σ p(yes-like) + Σ p(no-like)); None without usable log-probabilities."""
    toks = getattr(logprobs, "content", None) if logprobs is not None else None
    if not toks:
        return None
    tok = toks[0]
    alts = list(getattr(tok, "top_logprobs", None) or [])
    if not any(a.token == tok.token for a in alts):
        alts.append(tok)
    py = sum(math.exp(a.logprob) for a in alts if _classify(a.token) == "yes")
    pn = sum(math.exp(a.logprob) for a in alts if _classify(a.token) == "no")
    return py / (py + pn) if py + pn > 0 else None


def _mined_answers(obj: Any) -> list[Any]:
    """The characteristics in a mining answer: ``{"characteristics": [...]}``, a bare list, or
    one ``{"characteristic": "..."}`` (templates of genz < issue 14); list entries may also be
    ``{"characteristic": "..."}`` objects."""
    if isinstance(obj, dict):
        if "characteristics" in obj:
            v = obj["characteristics"]
        elif "characteristic" in obj:
            v = [obj["characteristic"]]
        else:
            raise _ParseFailure(f"no 'characteristics' list in {json.dumps(obj)[:80]!r}")
    else:
        v = obj
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not v:
        raise _ParseFailure("the answer has no characteristics")
    return [e.get("characteristic") if isinstance(e, dict) and "characteristic" in e else e for e in v]


def _mine_feedback(rejected: Sequence[Rejection], why: str, accepted: Sequence[str], want: int) -> str:
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


def _classify(token: str | None) -> str | None:
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
