"""A stand-in for ``vllm run-batch -i IN -o OUT --model M`` (no GPU, no model): answers each
request line like the scripted server and writes vLLM's output format, in request order, one
line at a time (flushed), with every 4th request as an inline error (``response.status_code``
400, no body, ``error`` set).

``--crash-after N``: exit 1 after writing N lines (a crash mid-shard). ``--hang-after N``:
after N lines, write this process's pid to ``OUT.pid`` and sleep (to be killed). ``--no-errors``:
no inline errors."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fake_batch_server import FakeBatchServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-i", required=True)
    ap.add_argument("-o", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--crash-after", type=int, default=None)
    ap.add_argument("--hang-after", type=int, default=None)
    ap.add_argument("--no-errors", action="store_true")
    a = ap.parse_args()
    answer = FakeBatchServer.__new__(FakeBatchServer)  # only its answering methods, no HTTP
    answer.truth = __import__("tests.fake_openai_server", fromlist=["default_truth"]).default_truth
    answer.refuse = lambda text: False
    answer.with_logprobs, answer.with_usage = False, True
    with open(a.o, "w") as fh:
        for k, line in enumerate(Path(a.i).read_text().splitlines()):
            if a.crash_after is not None and k >= a.crash_after:
                sys.exit(1)
            if a.hang_after is not None and k >= a.hang_after:
                Path(a.o + ".pid").write_text(str(os.getpid()))
                time.sleep(600)
            req = json.loads(line)
            if k % 4 == 3 and not a.no_errors:
                out = {"id": f"vllm-{k}", "custom_id": req["custom_id"],
                       "response": {"status_code": 400, "request_id": f"vllm-batch-{k}", "body": None},
                       "error": "Request must not be sent in stream mode"}
            else:
                content, _ = answer.correct_content(req["body"])
                body = answer.completion(req["body"], content)
                out = {"id": f"vllm-{k}", "custom_id": req["custom_id"],
                       "response": {"status_code": 200, "request_id": f"vllm-batch-{k}", "body": body}, "error": None}
            fh.write(json.dumps(out) + "\n")
            fh.flush()


if __name__ == "__main__":
    main()
