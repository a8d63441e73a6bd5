"""A stand-in for ``vllm run-batch -i IN -o OUT --model M`` (no GPU, no model): answers each
request line like the scripted server and writes vLLM's output format, in request order, with
every 4th request as an inline error (``response.status_code`` 400, no body, ``error`` set)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fake_batch_server import FakeBatchServer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-i", required=True)
    ap.add_argument("-o", required=True)
    ap.add_argument("--model", required=True)
    a = ap.parse_args()
    answer = FakeBatchServer.__new__(FakeBatchServer)  # only its answering methods, no HTTP
    answer.truth = __import__("tests.fake_openai_server", fromlist=["default_truth"]).default_truth
    answer.refuse = lambda text: False
    answer.with_logprobs, answer.with_usage = False, True
    out = []
    for k, line in enumerate(Path(a.i).read_text().splitlines()):
        req = json.loads(line)
        if k % 4 == 3:
            out.append({"id": f"vllm-{k}", "custom_id": req["custom_id"],
                        "response": {"status_code": 400, "request_id": f"vllm-batch-{k}", "body": None},
                        "error": "Request must not be sent in stream mode"})
            continue
        content, _ = answer.correct_content(req["body"])
        body = answer.completion(req["body"], content)
        out.append({"id": f"vllm-{k}", "custom_id": req["custom_id"],
                    "response": {"status_code": 200, "request_id": f"vllm-batch-{k}", "body": body}, "error": None})
    Path(a.o).write_text("".join(json.dumps(o) + "\n" for o in out))


if __name__ == "__main__":
    main()
