"""A judging engine with known errors: any foundation model's judgments, made wrong on purpose.

GenZ treats a foundation model's yes/no answers as noisy observations of latent features with a
learned error rate ε_k (docs/equations.md §2, eq. 3-5 and 14). :class:`NoisyFM` wraps any
:class:`~genz.fm.base.FoundationModel` (the *inner* model, whose answers are taken as the truth)
and changes its judgments by an :class:`ErrorProfile` per descriptor, so that the error of every
judgment is known by construction: tests, benchmarks (``benchmarks/noise_model.py``) and users
who want to stress their setup can check what GenZ learns against it.

Error profiles (they combine: a judgment is wrong when any of them says so):

* ``flip=r`` — symmetric: each judgment is wrong with probability r;
* ``false_yes=r`` / ``false_no=r`` — asymmetric: a true "no" is answered "yes" (a yes-bias),
  or a true "yes" answered "no", with probability r;
* ``items=s`` — item-dependent: a fixed share s of the items (the same items for every
  descriptor with this profile, as an LLM that misreads ambiguous items) is always judged wrong;
* ``wrong_on=(attribute, values)`` — systematic: every item whose ``attribute`` is one of
  ``values`` is judged wrong (a model that calls every Arizona house "California");
* ``soft="calibrated"`` / ``"overconfident"`` — the answers come with P(yes). The random
  error then varies from judgment to judgment: judgment n is wrong with its own probability
  ``e_n = ½ u_n^a`` (u uniform, ``a = ½/flip − 1``, so the mean of e is ``flip``), and the
  engine reports ``P(yes) = 1 − e_n`` after a "yes" and ``e_n`` after a "no" — calibrated: among
  the answers reported with P(yes) = p, a share p is truly yes. Over-confident answers report
  ``sigmoid(γ · logit P)`` with ``γ = overconfidence`` (3 by default) instead.
  (Deterministic errors, ``items`` and ``wrong_on``, are reported as confidently as the rest:
  calibration holds for the random part only.)

Determinism: every random choice is a hash of (seed, the profile part, the descriptor, the
item's content hash) — not of the order of the items, the batch or the call, and not of the item
id, which a foundation model never sees: a judgment is a function of what the model is shown,
so the persistent cache (:class:`genz.fm.cache.CachedFM`) stores exactly what the engine says.
Mining, proposals and image descriptions go to the inner model unchanged: only judging is noisy.

By name (the registry and ``genz fit --fm``)::

    noisy:predicates?flip=0.1&seed=3
    noisy:predicates?false_yes=0.2
    noisy:predicates?items=0.1
    noisy:predicates?wrong_on=state:AZ|NM
    noisy:predicates?flip=0.2&soft=overconfident
    noisy:openai:gpt-4o-mini?flip=0.05

In Python, with a profile per descriptor (exact text or a glob pattern, first match wins; the
others get ``profile``)::

    from genz.fm.noisy import ErrorProfile, NoisyFM
    fm = NoisyFM(PredicateFM(), ErrorProfile(flip=0.1), seed=0,
                 features={'mentions "sea view"': ErrorProfile(false_yes=0.3)})
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import parse_qsl, quote

import numpy as np

from ..errors import GenZInputError
from ..items import Item
from .base import FMStats, FoundationModel, Judgments

__all__ = ["ErrorProfile", "NoisyFM", "noisy_from_spec", "parse_query", "SOFT_MODES"]

SOFT_MODES = ("calibrated", "overconfident")
#: what ``noisy:<inner>?key=value`` accepts, and the profile field each sets
_SPEC_KEYS = {"flip": "flip", "false_yes": "false_yes", "yes": "false_yes", "false_no": "false_no",
              "no": "false_no", "items": "items", "wrong_on": "wrong_on", "soft": "soft",
              "overconfidence": "overconfidence"}


@dataclass(frozen=True)
class ErrorProfile:
    """How a descriptor's judgments are made wrong (module docstring). Rates are in [0, 1)."""

    flip: float = 0.0
    false_yes: float = 0.0
    false_no: float = 0.0
    items: float = 0.0
    wrong_on: tuple[str, tuple[str, ...]] | None = None
    soft: str | None = None
    overconfidence: float = 3.0

    def __post_init__(self) -> None:
        for name in ("flip", "false_yes", "false_no", "items"):
            v = float(getattr(self, name))
            if not 0.0 <= v < 1.0:
                raise GenZInputError(f"noisy engine: {name} must be a rate in [0, 1), not {v}")
            object.__setattr__(self, name, v)
        if self.soft is not None and self.soft not in SOFT_MODES:
            raise GenZInputError(f"noisy engine: soft must be one of {', '.join(SOFT_MODES)}, not {self.soft!r}")
        if self.soft is not None and self.flip >= 0.5:
            raise GenZInputError("noisy engine: soft answers need flip below 0.5 (the mean error of a judgment)")
        if not float(self.overconfidence) >= 1.0:
            raise GenZInputError(f"noisy engine: overconfidence must be at least 1, not {self.overconfidence}")
        if self.wrong_on is not None:
            attr, values = self.wrong_on
            values = (values,) if isinstance(values, str) else tuple(values)
            if not str(attr) or not values:
                raise GenZInputError("noisy engine: wrong_on needs an attribute and at least one value")
            object.__setattr__(self, "wrong_on", (str(attr), tuple(str(v) for v in values)))

    @property
    def is_clean(self) -> bool:
        return not (self.flip or self.false_yes or self.false_no or self.items or self.wrong_on or self.soft)

    def error_rate(self, truth_yes: bool | np.ndarray, category: bool | np.ndarray = False) -> Any:
        """The probability that a judgment is wrong, for an item whose true answer is
        ``truth_yes`` and which is (or not) in the ``wrong_on`` category:
        ``1 − (1 − flip)(1 − items)(1 − false_no or false_yes)``, or 1 in the category."""
        t = np.asarray(truth_yes, dtype=bool)
        bias = np.where(t, self.false_no, self.false_yes)
        p = 1.0 - (1.0 - self.flip) * (1.0 - self.items) * (1.0 - bias)
        return np.where(np.asarray(category, dtype=bool), 1.0, p)

    def query(self) -> str:
        """The profile as ``key=value&...`` (the non-default fields), as :func:`noisy_from_spec` reads it."""
        parts = []
        for key in ("flip", "false_yes", "false_no", "items"):
            v = getattr(self, key)
            if v:
                parts.append(f"{key}={v:g}")
        if self.wrong_on is not None:
            parts.append("wrong_on=" + quote(f"{self.wrong_on[0]}:{'|'.join(self.wrong_on[1])}", safe=":|"))
        if self.soft is not None:
            parts.append(f"soft={self.soft}")
            if self.overconfidence != 3.0 and self.soft == "overconfident":
                parts.append(f"overconfidence={self.overconfidence:g}")
        return "&".join(parts)


