"""Foundation models by name: ``make_fm("openai", model="gpt-4o-mini", cache="fm.sqlite")``.

Names:

* ``"predicates"`` — the offline predicate engine (:class:`genz.fm.predicates.PredicateFM`).
* ``"openai"`` — any OpenAI-compatible server (:class:`genz.fm.openai_compat.OpenAIFM`);
  ``"openai:<model>"`` is shorthand for ``make_fm("openai", model="<model>")`` and
  ``"openai:<model>+<mining model>"`` (the backend's ``name``) also sets ``mining_model``.

Any backend is wrapped in the persistent SQLite cache (:class:`genz.fm.cache.CachedFM`) when
``cache=<path>`` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import GenZInputError
from .base import FoundationModel

__all__ = ["make_fm", "BACKENDS"]

BACKENDS = ("predicates", "openai")


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
