"""A foundation model behind any OpenAI-compatible chat-completions server.

Works with OpenAI itself and with vLLM, Ollama, llama.cpp's server, LM Studio: anything that
speaks ``POST /v1/chat/completions``. Built on the official ``openai`` SDK. The backend is
three rooms:

* :mod:`genz.fm.transport` — HTTP: the client, what the server accepts, retries (429 with a
  capped ``Retry-After``, 408/409/5xx, timeouts, a retry-time budget), cost in ``stats``;
* :mod:`genz.fm.answers` — the JSON schemas asked for and the validation of what comes back;
* this module and :mod:`genz.fm.judging` — the judging and mining API.

* **Judging** (paper Fig. 1): items go in numbered batches of ``batch_size``; each batch is one
  request answered as JSON ``{"answers": {"1": "yes", ...}}``. Batches run concurrently
  (``concurrency`` threads). Every answer is validated: exactly the batch's ids, one yes/no
  each. A malformed, partial, refused or cut-off answer is retried (``parse_retries``), then
  the batch is split in halves, down to one item per call; an item that still gets no valid
  answer raises :class:`~genz.errors.FMError`. Nothing is guessed. ``isolation="canary"``
  checks every batch with canary items (:mod:`genz.fm.judging`).
* **Soft judgments**: where the server returns token log-probabilities, P(yes) for each item is
  read from the top log-probabilities of its yes/no token (``Judgments.prob``).
* **Mining** (Fig. 2) and **zero-shot proposal** use the ``mining_model`` (default: ``model``).
* **Secrets**: the API key is read from ``api_key`` or the environment variable named by
  ``api_key_env``; it is never part of ``name``, ``repr``, pickles or error messages
  (:mod:`genz.fm.secrets`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import FMError, GenZInputError, MiningError
from ..items import Item
from . import judging
from .answers import (DESCRIBE_SCHEMA, MINE_SCHEMA, PROPOSE_SCHEMA, ParseFailure, answer_json, classify,
                      first_token_prob, judge_schema, mine_feedback, mined_answers, norm_descr,
                      parse_judge_completion)
from .base import FMStats, Judgments
from .images import image_data_url, image_parts
from .pricing import price_for
from .prompts import (PromptSet, check_descriptor, check_encodable, descriptor_problem, numbered_items,
                      quote_descriptor, quote_item)
from .secrets import redact_secret, sanitize_url, url_secrets
from .transport import CAPS_SEEN, REASONING, RETRY_BUDGET, ChatTransport, Completion, RetryPolicy, chat_body, shorten
from .validate import DescriptorValidator, Rejection

__all__ = ["OpenAIFM", "DEFAULT_MODEL", "JUDGE_MODES", "redact_secret", "sanitize_url", "url_secrets",
           "image_data_url"]

log = logging.getLogger("genz.fm")

DEFAULT_MODEL = "gpt-4o-mini"
_VISION = re.compile(
    r"gpt-4o|gpt-4\.1|gpt-5|gpt-4-turbo|^o[34]|vision|llava|bakllava|-vl\b|-vl-|pixtral|gemma-?3|"
    r"moondream|minicpm-v|qwen2(\.5)?-vl|llama-?3\.2.*vision|idefics|smolvlm",
    re.IGNORECASE,
)
# names of genz < 0.9, kept for code that imported them from here
_CAPS_SEEN = CAPS_SEEN
_REASONING = REASONING
_ParseFailure = ParseFailure
_Completion = Completion
_first_token_prob = first_token_prob

#: judging modes: numbered batches answered as JSON, or one item per request answered with a
#: single yes/no token read with its log-probabilities (``--judge-mode``)
JUDGE_MODES = ("batch", "single")
#: consecutive unusable answers (not JSON, not a chat completion) after which a pass stops
GARBAGE_LIMIT = 6


class OpenAIFM:
    """The foundation-model protocol (:class:`genz.fm.base.FoundationModel`) over an
    OpenAI-compatible server. See the module docstring for the behaviour; arguments:

    model / mining_model: chat models for judging and for mining + proposal (env
        ``GENZ_FM_MODEL``, ``GENZ_MINING_MODEL``; default ``gpt-4o-mini``).
    base_url: server URL, e.g. ``http://127.0.0.1:8080/v1`` (env ``OPENAI_BASE_URL``;
        default OpenAI's).
    api_key / api_key_env: the key, or the environment variable holding it (default
        ``OPENAI_API_KEY``). Local servers need none. ``send_key=False``: never send it
        (a host the user did not configure, ``genz predict --allow-other-host``).
    batch_size: items per judging request. concurrency: requests in flight.
    retry_budget: seconds one request may spend on failed attempts and waits (429, 5xx,
        timeouts) before it fails; ``max_retries`` optionally caps the retries as well.
    structured: ``"auto"`` (JSON schema, falling back when the server rejects it),
        ``"json_schema"``, ``"json_object"`` or ``"none"`` (instructions only).
    logprobs: request token log-probabilities for soft judgments.
    vision: send item images to the model (None: guess from the model name).
    judge_mode: ``"batch"`` (numbered items, JSON answer) or ``"single"`` (one item per request,
        a one-token yes/no with log-probabilities; the instructions and descriptor form a
        common prompt prefix that llama.cpp's and vLLM's prefix caches reuse).
    isolation: ``"none"`` or ``"canary"`` (batches checked with canary items; see
        :mod:`genz.fm.judging`), ``canaries`` per batch.
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
        send_key: bool = True,
        prompts_dir: str | Path | None = None,
        batch_size: int = 10,
        concurrency: int = 4,
        timeout: float = 120.0,
        max_retries: int | None = None,
        retry_budget: float = RETRY_BUDGET,
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
        isolation: str = "none",
        canaries: int = 2,
        validator: DescriptorValidator | None = None,
    ) -> None:
        self.model = model or os.environ.get("GENZ_FM_MODEL") or DEFAULT_MODEL
        self.mining_model = mining_model or os.environ.get("GENZ_MINING_MODEL") or self.model
        base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        if batch_size < 1:
            raise GenZInputError(f"batch_size must be >= 1, got {batch_size}")
        if concurrency < 1:
            raise GenZInputError(f"concurrency must be >= 1, got {concurrency}")
        if structured not in ("auto", "json_schema", "json_object", "none"):
            raise GenZInputError(f"structured must be auto, json_schema, json_object or none, not {structured!r}")
        if judge_mode not in JUDGE_MODES:
            raise GenZInputError(f"judge_mode must be one of {', '.join(JUDGE_MODES)}, not {judge_mode!r}")
        if isolation not in judging.ISOLATION_MODES:
            raise GenZInputError(f"isolation must be one of {', '.join(judging.ISOLATION_MODES)}, not {isolation!r}")
        if retry_budget < 0:
            raise GenZInputError(f"retry_budget must be >= 0 seconds, got {retry_budget}")
        self.transport = ChatTransport(
            base_url, api_key=api_key, api_key_env=api_key_env, timeout=timeout, structured=structured,
            logprobs=logprobs, sleep=sleep, send_key=send_key,
            retry=RetryPolicy(backoff_base=float(backoff_base), backoff_max=float(backoff_max),
                              budget=float(retry_budget), max_retries=None if max_retries is None else int(max_retries)))
        self.judge_mode = judge_mode
        self.isolation = isolation
        self.canaries = max(1, int(canaries))
        self.validator = validator or DescriptorValidator()
        self.batch_size = int(batch_size)
        self.concurrency = int(concurrency)
        self.parse_retries = int(parse_retries)
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
        self.interrupt_grace = float(interrupt_grace)
        self._garbage_lock = threading.Lock()
        self._garbage_streak = 0
        self._warned_images = False
        self.last_confidence: float | None = None

    # ------------------------------------------------------------------ settings held by the transport
    @property
    def base_url(self) -> str | None:
        """The server URL without credentials (for messages and the model's FM spec)."""
        return self.transport.base_url

    @property
    def _base_url(self) -> str | None:
        return self.transport._base_url

    @property
    def api_key_env(self) -> str:
        return self.transport.api_key_env

    @property
    def timeout(self) -> float:
        return self.transport.timeout

    @property
    def structured(self) -> str:
        return self.transport.structured

    @property
    def logprobs(self) -> bool:
        return self.transport.logprobs

    @property
    def max_retries(self) -> int | None:
        return self.transport.retry.max_retries

    @property
    def retry_budget(self) -> float:
        return self.transport.retry.budget

    @property
    def client(self) -> Any:
        return self.transport.client

    # ------------------------------------------------------------------ identity & secrets
    def __repr__(self) -> str:
        mm = f", mining_model={self.mining_model!r}" if self.mining_model != self.model else ""
        url = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"OpenAIFM(model={self.model!r}{mm}{url}, batch_size={self.batch_size})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()  # the transport pickles itself without key or client
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
        return self.transport.redact(text)

    def _where(self) -> str:
        return self.transport.where()

    def _vision_for(self, model: str) -> bool:
        if self.vision is not None:
            return bool(self.vision)
        return bool(_VISION.search(model))

    def cancellable(self, cancel: threading.Event) -> Any:
        """Inside the block, requests made by this thread stop once ``cancel`` is set (see
        :meth:`genz.fm.transport.ChatTransport.cancellable`)."""
        return self.transport.cancellable(cancel)

    # ------------------------------------------------------------------ requests
    def _request(self, kind: str, model: str, system: str, user: str | list[dict[str, Any]], schema_name: str,
                 schema: dict[str, Any] | None, max_tokens: int, want_logprobs: bool = False) -> Completion:
        return self.transport.request(
            kind, model, system, user, schema_name, schema, max_tokens, stats=self.stats,
            prices=self.prices if model == self.model else self.mining_prices, temperature=self.temperature,
            top_logprobs=self.top_logprobs, want_logprobs=want_logprobs)

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

    # ------------------------------------------------------------------ prompts
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
        return [{"type": "text", "text": user}, *image_parts(labelled)]

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
        return chat_body(self.model, self.transport.caps_for(self.model), system, content, "judgments",
                         judge_schema(n), 32 + 12 * n, temperature=self.temperature,
                         top_logprobs=self.top_logprobs, want_logprobs=True)

    # ------------------------------------------------------------------ judging
    def _judge_once(self, descriptor: str, batch: Sequence[Item]) -> tuple[dict[int, bool], np.ndarray | None]:
        """One judging request for ``batch``: ``({k: answer}, P(yes) per position or None)`` for
        the item numbers ``k`` (1-based) that got a valid answer (see
        :func:`genz.fm.answers.parse_judge_completion`), so that only the missing items are asked
        again."""
        n = len(batch)
        system, content = self._judge_prompt(descriptor, batch)
        comp = self._request("judge", self.model, system, content, "judgments", judge_schema(n),
                             max_tokens=32 + 12 * n, want_logprobs=True)
        values, probs = parse_judge_completion(comp, n)
        self._usable()
        return values, probs

    parse_judge_completion = staticmethod(parse_judge_completion)

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
            raise ParseFailure(f"the model refused: {comp.refusal[:200]!r}")
        if comp.finish_reason == "content_filter":
            raise ParseFailure("the answer was blocked by the server's content filter")
        said = classify((comp.content or "").strip().split(" ")[0] if comp.content else None)
        p = first_token_prob(comp.logprobs)
        if p is not None:
            return bool(p > 0.5) if p != 0.5 else said == "yes", p
        if said is None:
            raise ParseFailure(f"the answer {str(comp.content)[:40]!r} is not yes or no")
        return said == "yes", None

    def judge_batches(
        self,
        descriptor: str,
        items: Sequence[Item],
        on_result: Callable[[list[int], np.ndarray, np.ndarray | None], None],
    ) -> None:
        """Judge ``items``, calling ``on_result(positions, values, probs)`` as each request
        returns (from the worker thread that made it, one call at a time), so a cache stores
        every answer the moment it arrives. Rounds, interruption and isolation: see
        :mod:`genz.fm.judging`."""
        if not isinstance(descriptor, str) or not descriptor.strip():
            raise GenZInputError("judge: the descriptor is empty")
        check_descriptor(descriptor)
        check_encodable(items)
        if self.judge_mode == "single":
            return judging.judge_single_items(self, descriptor, items, on_result)
        return judging.judge_batches(self, descriptor, items, on_result)

    def judge_single_items(self, descriptor: str, items: Sequence[Item],
                           on_result: Callable[[list[int], np.ndarray, np.ndarray | None], None]) -> None:
        """One request per item (``judge_mode="single"``); see :mod:`genz.fm.judging`."""
        return judging.judge_single_items(self, descriptor, items, on_result)

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
                prompt = user + mine_feedback(rejected, why, accepted, want)
            comp = self._request("mine", self.mining_model, system,
                                 self._user_content(prompt, labelled, self.mining_model),
                                 "characteristic", MINE_SCHEMA, max_tokens=60 * want + 60)
            try:
                obj = answer_json(comp)
                answers = mined_answers(obj)
            except ParseFailure as exc:
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
                obj = answer_json(comp)
                qs = obj.get("questions") if isinstance(obj, dict) else obj
                if not isinstance(qs, list):
                    raise ParseFailure(f"no 'questions' list in {comp.content[:80]!r}")
                out: list[str] = []
                seen: set[str] = set()
                for q in qs:
                    if isinstance(q, str) and descriptor_problem(" ".join(q.split())) is None \
                            and norm_descr(q) not in seen:
                        seen.add(norm_descr(q))
                        out.append(" ".join(q.split()))
                if not out:
                    raise ParseFailure("no usable questions")
                return out[:n]
            except ParseFailure as exc:
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
                obj = answer_json(comp)
                d = obj.get("description") if isinstance(obj, dict) else None
                if not isinstance(d, str) or not d.strip():
                    raise ParseFailure("no 'description' string")
                return " ".join(d.split())
            except ParseFailure as exc:
                why = str(exc)
        raise FMError(f"describe-images with {self.model}: no usable description for item {item.id!r}: {self._redact(why)}")


