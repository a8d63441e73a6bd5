"""Measure the LLM path's fault behaviour against the scripted server (127.0.0.1): the numbers
issue 10 asked about. Prints one line per measurement; run from the repository root:

    PYTHONPATH=src:. python benchmarks/llm_faults.py [--items 200] [--repeats 3]

* SIGINT / SIGTERM: seconds from the signal to the process's exit, requests that reached the
  server after the signal, delivered answers missing from the cache;
* SIGKILL mid-pass: delivered answers missing from the cache, items the rerun asked again
  that had been delivered;
* three processes sharing one cache: item judgments requested vs items (duplicates);
* one answer missing per batch: requests vs the minimum.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

from tests.fake_openai_server import FakeOpenAIServer  # noqa: E402
from tests.test_fm_interrupt import ENTRY, _cached_texts, _delivered_texts  # noqa: E402

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("OPENAI_BASE_URL", None)
    return env


def _texts(n: int) -> dict[str, str]:
    return {f"{i} {WORDS[i % 10]}": f"n{i}" for i in range(n)}


def signal_exit(sig: int, n: int, tmp: Path) -> tuple[float, int, int]:
    srv = FakeOpenAIServer()
    srv.delay = 0.4
    arrivals: list[float] = []
    srv.on_request = lambda k, body: arrivals.append(time.monotonic())
    cache = tmp / f"sig{sig}-{time.time_ns()}.sqlite"
    p = subprocess.Popen([sys.executable, str(ENTRY), srv.url, str(cache), str(n)], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while len(srv.delivered) < 8:
        time.sleep(0.01)
    time.sleep(0.2)  # the next requests are in flight, half answered
    t = time.monotonic()
    p.send_signal(sig)
    p.wait()
    secs = time.monotonic() - t
    late = sum(1 for a in arrivals if a > t + 0.05)
    time.sleep(0.5)
    lost = len(_delivered_texts(srv) - _cached_texts(cache, _texts(n)))
    srv.close()
    return secs, late, lost


def sigkill(n: int, tmp: Path) -> tuple[int, int, int]:
    srv = FakeOpenAIServer()
    srv.delay = 0.02
    hold = threading.Event()
    proc: list[subprocess.Popen] = []

    def on_request(k, body):
        if k == 20 and not hold.is_set():
            hold.set()
            threading.Timer(0.5, lambda: proc[0].send_signal(signal.SIGKILL)).start()
        if hold.is_set():
            time.sleep(3)

    srv.on_request = on_request
    cache = tmp / f"kill-{time.time_ns()}.sqlite"
    proc.append(subprocess.Popen([sys.executable, str(ENTRY), srv.url, str(cache), str(n)], env=_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    proc[0].wait()
    delivered = _delivered_texts(srv)
    lost = len(delivered - _cached_texts(cache, _texts(n)))
    srv.on_request, srv.delay = None, 0.0
    before = srv.n_requests
    subprocess.run([sys.executable, str(ENTRY), srv.url, str(cache), str(n)], env=_env(), capture_output=True)
    again = [t for r in srv.requests[before:] for t in srv.judged(r)]
    srv.close()
    return len(delivered), lost, len(set(again) & delivered)


def shared(n: int, tmp: Path) -> tuple[int, int]:
    srv = FakeOpenAIServer()
    srv.delay = 0.05
    cache = tmp / f"shared-{time.time_ns()}.sqlite"
    start = time.time() + 6
    ps = [subprocess.Popen([sys.executable, str(ENTRY), srv.url, str(cache), str(n), "--start-at", str(start)],
                           env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    for p in ps:
        p.wait()
    judged = sum(len(srv.judged(r)) for r in srv.requests)
    srv.close()
    return judged, judged - n


def missing_answers() -> tuple[int, int]:
    from genz.fm.openai_compat import OpenAIFM
    from genz.items import items_from_texts

    srv = FakeOpenAIServer()
    srv.push(*[("drop", 1 + k % 10) for k in range(15)])
    fm = OpenAIFM("fake", base_url=srv.url, batch_size=10, concurrency=3, progress=False)
    fm.judge("has a seven", items_from_texts(list(_texts(150))))
    n = srv.n_requests
    srv.close()
    return n, 15 + 2


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, sig in (("SIGINT", signal.SIGINT), ("SIGTERM", signal.SIGTERM)):
            for _ in range(a.repeats):
                secs, late, lost = signal_exit(sig, a.items, tmp)
                print(f"{name}: exit {secs:.2f} s after the signal; {late} requests after it; {lost} delivered answers not cached")
        for _ in range(a.repeats):
            delivered, lost, again = sigkill(a.items, tmp)
            print(f"SIGKILL mid-pass: {delivered} items delivered, {lost} of them not cached, {again} asked again by the rerun")
        judged, dup = shared(a.items, tmp)
        print(f"3 processes sharing a cache: {judged} item judgments requested for {a.items} items ({dup} duplicates)")
        n, minimum = missing_answers()
        print(f"one answer missing per batch (150 items, batches of 10): {n} requests, minimum {minimum}")


if __name__ == "__main__":
    main()
