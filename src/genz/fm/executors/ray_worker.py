"""The Ray Data pipeline of :class:`~genz.fm.executors.ray.RayExecutor`, run in a child process.

    python -m genz.fm.executors.ray_worker CONFIG.json

The child (started under the supervisor of :mod:`~genz.fm.executors.children`, so Ray's
daemons and workers live and die in its process group) starts Ray, builds a dataset of the
request shards' lines (each with its manifest entry) and maps them with a pool of callers
(one actor per endpoint slot). A caller posts each line's ``body`` to ``/chat/completions`` of
one of the ``endpoints`` (chosen by the custom_id's hash), and **stores the answer in the FM
cache at once** (validated, :class:`~genz.fm.ingest.Ingestor`), so an answer that arrived is
kept whatever happens next; it returns an OpenAI batch output line. The driver writes the
lines to ``output`` and prints one JSON line per progress event and a summary on stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
import zlib
from typing import Any

__all__ = ["call_endpoint", "main"]


def call_endpoint(url: str, body: dict[str, Any], key: str | None, timeout: float) -> dict[str, Any]:
    """One chat-completions POST; ``{"status_code", "body"}`` (errors as their status)."""
    req = urllib.request.Request(url.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return {"status_code": r.status, "body": json.loads(r.read() or b"null")}
    except urllib.error.HTTPError as exc:
        try:
            payload = json.loads(exc.read() or b"null")
        except json.JSONDecodeError:
            payload = None
        return {"status_code": exc.code, "body": payload}


class _Caller:
    """A Ray Data UDF: request rows in, batch output lines out, each answer cached on arrival."""

    def __init__(self, endpoints: list[str], key_env: str | None, timeout: float, cache: str,
                 accept_models: list[str]) -> None:
        from genz.fm.cache_store import FMCache
        from genz.fm.secrets import register_secret

        self.endpoints = endpoints
        self.key = os.environ.get(key_env) if key_env else None
        register_secret(self.key)
        self.timeout = timeout
        self.cache = FMCache(cache)
        self.accept = accept_models

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        from genz.fm.ingest import Ingestor
        from genz.fm.secrets import redact

        out, ok, kept = [], [], []
        for line, man in zip(batch["line"], batch["man"]):
            req, m = json.loads(line), json.loads(man)
            cid = req["custom_id"]
            url = self.endpoints[zlib.crc32(cid.encode()) % len(self.endpoints)]
            try:
                resp = call_endpoint(url, req["body"], self.key, self.timeout)
                err = None if resp["status_code"] == 200 else {"code": str(resp["status_code"]),
                                                                 "message": "endpoint error"}
            except (OSError, ValueError) as exc:  # connection refused, timeout, bad JSON
                resp, err = None, {"code": "connection_error", "message": redact(str(exc))[:200]}
            text = json.dumps({"id": f"ray-{cid}", "custom_id": cid, "response": resp, "error": err})
            ing = Ingestor(self.cache, {cid: (tuple(m["identity"]), m["descriptor"], "".join(m["hashes"]),
                                              len(m["hashes"]))}, accept_models=self.accept)
            ing.feed(text)
            r = ing.finish()
            out.append(text)
            ok.append(r.answered)
            kept.append(json.dumps([r.judgments, r.prompt_tokens, r.completion_tokens]))
        return {"line": out, "ok": ok, "kept": kept}


def _rows(shards: list[list[str]]) -> list[dict[str, str]]:
    rows = []
    for path, manifest in shards:
        with open(path, encoding="utf-8") as fh, open(manifest, encoding="utf-8") as mh:
            for line, man in zip(fh, mh):
                if line.strip():
                    rows.append({"line": line.strip(), "man": man.strip()})
    return rows


def main(config_path: str) -> int:
    import ray

    cfg = json.loads(open(config_path, encoding="utf-8").read())
    if os.environ.get("RAY_ADDRESS"):  # a running cluster: join it (its processes are not ours to stop)
        ray.init(log_to_driver=False, ignore_reinit_error=True)
    else:
        ray.init(num_cpus=cfg["num_cpus"], include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    ds = ray.data.from_items(_rows(cfg["shards"]))
    ds = ds.map_batches(_Caller, fn_constructor_args=(cfg["endpoints"], cfg["api_key_env"], cfg["timeout"],
                                                      cfg["cache"], cfg.get("accept_models", [])),
                        batch_size=cfg["batch_size"], concurrency=cfg["concurrency"], num_cpus=0.5)
    t0 = time.perf_counter()
    rows = answered = judgments = pt = ct = 0
    part = cfg["output"] + ".part"
    with open(part, "w", encoding="utf-8") as fh:
        for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
            for line in batch["line"]:
                fh.write(str(line) + "\n")
            fh.flush()
            rows += len(batch["line"])
            answered += int(sum(int(x) for x in batch["ok"]))
            for k in batch["kept"]:
                j, p, c = json.loads(str(k))
                judgments, pt, ct = judgments + j, pt + p, ct + c
            rate = rows / max(time.perf_counter() - t0, 1e-9)
            print(json.dumps({"rows": rows, "rows_per_s": rate}), flush=True)
    os.replace(part, cfg["output"])
    print(json.dumps({"done": True, "rows": rows, "answered": answered, "judgments": judgments,
                      "prompt_tokens": pt, "completion_tokens": ct}), flush=True)
    ray.shutdown()
    return 0


if __name__ == "__main__":  # the UDF must be pickled by reference to its importable module
    from genz.fm.executors.ray_worker import main as _main

    sys.exit(_main(sys.argv[1]))
