"""One redaction routine for everything genz writes: error messages, logs, run files, reports.

:func:`redact` masks, in any text:

* every secret this process has handled (:func:`register_secret`: the API keys genz read from
  the environment, passwords in base URLs) and the current values of environment variables
  whose names say they hold a secret (``*_API_KEY``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``);
* anything shaped like a key or a credential: ``sk-…`` keys, ``Bearer``/``Basic``
  values, echoed ``Authorization``/``api-key`` headers (``'Authorization': '…'``,
  ``api-key: …``), ``user:password@`` in URLs, ``?api_key=…`` style query parameters.

Servers and proxies echo request headers in error bodies; the SDK puts those bodies in its
exception messages. Every place where genz turns a server's words into its own (FM errors, the
Batch API executor, the CLI's one-line errors, ``run.json``, the report, the ``genz.fm`` log)
goes through :func:`redact`. :func:`sanitize_url` and :func:`url_secrets` handle base URLs.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

__all__ = ["redact", "register_secret", "redact_secret", "sanitize_url", "url_secrets", "install_log_redaction",
           "MASK", "redact_secrets", "scrub_credentials"]

MASK = "***"
_KNOWN: set[str] = set()
_KNOWN_LOCK = threading.Lock()
_SECRET_ENV = re.compile(r"(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|_KEY$)", re.IGNORECASE)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # echoed headers: 'Authorization': 'Bearer x', "api-key": "x", Authorization: Basic x
    (re.compile(r"(?i)((?:proxy-)?authorization|x-api-key|api-key|openai-api-key|x-goog-api-key)"
                r"(['\"]?\s*[:=]\s*['\"]?)([^'\"\s,}*][^'\"\r\n,}]{3,})"), r"\1\2" + MASK),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-\.=:+/~]{6,}"), r"\1 " + MASK),
    (re.compile(r"(?i)\b(basic)\s+(?=[A-Za-z0-9+/=_\-]*[0-9+/=])[A-Za-z0-9+/=_\-]{6,}"), r"\1 " + MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), MASK),
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s:@'\"]*:[^/\s@'\"]*@"), r"\1" + MASK + "@"),
    (re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access_token|auth|sig|signature|password)=)[^&\s'\"#]+"),
     r"\1" + MASK),
)


def register_secret(*values: str | None) -> None:
    """Remember ``values`` (keys, passwords) so that :func:`redact` masks them wherever they
    appear, in this process, from now on (values shorter than 4 characters are ignored)."""
    with _KNOWN_LOCK:
        for v in values:
            if v and len(v) >= 4:
                _KNOWN.add(str(v))


def _secrets_now() -> list[str]:
    with _KNOWN_LOCK:
        out = set(_KNOWN)
    for name, value in os.environ.items():
        if value and len(value) >= 8 and _SECRET_ENV.search(name):
            out.add(value)
    return sorted(out, key=len, reverse=True)  # the longest first: a key inside another is masked whole


def redact(text: object, *more: str | None) -> str:
    """``text`` (any object, as ``str``) with every known secret, ``more`` secrets, and anything
    that looks like a key or a credential masked (see the module docstring)."""
    t = str(text)
    for s in [*(m for m in more if m and len(m) >= 4), *_secrets_now()]:
        if s in t:
            t = t.replace(s, MASK)
    for pat, repl in _PATTERNS:
        t = pat.sub(repl, t)
    return t


def redact_secret(text: str, secret: str | None, *more: str | None) -> str:
    """:func:`redact` with ``secret`` and ``more`` masked too (the name genz < 0.9 used)."""
    return redact(text, secret, *more)


def sanitize_url(url: str | None) -> str | None:
    """``url`` without user info, query or fragment (they can carry tokens)."""
    if url is None:
        return None
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


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


class _RedactingFilter(logging.Filter):
    """Formats a record's message once and masks it (a filter on a logger sees the records
    created on that logger)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string is the logger's business
            return True
        clean = redact(msg)
        if clean != msg or record.args:
            record.msg, record.args = clean, None
        return True


_FILTER = _RedactingFilter()


def install_log_redaction(*names: str) -> None:
    """Mask secrets in every record logged on the loggers ``names`` (default: genz's, the
    openai SDK's and httpx's)."""
    for name in names or ("genz", "genz.fm", "openai", "openai._base_client", "httpx", "httpcore"):
        lg = logging.getLogger(name)
        if _FILTER not in lg.filters:
            lg.addFilter(_FILTER)


install_log_redaction()


# -- configurations and free text written to run files and reports -----------------------------
_SECRET_KEY_RE = re.compile(r"(api[_-]?key|secret|password|passwd|authorization|bearer|credential)", re.I)
_SECRET_VALUE_RE = re.compile(r"^(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+\S+)$")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s:@]*:[^/\s@]*@")
_BASIC_AUTH = re.compile(r"(?i)\b(basic)\s+[A-Za-z0-9+/=_\-]{4,}")


def scrub_credentials(text: str) -> str:
    """``text`` with credentials in URLs (``https://user:pw@host``) and HTTP basic-auth values
    masked: ``https://***@host``, ``Basic ***``; and every key, bearer token or echoed
    ``Authorization`` header genz's one redaction routine knows (:func:`redact`)."""
    return redact(_BASIC_AUTH.sub(r"\1 ***", _URL_CREDENTIALS.sub(r"\1***@", text)))


def redact_secrets(obj: Any) -> Any:
    """A copy of a configuration with API keys, passwords and bearer tokens replaced by
    ``"<redacted>"`` (by key name, and by value for strings that look like keys)."""
    if isinstance(obj, Mapping):
        out = {}
        for k, v in obj.items():
            if _SECRET_KEY_RE.search(str(k)) and v not in (None, "", False):
                out[str(k)] = "<redacted>"
            else:
                out[str(k)] = redact_secrets(v)
        return out
    if isinstance(obj, (list, tuple)):
        return [redact_secrets(v) for v in obj]
    if isinstance(obj, str) and _SECRET_VALUE_RE.match(obj.strip()):
        return "<redacted>"
    if isinstance(obj, str):
        return scrub_credentials(obj)
    return obj
