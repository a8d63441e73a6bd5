"""Foundation models by name: ``make_fm("openai", model="gpt-4o-mini", cache="fm.sqlite")``.

Names:

* ``"predicates"`` — the offline predicate engine (:class:`genz.fm.predicates.PredicateFM`).
* ``"noisy:<name>?flip=0.1&seed=0"`` — any of these with judgments made wrong by a known error
  profile (:mod:`genz.fm.noisy`).
* ``"openai"`` — any OpenAI-compatible server (:class:`genz.fm.openai_compat.OpenAIFM`);
  ``"openai:<model>"`` is shorthand for ``make_fm("openai", model="<model>")`` and
  ``"openai:<model>+<mining model>"`` (the backend's ``name``) also sets ``mining_model``.

Any backend is wrapped in the persistent SQLite cache (:class:`genz.fm.cache.CachedFM`) when
``cache=<path>`` is given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import GenZInputError
from .base import FoundationModel

__all__ = ["make_fm", "BACKENDS", "fm_spec", "make_fm_from_spec", "read_fm_spec"]

BACKENDS = ("predicates", "openai", "noisy")


def make_fm(name: str, *, cache: str | Path | None = None, **options: Any) -> FoundationModel:
    """A foundation model from its backend name and options (see the module docstring)."""
    if not isinstance(name, str):
        raise GenZInputError(f"foundation model name must be a string, got {type(name).__name__}")
    backend, _, suffix = name.partition(":")
    backend = backend.strip().lower()
    try:
        if backend == "openai":
            from .openai_compat import OpenAIFM

            if suffix and "model" not in options:
                # "openai:<model>" or "openai:<model>+<mining model>" (OpenAIFM.name)
                model, plus, mining = suffix.partition("+")
                options["model"] = model
                if plus and mining and "mining_model" not in options:
                    options["mining_model"] = mining
            fm: Any = OpenAIFM(**options)
        elif backend == "noisy":
            from .noisy import noisy_from_spec

            fm = noisy_from_spec(suffix, make_fm, **options)
        elif backend == "predicates":
            if suffix:
                raise GenZInputError(f"foundation model {name!r}: 'predicates' takes no ':model'")
            from .predicates import PredicateFM

            fm = PredicateFM(**options)
        else:
            raise GenZInputError(f"unknown foundation model {name!r} (known: {', '.join(BACKENDS)})")
    except TypeError as exc:  # an option the backend does not take
        raise GenZInputError(f"foundation model {name!r}: {exc}") from None
    if cache is not None:
        from .cache import CachedFM

        fm = CachedFM(fm, cache)
    return fm


# ---------------------------------------------------------------------------------------------
# Where a model's FM lives: the spec saved with the model (issue 10, item 3)
# ---------------------------------------------------------------------------------------------
SPEC_FORMAT = "genz-fm-spec/1"
OPENAI_PUBLIC_URL = "https://api.openai.com/v1"
#: the overrides ``genz predict`` accepts (the FM options of ``genz fit``)
SPEC_OVERRIDES = ("model", "mining_model", "base_url", "api_key_env", "cache", "prompts_dir", "batch_size",
                  "concurrency", "timeout")


def fm_spec(fm: Any) -> dict[str, Any]:
    """What is needed to talk to ``fm`` again, as JSON: backend, model names, base URL
    (credentials, query and fragment removed), the environment variable that holds the key
    (its name, never the key), prompt template hashes, batch size, the cache file. Saved in
    ``model.json`` by :meth:`genz.GenZRegressor.save`, used by ``genz predict``."""
    from .cache import CachedFM

    cache = None
    inner = fm
    if isinstance(fm, CachedFM):
        cache, inner = str(Path(fm.cache.path).resolve()), fm.inner
    spec: dict[str, Any] = {"format": SPEC_FORMAT, "cache": cache}
    from .openai_compat import OpenAIFM, sanitize_url

    if isinstance(inner, OpenAIFM):
        spec.update({
            "backend": "openai", "model": inner.model, "mining_model": inner.mining_model,
            "base_url": sanitize_url(inner._base_url) if inner._base_url else None,
            "api_key_env": inner.api_key_env,
            "prompts": dict(inner.prompts.keys()),
            "prompts_dir": str(Path(inner.prompts_dir).resolve()) if inner.prompts_dir else None,
            "batch_size": inner.batch_size, "concurrency": inner.concurrency, "timeout": inner.timeout,
            "structured": inner.structured, "logprobs": inner.logprobs, "temperature": inner.temperature,
            "vision": inner.vision, "item_max_chars": inner.item_max_chars,
        })
        return spec
    name = str(getattr(inner, "name", type(inner).__name__))
    spec["backend"] = "predicates" if name == "predicates" or type(inner).__name__ == "PredicateFM" else name
    return spec


def _host(url: str | None) -> tuple[str, str, int | None]:
    from urllib.parse import urlsplit

    p = urlsplit(url or OPENAI_PUBLIC_URL)
    port = p.port or {"http": 80, "https": 443}.get(p.scheme or "", None)
    return (p.scheme or "").lower(), (p.hostname or "").lower(), port


_LOOPBACK = ("localhost", "127.0.0.1", "::1", "ip6-localhost")


def configured_hosts(override_url: str | None = None) -> list[tuple[str, str, int | None]]:
    """The FM hosts this user configured: this machine (loopback), OpenAI's public API,
    ``$OPENAI_BASE_URL`` and an explicit ``--base-url``."""
    out = [_host(OPENAI_PUBLIC_URL)]
    for url in (os.environ.get("OPENAI_BASE_URL"), override_url):
        if url:
            out.append(_host(url))
    return out


def _is_configured(url: str | None, override_url: str | None = None) -> bool:
    scheme, host, port = _host(url)
    if host in _LOOPBACK or host.startswith("127."):
        return True
    return (scheme, host, port) in configured_hosts(override_url)


def make_fm_from_spec(spec: dict[str, Any], overrides: dict[str, Any] | None = None, *,
                      allow_other_host: bool = False, no_cache: bool = False, rejudge: bool = False) -> FoundationModel:
    """The FM a saved ``spec`` (see :func:`fm_spec`) describes, with ``overrides`` (keys of
    :data:`SPEC_OVERRIDES`, None = keep). The environment's ``OPENAI_BASE_URL`` never redirects
    the items: they go to the host the model was trained with, and to another host only with
    ``allow_other_host``. A model directory is data, possibly from elsewhere: a host it names
    that the user did not configure (not this machine, not OpenAI's API, not
    ``$OPENAI_BASE_URL``, not ``base_url`` in ``overrides``) is refused, and with
    ``allow_other_host`` it gets the items but never the user's key. The judging prompt must be
    the one the model was trained with (its hash) unless ``overrides`` names a ``prompts_dir``.
    The cache refuses to pay again for judgments it holds under another FM unless ``rejudge``
    (:meth:`genz.fm.cache.CachedFM.refuse_other_identities`)."""
    from .openai_compat import sanitize_url

    if not isinstance(spec, dict) or "backend" not in spec:
        raise GenZInputError("the model's FM description (fm_spec in model.json) is missing or damaged")
    ov = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = set(ov) - set(SPEC_OVERRIDES)
    if unknown:
        raise GenZInputError(f"unknown FM override(s): {', '.join(sorted(unknown))}")
    cache = None if no_cache else ov.pop("cache", None)
    if cache is None and not no_cache and spec.get("cache") and Path(spec["cache"]).parent.is_dir():
        cache = spec["cache"]  # the training run's cache, where it still is
    backend = spec["backend"]
    if backend == "predicates":
        extra = sorted(set(ov) - {"cache"})
        if extra:
            raise GenZInputError(f"the model uses the offline predicate engine; {', '.join(extra)} do not apply")
        return make_fm("predicates", cache=cache)
    if backend != "openai":  # another backend: by its name, as before FM specs existed
        return make_fm(backend, cache=cache)
    trained_url = spec.get("base_url")
    override_url = ov.pop("base_url", None)
    url = override_url or trained_url or OPENAI_PUBLIC_URL
    send_key = True
    if override_url is not None:
        if _host(url) != _host(trained_url) and not allow_other_host:
            raise GenZInputError(
                f"the model was trained with the FM at {trained_url or OPENAI_PUBLIC_URL}; "
                f"{sanitize_url(url)} is another host. Pass --allow-other-host to send the items there"
            )
    elif not _is_configured(url):
        if not allow_other_host:
            raise GenZInputError(
                f"the model directory names the FM host {sanitize_url(url)}, which you have not configured (not this "
                f"machine, OpenAI or $OPENAI_BASE_URL): pass --base-url {sanitize_url(url)} to use it with your key, "
                "or --allow-other-host to send the items there without your key"
            )
        send_key = False  # items, yes (the user allowed it); the user's key, never
    opts: dict[str, Any] = {
        "model": spec.get("model"), "mining_model": spec.get("mining_model"), "base_url": url,
        "api_key_env": spec.get("api_key_env") or "OPENAI_API_KEY", "prompts_dir": spec.get("prompts_dir"),
        "batch_size": spec.get("batch_size", 10), "concurrency": spec.get("concurrency", 4),
        "timeout": spec.get("timeout", 120.0), "send_key": send_key,
    }
    for k in ("structured", "logprobs", "temperature", "vision", "item_max_chars"):
        if k in spec:
            opts[k] = spec[k]
    explicit_prompts = "prompts_dir" in ov
    opts.update(ov)
    if opts.get("prompts_dir") and not Path(opts["prompts_dir"]).is_dir() and not explicit_prompts:
        raise GenZInputError(f"the model was trained with the prompt templates in {opts['prompts_dir']}, which is "
                             "gone; pass --prompts-dir with those templates")
    fm: Any = make_fm("openai", cache=cache, **opts)
    inner = getattr(fm, "inner", fm)
    want = (spec.get("prompts") or {}).get("judge")
    have = inner.prompts.keys()["judge"]
    if want and have != want and not explicit_prompts:
        raise GenZInputError(
            f"the judging prompt differs from the one the model was trained with ({have} vs {want}); "
            "pass --prompts-dir with the training templates (or one you choose explicitly)"
        )
    if hasattr(fm, "guard_identity"):
        fm.guard_identity = not rejudge
    return fm


def read_fm_spec(model_dir: str | Path) -> dict[str, Any] | None:
    """The FM spec saved in ``model_dir/model.json`` (None for models saved without one)."""
    import json

    p = Path(model_dir) / "model.json"
    try:
        meta = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # the model loader reports damaged files
    spec = meta.get("fm_spec") if isinstance(meta, dict) else None
    return spec if isinstance(spec, dict) else None