def _uniform(seed: int, part: str, descriptor: str, keys: Sequence[str]) -> np.ndarray:
    """One uniform number in [0, 1) per key: blake2b of (seed, part, descriptor, key)."""
    head = f"{int(seed)}\x1f{part}\x1f{descriptor}\x1f".encode("utf-8")
    out = np.empty(len(keys))
    for i, k in enumerate(keys):
        h = hashlib.blake2b(head + k.encode("utf-8"), digest_size=8).digest()
        out[i] = int.from_bytes(h, "little") / 2.0**64
    return out


class NoisyFM:
    """A foundation model whose judgments are the inner model's, wrong by known profiles
    (module docstring). ``truth``, ``wrong`` and ``error_rates`` tell what the engine did."""

    def __init__(self, inner: FoundationModel, profile: ErrorProfile | None = None, *, seed: int = 0,
                 features: Mapping[str, ErrorProfile] | None = None) -> None:
        self.inner = inner
        self.profile = profile if profile is not None else ErrorProfile()
        self.seed = int(seed)
        self.features = dict(features or {})
        for pat, prof in self.features.items():
            if not isinstance(prof, ErrorProfile):
                raise GenZInputError(f"noisy engine: the profile of {pat!r} must be an ErrorProfile")
        self.max_exemplars = getattr(inner, "max_exemplars", 20)
        self._keys: dict[int, tuple[Item, str]] = {}
        q = self.profile.query()
        q = "&".join(p for p in (q, f"seed={self.seed}") if p)
        if self.features:
            blob = json.dumps({k: asdict(v) for k, v in self.features.items()}, sort_keys=True)
            q += "&features=" + hashlib.sha256(blob.encode()).hexdigest()[:12]
        self.name = f"noisy:{getattr(inner, 'name', type(inner).__name__)}?{q}"

    # -- what the wrapper forwards -----------------------------------------------------------------
    @property
    def stats(self) -> FMStats:
        return self.inner.stats

    @stats.setter
    def stats(self, value: FMStats) -> None:
        self.inner.stats = value

    def __getattr__(self, attr: str) -> Any:
        # optional parts of the protocol that do not judge (judging must go through judge();
        # a streaming ``judge_batches`` of the inner model would bypass the noise)
        if attr in ("free_judgments", "parts", "complexity", "mine_candidates", "refine", "locate", "describe_images", "model",
                    "batch_size"):
            return getattr(self.__dict__["inner"], attr)
        raise AttributeError(attr)

    @property
    def conjunctions(self) -> Any:  # the offline engine's switch (genz fit --no-conjunctions)
        return self.inner.conjunctions

    @conjunctions.setter
    def conjunctions(self, value: Any) -> None:
        if not hasattr(self.inner, "conjunctions"):
            raise AttributeError("conjunctions")
        self.inner.conjunctions = value

    def cache_identity(self, kind: str) -> tuple[str, str, str]:
        """Judgments are cached under this engine's own name (the profile and seed in it);
        mining and proposals, which the wrapper does not change, under the inner model's."""
        from .cache import cache_identity

        b, m, t = cache_identity(self.inner, kind)
        if kind != "judge":
            return b, m, t
        return f"noisy:{b}", f"{m}?{self.name.partition('?')[2]}", t

    def __repr__(self) -> str:
        return f"NoisyFM({self.inner!r}, {self.profile!r}, seed={self.seed})"

    # -- the engine ----------------------------------------------------------------------------------
    def profile_for(self, descriptor: str) -> ErrorProfile:
        """The profile of ``descriptor``: its own (exact text), the first glob pattern that
        matches it, else the default profile."""
        if descriptor in self.features:
            return self.features[descriptor]
        for pat, prof in self.features.items():
            if fnmatch.fnmatchcase(descriptor, pat):
                return prof
        return self.profile

    def _content_keys(self, items: Sequence[Item]) -> list[str]:
        out = []
        for it in items:
            hit = self._keys.get(id(it))
            if hit is None or hit[0] is not it:
                hit = (it, it.content_hash())
                self._keys[id(it)] = hit
            out.append(hit[1])
        return out

    def truth(self, descriptor: str, items: Sequence[Item]) -> Judgments:
        """The inner model's judgments: what this engine takes as the truth."""
        return self.inner.judge(descriptor, items)

    def in_category(self, descriptor: str, items: Sequence[Item]) -> np.ndarray:
        """Which items the profile's ``wrong_on`` category covers."""
        prof = self.profile_for(descriptor)
        if prof.wrong_on is None:
            return np.zeros(len(items), dtype=bool)
        attr, values = prof.wrong_on
        vals = set(values)
        return np.array([_as_text(it.attributes.get(attr)) in vals for it in items], dtype=bool)

    def _errors(self, descriptor: str, items: Sequence[Item], truth: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(wrong, e): which judgments are wrong, and each judgment's error probability where
        the answers are soft (None otherwise)."""
        prof = self.profile_for(descriptor)
        n = len(items)
        wrong = np.zeros(n, dtype=bool)
        e = None
        if prof.is_clean or n == 0:
            return wrong, e
        keys = self._content_keys(items)
        if prof.soft is not None:
            a = 0.5 / prof.flip - 1.0 if prof.flip > 0 else np.inf
            u = _uniform(self.seed, "difficulty", descriptor, keys)
            e = 0.5 * u ** a if np.isfinite(a) else np.zeros(n)
            wrong |= _uniform(self.seed, "flip", descriptor, keys) < e
        elif prof.flip:
            wrong |= _uniform(self.seed, "flip", descriptor, keys) < prof.flip
        if prof.false_yes or prof.false_no:
            rate = np.where(truth, prof.false_no, prof.false_yes)
            wrong |= _uniform(self.seed, "bias", descriptor, keys) < rate
        if prof.items:
            wrong |= _uniform(self.seed, "items", "", keys) < prof.items
        if prof.wrong_on is not None:
            wrong |= self.in_category(descriptor, items)
        return wrong, e

    def wrong(self, descriptor: str, items: Sequence[Item]) -> np.ndarray:
        """Which of the engine's judgments of ``descriptor`` are wrong (against :meth:`truth`)."""
        t = self.truth(descriptor, items).values
        return self._errors(descriptor, items, t)[0]

    def error_rates(self, descriptor: str, items: Sequence[Item]) -> dict[str, float]:
        """The engine's realised error on ``items``: the share of wrong judgments, among the
        true "yes" and among the true "no"."""
        t = self.truth(descriptor, items).values
        w = self._errors(descriptor, items, t)[0]
        return {"error": float(w.mean()) if len(w) else 0.0,
                "false_no": float(w[t].mean()) if t.any() else 0.0,
                "false_yes": float(w[~t].mean()) if (~t).any() else 0.0}

    def judge(self, descriptor: str, items: Sequence[Item]) -> Judgments:
        """The inner model's judgments with this descriptor's errors (module docstring)."""
        j = self.inner.judge(descriptor, items)
        truth = np.asarray(j.values, dtype=bool)
        wrong, e = self._errors(descriptor, items, truth)
        said = truth ^ wrong
        prof = self.profile_for(descriptor)
        if prof.soft is None:
            # the inner model's P(yes), if any, follows its answer: confidently wrong
            return Judgments(values=said, prob=None if j.prob is None else np.where(wrong, 1.0 - j.prob, j.prob))
        conf = np.clip(1.0 - e, 0.5, 1.0)  # P(the answer given is right), as reported
        if prof.soft == "overconfident":
            lo = np.log(np.maximum(conf, 1e-12)) - np.log(np.maximum(1.0 - conf, 1e-12))
            conf = 1.0 / (1.0 + np.exp(-prof.overconfidence * lo))
        return Judgments(values=said, prob=np.where(said, conf, 1.0 - conf))

    # -- not noisy -------------------------------------------------------------------------------------
    def mine(self, positives: Sequence[Item], negatives: Sequence[Item], *, exclude: Collection[str] = (),
             context: str | None = None, **kw: Any) -> str:
        return self.inner.mine(positives, negatives, exclude=exclude, context=context, **kw)

    def propose(self, task: str, sample_items: Sequence[Item], n: int = 50) -> list[str]:
        return self.inner.propose(task, sample_items, n)


def _as_text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def noisy_from_spec(spec: str, make_inner: Callable[..., Any], **options: Any) -> NoisyFM:
    """``<inner name>?key=value&...`` → a :class:`NoisyFM` around ``make_inner(<inner name>, **options)``
    (``genz.fm.registry.make_fm``, passed in so that this module does not import the registry that
    imports it; module docstring; keys: flip, false_yes (yes), false_no (no), items, wrong_on
    (``attribute:value|value``), soft, overconfidence, seed)."""
    inner_name, _, query = spec.partition("?")
    if not inner_name.strip():
        raise GenZInputError("noisy engine: name the model to wrap, e.g. noisy:predicates?flip=0.1")
    if inner_name.strip().lower().startswith("noisy"):
        raise GenZInputError("noisy engine: wrap a real engine (noisy:predicates?...), not another noisy one")
    profile, seed = parse_query(query)
    return NoisyFM(make_inner(inner_name.strip(), **options), profile, seed=seed)


def parse_query(query: str) -> tuple[ErrorProfile, int]:
    """``flip=0.1&seed=3`` → (the profile, the seed); one-line errors for unknown keys and bad values."""
    fields_: dict[str, Any] = {}
    seed = 0
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        key = key.strip().lower()
        if key == "seed":
            try:
                seed = int(value)
            except ValueError:
                raise GenZInputError(f"noisy engine: seed must be a whole number, not {value!r}") from None
            continue
        if key not in _SPEC_KEYS:
            raise GenZInputError(f"noisy engine: unknown setting {key!r} (known: seed, {', '.join(sorted(_SPEC_KEYS))})")
        name = _SPEC_KEYS[key]
        if name == "wrong_on":
            attr, colon, vals = value.partition(":")
            if not colon or not attr or not vals:
                raise GenZInputError(f"noisy engine: wrong_on must be attribute:value[|value...], not {value!r}")
            fields_[name] = (attr, tuple(v for v in vals.split("|") if v))
        elif name == "soft":
            fields_[name] = value
        else:
            try:
                fields_[name] = float(value)
            except ValueError:
                raise GenZInputError(f"noisy engine: {key} must be a number, not {value!r}") from None
    return ErrorProfile(**fields_), seed
