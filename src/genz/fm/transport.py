"""HTTP to an OpenAI-compatible server: the client, what the server accepts, retries, redaction.

* :class:`ChatTransport` sends one chat-completions request (:func:`chat_body`) and returns a
  :class:`Completion`. Faults: HTTP 429 (``Retry-After`` honoured, capped at
  :data:`RETRY_AFTER_MAX` seconds), 408/409/425/5xx, timeouts and connection errors are retried
  with exponential backoff and jitter until the request's **retry budget** (total seconds spent
  on its failed attempts and waits, :class:`RetryPolicy`) is spent, or ``max_retries`` when one
  is set; then :class:`~genz.errors.FMError`. A parameter the server rejects with HTTP 400
  (``response_format``, ``logprobs``, ``temperature``, ``max_tokens``) is dropped and the
  request asked again, once per model and server.
* :func:`sdk_call` wraps the other SDK calls (files, batches): the SDK never retries by itself
  (``max_retries=0``); an idempotent call (a read) is retried like a chat request, a call that
  creates something is never repeated blindly (the caller looks up what the failed call may
  have created, :mod:`genz.fm.executors.batch`).
* Every message built from a server's words goes through :func:`genz.fm.secrets.redact`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from ..errors import FMError
from .pricing import cost_usd
from .secrets import redact, register_secret, sanitize_url, url_secrets

__all__ = ["ChatTransport", "Completion", "Cancelled", "RetryPolicy", "APIError", "chat_body", "sdk_call",
           "RETRY_AFTER_MAX", "RETRY_BUDGET", "CAPS_SEEN", "REASONING", "shorten"]

log = logging.getLogger("genz.fm")

#: the longest wait a server's Retry-After can impose on one retry (seconds)
RETRY_AFTER_MAX = 120.0
#: default total seconds one request may spend on failed attempts and waits before it fails
RETRY_BUDGET = 600.0
REASONING = re.compile(r"^(o\d|gpt-5)(?!.*-chat)", re.IGNORECASE)
#: what each (server, model, structured mode) was found to accept, shared by backend objects
CAPS_SEEN: dict[tuple[str | None, str, str], dict[str, Any]] = {}


def shorten(text: Any, n: int = 120) -> str:
    """``text`` on one line, at most ``n`` characters (for messages quoting a server's reply)."""
    t = " ".join(str(text).split())
    return t if len(t) <= n else t[: n - 1] + "…"


class Completion:
    """What a chat completion said: content, finish reason, refusal, log-probabilities."""

    __slots__ = ("content", "finish_reason", "refusal", "logprobs")

    def __init__(self, content: str | None, finish_reason: str | None, refusal: str | None, logprobs: Any) -> None:
        self.content = content
        self.finish_reason = finish_reason
        self.refusal = refusal
        self.logprobs = logprobs


class Cancelled(Exception):
    """The pass was cancelled (Ctrl-C, SIGTERM, or another batch's error): no new request."""


class APIError(FMError):
    """An SDK call failed: ``status`` (HTTP status or None), ``transient`` (worth retrying)."""

    def __init__(self, message: str, status: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


@dataclass
class RetryPolicy:
    """How long transient failures are retried. ``budget``: total seconds one request may spend
    on failed attempts and on waiting between them; ``max_retries``: an optional cap on the
    number of retries as well; ``retry_after_max``: the longest wait a ``Retry-After`` header
    can impose; without one, waits grow as ``backoff_base·2^attempt`` (at most ``backoff_max``)
    with full jitter."""

    backoff_base: float = 1.0
    backoff_max: float = 60.0
    budget: float = RETRY_BUDGET
    max_retries: int | None = None
    retry_after_max: float = RETRY_AFTER_MAX

    @staticmethod
    def retry_after(exc: Exception | None) -> float | None:
        """The server's ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date), or None."""
        resp = getattr(exc, "response", None)
        if resp is None:
            return None
        headers = resp.headers
        ms, ra = headers.get("retry-after-ms"), headers.get("retry-after")
        try:
            if ms is not None:
                value = float(ms) / 1000.0
            elif ra is not None:
                try:
                    value = float(ra)
                except ValueError:
                    value = parsedate_to_datetime(ra).timestamp() - time.time()
            else:
                return None
        except (TypeError, ValueError, OverflowError):
            return None
        return max(0.0, value) if math.isfinite(value) else None

    def delay(self, attempt: int, exc: Exception | None) -> float:
        """Seconds to wait before retry number ``attempt + 1``."""
        ra = self.retry_after(exc)
        if ra is not None:
            # the server said when (capped); a little jitter so concurrent workers do not stampede
            d = min(ra, self.retry_after_max)
            return d + random.uniform(0, 0.1 * max(d, 0.1))
        return min(self.backoff_max, self.backoff_base * (2 ** min(attempt, 60))) * random.uniform(0.5, 1.0)

    def gives_up(self, attempt: int, spent: float, delay: float) -> bool:
        """Whether retry number ``attempt + 1``, after waiting ``delay`` seconds more, would go
        past the retry count or the budget (``spent``: seconds spent on this request so far)."""
        if self.max_retries is not None and attempt >= self.max_retries:
            return True
        return spent + delay > self.budget


def chat_body(
    model: str,
    caps: dict[str, Any],
    system: str,
    user: str | list[dict[str, Any]],
    schema_name: str,
    schema: dict[str, Any] | None,
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


def _classify_sdk_error(exc: Exception) -> tuple[str, int | None, bool]:
    """(what happened, HTTP status, transient?) of an ``openai`` exception."""
    import openai

    status = getattr(exc, "status_code", None)
    transient = (
        isinstance(exc, (openai.RateLimitError, openai.InternalServerError, openai.ConflictError,
                         openai.APIConnectionError))
        or status in (408, 425, 429)
        or (status is not None and status >= 500)
    )
    what = ("timed out" if isinstance(exc, openai.APITimeoutError)
            else f"HTTP {status}" if status else "connection error")
    return what, status, transient


def sdk_call(fn: Callable[[], Any], what: str, *, where: str, idempotent: bool, retry: RetryPolicy | None = None,
             sleep: Callable[[float], None] = time.sleep) -> Any:
    """``fn()`` (one SDK call, e.g. ``lambda: client.batches.retrieve(id)``) with its errors
    turned into :class:`APIError` whose message is redacted and names ``what`` and ``where``.
    An ``idempotent`` call is retried on transient errors under ``retry``; any other call is
    made once: the caller decides what a failure means (it may have taken effect)."""
    import openai

    retry = retry or RetryPolicy()
    attempt, spent = 0, 0.0
    while True:
        t0 = time.monotonic()
        try:
            return fn()
        except openai.APIError as exc:
            kind, status, transient = _classify_sdk_error(exc)
            msg = getattr(exc, "message", None) or str(exc)
            if isinstance(exc, openai.AuthenticationError):
                raise APIError(f"{what}: authentication failed at {where} (HTTP {status}); check the API key",
                               status) from None
            spent += time.monotonic() - t0
            if idempotent and transient:
                d = retry.delay(attempt, exc)
                if not retry.gives_up(attempt, spent, d):
                    log.info("%s: %s from %s; retrying in %.2fs", what, kind, where, d)
                    sleep(d)
                    spent += d
                    attempt += 1
                    continue
            tail = f"; gave up after {attempt + 1} attempts" if idempotent and transient else ""
            raise APIError(f"{what}: {kind} from {where}: {redact(shorten(msg, 300))}{tail}", status,
                           transient) from None


class ChatTransport:
    """Chat-completions requests to one server (see the module docstring). ``stats`` and
    ``prices`` are passed per request, so one transport serves a backend whose counters are
    swapped (:class:`genz.fm.cache.CachedFM`)."""

    def __init__(self, base_url: str | None, *, api_key: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 120.0, retry: RetryPolicy | None = None, structured: str = "auto",
                 logprobs: bool = True, sleep: Callable[[float], None] = time.sleep, send_key: bool = True) -> None:
        self._base_url = base_url.rstrip("/") if base_url else None
        self.base_url = sanitize_url(self._base_url)  # for messages; never holds credentials
        register_secret(*url_secrets(self._base_url))
        self.api_key_env = api_key_env
        self._api_key = api_key if api_key else None
        register_secret(self._api_key)
        self.send_key = bool(send_key)
        self.timeout = float(timeout)
        self.retry = retry or RetryPolicy()
        self.structured = structured
        self.logprobs = bool(logprobs)
        self._sleep = sleep
        self._tls = threading.local()  # the cancel event of the pass a worker thread serves
        self._client: Any = None
        self._client_lock = threading.Lock()
        self._caps_lock = threading.Lock()
        self._caps: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ pickling: no key, no client
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for k in ("_api_key", "_client", "_client_lock", "_caps_lock", "_sleep", "_tls"):
            state[k] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client_lock = threading.Lock()
        self._caps_lock = threading.Lock()
        self._sleep = time.sleep
        self._tls = threading.local()

    # ------------------------------------------------------------------ identity & secrets
    def where(self) -> str:
        return self.base_url or "api.openai.com"

    def redact(self, text: str) -> str:
        return redact(text, self.resolve_key(required=False), *url_secrets(self._base_url))

    def resolve_key(self, required: bool = True) -> str | None:
        if not self.send_key:
            return None
        key = self._api_key or (os.environ.get(self.api_key_env) if self.api_key_env else None)
        if key:
            register_secret(key)
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

                key = self.resolve_key(required=True) or "no-key"  # local servers ignore it
                self._client = openai.OpenAI(
                    api_key=key,
                    base_url=self._base_url,
                    timeout=self.timeout,
                    max_retries=0,  # retries are ours: counted, jittered, Retry-After capped, budgeted
                )
            return self._client

    # ------------------------------------------------------------------ capabilities
    def caps_for(self, model: str) -> dict[str, Any]:
        with self._caps_lock:
            if model not in self._caps and (self.base_url, model, self.structured) in CAPS_SEEN:
                # another backend object already learnt what this server accepts
                self._caps[model] = dict(CAPS_SEEN[(self.base_url, model, self.structured)])
            if model not in self._caps:
                reasoning = bool(REASONING.match(model))
                self._caps[model] = {
                    "response_format": "json_schema" if self.structured in ("auto", "json_schema") else (
                        "json_object" if self.structured == "json_object" else None),
                    "logprobs": self.logprobs and not reasoning,
                    "temperature": not reasoning,
                    "token_param": "max_completion_tokens" if reasoning else "max_tokens",
                    "reasoning": reasoning,
                }
            return self._caps[model]

    def downgrade(self, model: str, message: str) -> bool:
        """After an HTTP 400, drop the optional parameter the server complained about."""
        changed = self._downgrade_caps(model, message)
        if changed:
            with self._caps_lock:
                CAPS_SEEN[(self.base_url, model, self.structured)] = dict(self._caps[model])
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
                if self.structured != "auto":
                    return False
                caps["response_format"] = order[order.index(caps["response_format"]) + 1]
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

    # ------------------------------------------------------------------ one request
    def request(self, kind: str, model: str, system: str, user: str | list[dict[str, Any]], schema_name: str,
                schema: dict[str, Any] | None, max_tokens: int, *, stats: Any, prices: Any, temperature: float,
                top_logprobs: int, want_logprobs: bool = False) -> Completion:
        """One chat request with retries (see the module docstring); tokens and dollars go to
        ``stats`` under ``kind``."""
        import openai

        caps = self.caps_for(model)
        attempt, spent = 0, 0.0
        while True:
            kw = chat_body(model, caps, system, user, schema_name, schema, max_tokens, temperature=temperature,
                           top_logprobs=top_logprobs, want_logprobs=want_logprobs)
            self.check_cancel()
            stats.add_call(kind)
            if attempt:
                stats.add_retry()
            t0 = time.monotonic()
            try:
                resp = self.client.chat.completions.create(**kw)
            except openai.BadRequestError as exc:
                msg = self.redact(str(getattr(exc, "message", exc)))
                if self.downgrade(model, msg):
                    log.info("server rejected a parameter (%s); asking again without it", msg[:200])
                    attempt += 1
                    continue
                raise FMError(f"{kind}: the server at {self.where()} rejected the request: {msg}") from None
            except openai.AuthenticationError as exc:
                raise FMError(f"{kind}: authentication failed at {self.where()} (HTTP {exc.status_code}); "
                              f"check the key in ${self.api_key_env}") from None
            except openai.PermissionDeniedError as exc:
                raise FMError(f"{kind}: permission denied at {self.where()}: {self.redact(str(exc.message))}") from None
            except openai.NotFoundError as exc:
                raise FMError(f"{kind}: model {model!r} or endpoint not found at {self.where()}: "
                              f"{self.redact(str(exc.message))}") from None
            except (openai.RateLimitError, openai.InternalServerError, openai.ConflictError,
                    openai.APIConnectionError, openai.APIStatusError) as exc:
                status = getattr(exc, "status_code", None)
                if status in (422, 500) and self.downgrade(model, self.redact(str(exc))):
                    # e.g. llama-cpp-python answers an unknown response_format with a 500
                    log.info("server rejected a parameter (HTTP %s); asking again without it", status)
                    attempt += 1
                    continue
                what, status, transient = _classify_sdk_error(exc)
                if not transient:
                    raise FMError(f"{kind}: {what} from {self.where()}: {self.redact(str(exc))}") from None
                spent += time.monotonic() - t0
                delay = self.retry.delay(attempt, exc)
                if self.retry.gives_up(attempt, spent, delay):
                    detail = f" (timeout {self.timeout:g}s)" if isinstance(exc, openai.APITimeoutError) else ""
                    raise FMError(
                        f"{kind}: {what} from {self.where()}{detail}; gave up after {attempt + 1} attempts "
                        f"({spent:.0f} s of the {self.retry.budget:g} s retry budget spent)"
                    ) from None
                log.info("%s: %s; retrying in %.2fs", kind, what, delay)
                self.pause(delay)
                spent += delay
                attempt += 1
                continue
            return self._completion(resp, kind, stats, prices)

    @staticmethod
    def _completion(resp: Any, kind: str, stats: Any, prices: Any) -> Completion:
        if isinstance(resp, (str, bytes)):  # HTTP 200 with a body that is not JSON (an HTML page)
            body = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else resp
            return Completion(None, f"not a chat completion: {shorten(body, 80)!r}", None, None)
        usage = getattr(resp, "usage", None)
        if usage is not None:
            pt = int(getattr(usage, "prompt_tokens", 0) or 0)
            ct = int(getattr(usage, "completion_tokens", 0) or 0)
            stats.add_tokens(pt, ct, cost_usd(pt, ct, prices), kind=kind)
        try:
            ch = resp.choices[0]
            msg = ch.message
            return Completion(msg.content, ch.finish_reason, getattr(msg, "refusal", None),
                              getattr(ch, "logprobs", None))
        except (AttributeError, IndexError, TypeError):
            # not a chat completion (an HTML error page with status 200, an empty choices list)
            return Completion(None, f"not a chat completion: {shorten(resp, 80)!r}", None, None)

    # ------------------------------------------------------------------ cancellation
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

    def set_cancel(self, cancel: threading.Event | None) -> None:
        """The cancel event of the pass this worker thread serves (None: none)."""
        self._tls.cancel = cancel

    def check_cancel(self) -> None:
        ev = getattr(self._tls, "cancel", None) if self._tls is not None else None
        if ev is not None and ev.is_set():
            raise Cancelled()

    def pause(self, delay: float) -> None:
        """Sleep before a retry; a cancelled pass wakes at once (and sends nothing more)."""
        ev = getattr(self._tls, "cancel", None) if self._tls is not None else None
        if ev is not None and self._sleep is time.sleep:
            ev.wait(delay)
        else:
            self._sleep(delay)
        self.check_cancel()
