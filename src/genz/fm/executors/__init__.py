"""Executors: who answers the judging requests of :mod:`genz.fm.requests`.

* ``sync`` — today's thread pool of chat calls (:class:`genz.fm.openai_compat.OpenAIFM`).
* ``batch`` — the provider's Batch API through the official ``openai`` SDK
  (:class:`~genz.fm.executors.batch.BatchAPIExecutor`): submit, poll, collect; resumable.
* ``vllm`` — shards for ``vllm run-batch`` and ingestion of its output
  (:class:`~genz.fm.executors.vllm.VLLMExecutor`).
* ``ray`` — a Ray Data pipeline over the shards against OpenAI-compatible endpoints
  (:class:`~genz.fm.executors.ray.RayExecutor`; ``pip install genz[ray]``).
* Anthropic Message Batches (requests inline, no file upload) fit the same
  :class:`~genz.fm.executors.base.Executor` interface: an ``AnthropicBatchExecutor.run`` would
  translate each :class:`~genz.fm.requests.JudgeRequest` body into a ``params`` object, submit
  ``messages.batches.create(requests=[...])``, poll and write the results as OpenAI-style output
  lines for :func:`~genz.fm.requests.ingest`. Not built yet.

Every executor only fills the SQLite cache; :class:`~genz.fm.executors.base.ExecutorFM` is the
hook that makes a fit or predict judge through one: before a judging pass it runs the executor
on the requests the cache lacks, then answers from the cache.
"""

from .base import Executor, ExecutorFM, RunReport, fill_cache
from .lookup import EXECUTORS, make_executor

__all__ = ["EXECUTORS", "Executor", "ExecutorFM", "RunReport", "fill_cache", "make_executor"]
