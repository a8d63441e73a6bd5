"""Checks before anything is written: an LLM backend needs its API key and a server that
answers, and both are checked before ``genz fit`` creates its run directory (and before
``genz predict`` starts), so that a missing key or a server that is not running is one line
in a second, not a half-made run or a minute of retries.

The reachability check opens a TCP connection to the server's host and port (no request, no
key sent); it is skipped when an HTTP proxy is configured (the proxy decides what is
reachable) and for the offline engine.
"""

from __future__ import annotations

import os
import socket
from typing import Any
from urllib.parse import urlsplit

from ..errors import GenZInputError

__all__ = ["check_fm_ready", "openai_backend"]

_PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")


def openai_backend(fm: Any) -> Any | None:
    """The OpenAI-compatible backend inside ``fm``'s wrappers (cache, executor), or None."""
    seen = 0
    while fm is not None and seen < 8:
        if hasattr(getattr(fm, "transport", None), "resolve_key") and hasattr(fm, "_base_url"):
            return fm
        fm = getattr(fm, "inner", None) or getattr(fm, "fm", None)
        seen += 1
    return None


def check_fm_ready(fm: Any, timeout: float = 5.0) -> None:
    """Refuse, in one line, a backend without its API key or whose server does not answer."""
    backend = openai_backend(fm)
    if backend is None:
        return
    backend.transport.resolve_key(required=True)  # FMError: no API key, and what to set
    url = backend._base_url or "https://api.openai.com/v1"
    shown = getattr(backend, "base_url", None) or url
    parts = urlsplit(url)
    host = parts.hostname
    if not host:
        raise GenZInputError(f"--base-url {shown!r}: not a URL (e.g. http://127.0.0.1:8080/v1)")
    if any(os.environ.get(v) for v in _PROXY_VARS) and not _local(host):
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise GenZInputError(f"--base-url {shown!r}: the port is not a number") from None
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        raise GenZInputError(f"cannot connect to {shown} (connection refused): is the server running? Start it (or "
                             "fix --base-url / $OPENAI_BASE_URL) and rerun") from None
    except socket.gaierror:
        raise GenZInputError(f"cannot find the host {host!r} of {shown}: check --base-url / $OPENAI_BASE_URL and the "
                             "network") from None
    except (TimeoutError, socket.timeout):
        raise GenZInputError(f"{shown}: no answer from {host}:{port} in {timeout:g} s; is the server up and "
                             "reachable from here?") from None
    except OSError as exc:
        raise GenZInputError(f"cannot connect to {shown} ({exc.strerror or exc}); is the server running and "
                             "reachable?") from None


def _local(host: str) -> bool:
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")
