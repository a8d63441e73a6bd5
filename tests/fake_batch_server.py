"""A scripted OpenAI Batch API server for tests (127.0.0.1, a free port, no internet).

Speaks ``POST /v1/chat/completions`` (answers like :class:`tests.fake_openai_server.
FakeOpenAIServer`), ``/v1/files`` (upload as multipart, ``GET /v1/files/{id}``,
``GET /v1/files/{id}/content``) and ``/v1/batches`` (create, retrieve, list, cancel). A batch
runs its lines against the same chat answerer and writes an output file (successes, in
shuffled order) and an error file. Scripting:

* ``hold = True``: batches stay ``in_progress`` until :meth:`release` (for kill -9 tests);
* ``fail_next(k)``: in the next batch created, every ``k``-th request fails (half in the error
  file with ``server_error``, half as HTTP 500 lines in the output file): a partly failed batch;
* ``expire_next(fraction, times=1)``: the next (``times``) batch(es) expire after answering ``fraction`` of its lines;
  the rest go to the error file with code ``batch_expired``;
* ``fail_batch_next(times=1)``: the next (``times``) batch(es) fail as a whole (``status: failed``, ``errors``, no
  output), as a batch whose input the provider refuses;
* ``reset_after_create(k)``: the next ``k`` ``batches.create`` calls create the batch, then drop
  the connection without an answer (a reset after the provider acted);
* ``duplicate_next(every)``: the next batch's output repeats every ``every``-th line with the
  opposite answers, the wrong line first (conflicting duplicate custom_ids);
* ``answer_model`` (a model name, or None): batches answer as that model (another model's
  answers); ``forget(batch_id)``: the server no longer knows a batch (HTTP 404);
* ``echo_auth``: every error the server sends (404s included) quotes the request's
  ``Authorization`` header, as some proxies do; ``fail_route(method, prefix, code, times)``
  answers the next ``times`` matching requests with that HTTP error (echoing the header).

Everything received is logged in ``log`` (method, path) and every custom_id of every created
batch in ``submitted`` (so a test can prove that nothing was submitted twice); ``paid`` counts
the requests the server answered successfully (chat requests and batch lines: what a provider
bills), ``paid_ids`` the custom_ids of the batch lines among them.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from email.parser import BytesParser
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.fake_openai_server import FakeOpenAIServer, default_truth


class FakeBatchServer:
    """See the module docstring."""

    _base_content = FakeOpenAIServer.correct_content
    completion = FakeOpenAIServer.completion
    user_text = staticmethod(FakeOpenAIServer.user_text)
    descriptor_of = FakeOpenAIServer.descriptor_of
    obey = False

    def __init__(self, seed: int = 0, with_logprobs: bool = True) -> None:
        self.truth = default_truth
        self.refuse = lambda text: False
        self.mine_words = ["seven", "three", "five", "nine", "two"]
        self.questions = ["is it even", "is it large", "has a seven"]
        self.with_logprobs = with_logprobs
        self.with_usage = True
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.log: list[tuple[str, str]] = []
        self.submitted: list[str] = []  # custom_ids of every created batch, in order
        self.chat_requests = 0
        self.hold = False
        self._fail_every: int | None = None
        self._expire: float | None = None
        self._fail_batch = False
        self._expire_times = 0
        self._fail_times = 0
        self._reset_creates = 0
        self._duplicate_every: int | None = None
        self.answer_model: str | None = None
        self.echo_auth = False
        self._route_failures: list[list] = []  # [method, prefix, code, times left]
        self.paid = 0
        self.paid_ids: list[str] = []
        self.auth: set = set()  # Authorization headers received
        self.created = 0  # batches created (a request refused before creating one does not count)
        self._n = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, data: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _json(self, code: int, obj: Any) -> None:
                self._send(code, json.dumps(obj).encode())

            def _route(self, method: str) -> None:
                path = self.path.split("?", 1)[0].rstrip("/")
                length = int(self.headers.get("Content-Length", 0) or 0)
                raw = self.rfile.read(length) if length else b""
                with server.lock:
                    server.log.append((method, path))
                    server.auth.add(self.headers.get("Authorization"))
                    scripted = server._scripted_failure(method, path)
                echo = f" (request headers: Authorization: {self.headers.get('Authorization')})" \
                    if server.echo_auth else ""
                if scripted is not None:
                    self._json(scripted, {"error": {"message": f"scripted error{echo}", "type": "server_error"}})
                    return
                try:
                    code, obj = server.dispatch(method, path, raw, self.headers.get("Content-Type", ""))
                except KeyError:
                    code, obj = 404, {"error": {"message": f"no such object: {path}{echo}",
                                                "type": "invalid_request_error"}}
                if code == "reset":  # the server acted, then the connection dropped: no answer
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if code >= 400 and echo and isinstance(obj, dict):
                    obj = {"error": {**obj.get("error", {}), "message": str(obj.get("error", {}).get("message")) + echo}}
                if isinstance(obj, bytes):
                    self._send(code, obj, "application/octet-stream")
                else:
                    self._json(code, obj)

            def do_GET(self) -> None:  # noqa: N802
                self._route("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._route("POST")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def correct_content(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        """Like the chat server; mining answers "contains <word>" with the first of
        ``mine_words`` that the prompt does not list as already used (so a rerun mines the same
        characteristics in the same order)."""
        user = self.user_text(body)
        if "<positive_group>" in user:
            for w in self.mine_words:
                if f'"contains {w}"' not in user:
                    return json.dumps({"characteristic": f"contains {w}", "confidence": 0.8}), None
            return json.dumps({"characteristic": "none", "confidence": 0.0}), None
        return self._base_content(body)

    # ------------------------------------------------------------------ control
    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def release(self) -> None:
        self.hold = False

    def fail_next(self, every: int) -> None:
        self._fail_every = every

    def expire_next(self, fraction: float, times: int = 1) -> None:
        self._expire = fraction
        self._expire_times = times

    def fail_batch_next(self, times: int = 1) -> None:
        self._fail_batch = True
        self._fail_times = times

    def settle(self) -> None:
        """Run every batch still open to its end, as the provider does whether or not anyone
        polls (so ``paid`` counts what a provider would bill)."""
        with self.lock:
            for b in self.batches.values():
                for _ in range(3):
                    if b["status"] in ("completed", "failed", "expired", "cancelled"):
                        break
                    hold, self.hold = self.hold, False
                    self._advance(b)
                    self.hold = hold

    def reset_after_create(self, k: int = 1) -> None:
        self._reset_creates = k

    def duplicate_next(self, every: int = 1) -> None:
        self._duplicate_every = every

    def forget(self, batch_id: str) -> None:
        with self.lock:
            self.batches.pop(batch_id, None)

    def fail_route(self, method: str, prefix: str, code: int, times: int = 1) -> None:
        self._route_failures.append([method, prefix, code, times])

    def _scripted_failure(self, method: str, path: str) -> int | None:
        for f in self._route_failures:
            if f[0] == method and path.startswith(f[1]) and f[3] > 0:
                f[3] -= 1
                return int(f[2])
        return None

    def count(self, method: str, path_prefix: str) -> int:
        return sum(1 for m, p in self.log if m == method and p.startswith(path_prefix))

    @property
    def n_batches_created(self) -> int:
        return self.created

    def submitted_twice(self) -> list[str]:
        return [c for c, k in Counter(self.submitted).items() if k > 1]

    # ------------------------------------------------------------------ HTTP
    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self._n:06d}"

    def dispatch(self, method: str, path: str, raw: bytes, ctype: str) -> tuple[int, Any]:
        if method == "POST" and path.endswith("/chat/completions"):
            body = json.loads(raw or b"{}")
            with self.lock:
                self.chat_requests += 1
            content, refusal = self.correct_content(body)
            with self.lock:
                self.paid += 1
            return 200, self.completion(body, content, refusal=refusal)
        if method == "GET" and path.endswith("/models"):
            return 200, {"object": "list", "data": [{"id": "fake", "object": "model"}]}
        if method == "POST" and path == "/v1/files":
            return 200, self._upload(raw, ctype)
        if method == "GET" and path.startswith("/v1/files/"):
            rest = path[len("/v1/files/"):]
            if rest.endswith("/content"):
                return 200, self.files[rest[: -len("/content")]]["data"]
            return 200, self.files[rest]["meta"]
        if method == "POST" and path == "/v1/batches":
            b = self._create(json.loads(raw or b"{}"))
            with self.lock:
                if self._reset_creates > 0:
                    self._reset_creates -= 1
                    return "reset", None  # type: ignore[return-value]
            return 200, b
        if method == "GET" and path == "/v1/files":
            with self.lock:
                data = [f["meta"] for f in self.files.values()]
            return 200, {"object": "list", "data": data, "has_more": False}
        if method == "GET" and path == "/v1/batches":
            with self.lock:
                data = [self._advance(b) for b in self.batches.values()]
            return 200, {"object": "list", "data": data[::-1], "has_more": False,
                         "first_id": data[-1]["id"] if data else None, "last_id": data[0]["id"] if data else None}
        if method == "GET" and path.startswith("/v1/batches/"):
            with self.lock:
                return 200, self._advance(self.batches[path[len("/v1/batches/"):]])
        if method == "POST" and path.startswith("/v1/batches/") and path.endswith("/cancel"):
            bid = path[len("/v1/batches/"): -len("/cancel")]
            with self.lock:
                b = self.batches[bid]
                if b["status"] in ("validating", "in_progress"):
                    b["status"] = "cancelling"
                    b["cancelling_at"] = int(time.time())
                return 200, dict(b)
        return 404, {"error": {"message": f"unknown route {method} {path}"}}

    def _upload(self, raw: bytes, ctype: str) -> dict[str, Any]:
        msg = BytesParser(policy=email_policy).parsebytes(
            f"Content-Type: {ctype}\r\nMIME-Version: 1.0\r\n\r\n".encode() + raw)
        data = b""
        purpose = filename = ""
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "file":
                data = part.get_payload(decode=True) or b""
                filename = part.get_filename() or "upload.jsonl"
            elif name == "purpose":
                purpose = part.get_content().strip()
        with self.lock:
            fid = self._id("file")
            meta = {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                    "filename": filename, "purpose": purpose, "status": "processed"}
            self.files[fid] = {"meta": meta, "data": data}
        return meta

    def _create(self, req: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            data = self.files[req["input_file_id"]]["data"]
            lines = [x for x in data.decode().splitlines() if x.strip()]  # parsed when run (memory)
            self.submitted.extend(json.loads(x)["custom_id"] for x in lines)
            self.created += 1
            bid = self._id("batch")
            b = {"id": bid, "object": "batch", "endpoint": req.get("endpoint"), "errors": None,
                 "input_file_id": req["input_file_id"], "completion_window": req.get("completion_window", "24h"),
                 "status": "validating", "output_file_id": None, "error_file_id": None,
                 "created_at": int(time.time()), "in_progress_at": None, "expires_at": int(time.time()) + 86400,
                 "completed_at": None, "failed_at": None, "expired_at": None, "cancelling_at": None,
                 "cancelled_at": None, "metadata": req.get("metadata"),
                 "request_counts": {"total": len(lines), "completed": 0, "failed": 0}}
            b["_lines"] = lines
            b["_fail_every"], self._fail_every = self._fail_every, None
            b["_expire"] = self._expire
            self._expire_times -= 1
            if self._expire_times <= 0:
                self._expire = None
            b["_fail"] = self._fail_batch
            self._fail_times -= 1
            if self._fail_times <= 0:
                self._fail_batch = False
            b["_duplicate"], self._duplicate_every = self._duplicate_every, None
            self.batches[bid] = b
            return self._public(b)

    @staticmethod
    def _public(b: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in b.items() if not k.startswith("_")}

    def _advance(self, b: dict[str, Any]) -> dict[str, Any]:
        """One step of the batch's life on each retrieve (lock held)."""
        if b["status"] == "validating":
            b["status"] = "in_progress"
            b["in_progress_at"] = int(time.time())
        elif b["status"] == "in_progress" and not self.hold:
            self._run(b, "completed")
        elif b["status"] == "cancelling":
            self._run(b, "cancelled")
        return self._public(b)

    def _run(self, b: dict[str, Any], final: str) -> None:
        lines = b["_lines"]
        if b["_fail"]:  # the whole batch fails (e.g. its input does not validate): no output
            b["status"], b["failed_at"] = "failed", int(time.time())
            b["errors"] = {"object": "list", "data": [{"code": "invalid_request", "line": 1, "param": "body",
                                                        "message": "This line is not a valid request."}]}
            b["request_counts"] = {"total": len(lines), "completed": 0, "failed": len(lines)}
            return
        n_do = len(lines)
        if final == "cancelled":
            n_do = len(lines) // 2
        elif b["_expire"] is not None:
            n_do = int(len(lines) * b["_expire"])
            final = "expired"
        out: list[Any] = []
        err: list[Any] = []
        for i, raw in enumerate(lines):
            x = json.loads(raw)
            rid = f"batch_req_{b['id']}_{i}"
            if i >= n_do:
                code = "batch_expired" if final == "expired" else "batch_cancelled"
                err.append({"id": rid, "custom_id": x["custom_id"], "response": None,
                            "error": {"code": code, "message": "This request could not be executed before the "
                                      "batch ended."}})
                continue
            if b["_fail_every"] and i % b["_fail_every"] == 0:
                if (i // b["_fail_every"]) % 2 == 0:
                    err.append({"id": rid, "custom_id": x["custom_id"], "response": None,
                                "error": {"code": "server_error", "message": "The server had an error."}})
                else:
                    out.append({"id": rid, "custom_id": x["custom_id"], "error": None,
                                "response": {"status_code": 500, "request_id": rid,
                                             "body": {"error": {"message": "Internal error", "type": "server_error"}}}})
                continue
            content, refusal = self.correct_content(x["body"])
            body = self.completion(x["body"], content, refusal=refusal)
            if self.answer_model:
                body["model"] = self.answer_model
            line = json.dumps({"id": rid, "custom_id": x["custom_id"], "error": None,
                               "response": {"status_code": 200, "request_id": rid, "body": body}})
            self.paid += 1
            self.paid_ids.append(x["custom_id"])
            if b["_duplicate"] and i % b["_duplicate"] == 0 and content:
                flipped = content.replace('"yes"', '"tmp"').replace('"no"', '"yes"').replace('"tmp"', '"no"')
                wrong = json.dumps({"id": rid + "b", "custom_id": x["custom_id"], "error": None,
                                    "response": {"status_code": 200, "request_id": rid + "b",
                                                 "body": self.completion(x["body"], flipped)}})
                out.append("\x00first" + wrong)  # the wrong answer is written first
            out.append(line)  # keep serialized lines, not objects (memory)
        out = [o if isinstance(o, str) else json.dumps(o) for o in out]
        err = [json.dumps(e) for e in err]
        self.rng.shuffle(out)
        self.rng.shuffle(err)
        first = [o[len("\x00first"):] for o in out if o.startswith("\x00first")]
        out = first + [o for o in out if not o.startswith("\x00first")]
        ok = sum(1 for o in out if '"status_code": 200' in o)
        b["request_counts"] = {"total": len(lines), "completed": ok, "failed": len(lines) - ok}
        for kind, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                fid = self._id("file")
                data = "".join(r + "\n" for r in rows).encode()
                self.files[fid] = {"meta": {"id": fid, "object": "file", "bytes": len(data),
                                            "created_at": int(time.time()), "filename": f"{b['id']}_{kind}.jsonl",
                                            "purpose": "batch_output", "status": "processed"}, "data": data}
                b[kind] = fid
        b["status"] = final
        b[f"{final}_at"] = int(time.time())


try:
    import pytest

    @pytest.fixture
    def batch_server():
        from genz.fm import openai_compat

        openai_compat._CAPS_SEEN.clear()
        srv = FakeBatchServer()
        yield srv
        srv.close()
except ImportError:  # pragma: no cover
    pass


if __name__ == "__main__":  # run standalone (for the kill -9 test's subprocess or by hand)
    import sys

    srv = FakeBatchServer(with_logprobs="--no-logprobs" not in sys.argv)
    print(srv.url, flush=True)
    try:
        time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 600)
    finally:
        srv.close()
