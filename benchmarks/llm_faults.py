"""Measure the LLM path's fault behaviour against scripted servers on 127.0.0.1 (issues 10 and 22).
Run from the repository root:

    PYTHONPATH=src:. python benchmarks/llm_faults.py [--items 200] [--repeats 3] [--ray] [--src DIR]

``--src DIR`` measures another genz source tree (e.g. a checkout of an older commit's ``src``)
with today's scripted servers. Sections:

1. **Requests paid vs requests needed**, per fault (issue 22): every request a provider bills
   (a batch line answered, a synchronous answer delivered) against the distinct requests the
   work needs. 1.0× means nothing was paid twice. Faults: a reset after ``batches.create``, two
   processes on one batch folder, an export without ``--fm-model`` followed by predict, vLLM
   crashing mid-shard, SIGKILL during vLLM and during the Ray pipeline (``--ray``), a batch that
   keeps failing, a half-expired batch, a batch the provider forgot, a 429 burst, three
   processes mining on one cache, a 0-byte cache beside its WAL, a foreign WAL; and issue 10's
   SIGKILL mid-pass and one missing answer per batch.
2. **Waits**: the longest single wait before a retry for ``Retry-After`` 1e9 / 3600.
3. **Batch isolation**: answers of ordinary items flipped by hostile items in their batches,
   with a scripted model that obeys them, and the requests each setting costs.
4. Issue 10's signal measurements (SIGINT / SIGTERM exit times, requests after the signal).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _setup_path(src: str | None) -> Path:
    s = Path(src).resolve() if src else ROOT / "src"
    sys.path[:0] = [str(s), str(ROOT)]
    return s


SRC = _setup_path(next((sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--src"), None))

import numpy as np  # noqa: E402

from tests.fake_batch_server import FakeBatchServer  # noqa: E402
from tests.fake_openai_server import EVASIVE, PARAPHRASES, FakeOpenAIServer  # noqa: E402
from tests.test_executor_children import _alive  # noqa: E402

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ENTRY = ROOT / "tests" / "_judge_entry.py"
BATCH_ENTRY = ROOT / "tests" / "_batch_entry.py"
FAKE_VLLM = ROOT / "tests" / "fake_vllm_run_batch.py"


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("OPENAI_BASE_URL", None)
    return env


def _accepted(cls, kw: dict) -> dict:
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in kw.items() if k in params}


def _items(n: int):
    from genz.items import Item

    words = ["seven", "three", "five", "nine", "two"]
    return [Item(id=f"i{k}", text=f"item {k} {words[k % 5]}") for k in range(n)]


def _batch_fm(srv, tmp: Path, **kw):
    from genz.fm.executors import ExecutorFM
    from genz.fm.executors.batch import BatchAPIExecutor
    from genz.fm.openai_compat import OpenAIFM

    ex = BatchAPIExecutor(tmp / "batches", base_url=srv.url, poll_interval=0.0, progress=None,
                          **_accepted(BatchAPIExecutor, {"notice": None, **kw}))
    return ExecutorFM(OpenAIFM("fake", base_url=srv.url, batch_size=4, progress=False), tmp / "c.sqlite", ex,
                      **_accepted(ExecutorFM, {"notice": None, "on_failure": kw.get("on_failure", "sync")}))


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[:90]}"


# ---------------------------------------------------------------------------------------------
# 1. requests paid vs requests needed
# ---------------------------------------------------------------------------------------------
def reset_after_create(tmp: Path) -> dict:
    srv = FakeBatchServer()
    srv.reset_after_create(1)
    note = ""
    try:
        _batch_fm(srv, tmp).prefetch(["contains seven"], _items(40))
    except Exception as exc:  # noqa: BLE001
        note = _err(exc)
    srv.settle()
    row = {"paid": srv.paid, "needed": 10, "note": note or f"{srv.n_batches_created} batch(es) created"}
    srv.close()
    return row


def two_processes(tmp: Path, gap: float) -> dict:
    srv = FakeBatchServer()
    srv.hold = True
    start = time.time() + 5
    ps = [subprocess.Popen([sys.executable, str(BATCH_ENTRY), srv.url, str(tmp / "c.sqlite"), str(tmp / "b"), "2000",
                            "--start-at", str(start + k * gap)], env=_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True) for k in range(2)]
    t0 = time.monotonic()
    while srv.n_batches_created < 1 and time.monotonic() - t0 < 90:
        time.sleep(0.05)
    time.sleep(1.5 + gap)
    srv.release()
    outs = [p.communicate(timeout=300)[0].strip().splitlines()[-1:] for p in ps]
    srv.settle()
    crashed = [o[0][:80] for o, p in zip(outs, ps) if p.returncode]
    row = {"paid": srv.paid, "needed": 500,
           "note": f"{srv.n_batches_created} batch(es)" + (f"; crashed: {crashed[0]}" if crashed else "")}
    srv.close()
    return row


def export_then_predict(tmp: Path) -> dict:
    from click.testing import CliRunner

    from genz.cli import main
    from tests.test_predict_fm import _fit, _new_items

    srv = FakeOpenAIServer()
    env = {"OPENAI_BASE_URL": None, "OPENAI_API_KEY": None, "MY_FM_KEY": "sk-bench-0123456789"}
    try:
        r = _fit(srv.url, tmp)
        if r.exit_code:
            return {"paid": 0, "needed": 0, "note": f"fit failed: {r.output[-80:]}"}
        new = _new_items(tmp, [f"new{i}" for i in range(70)])
        r = CliRunner().invoke(main, ["requests", "export", "--model", str(tmp / "run"), "--items", str(new), "-o",
                                      str(tmp / "x"), "--cache", str(tmp / "p.sqlite")], env=env)
        lines = []
        for shard in sorted((tmp / "x").glob("requests-*.jsonl")):
            if ".manifest" not in shard.name:
                for raw in shard.read_text().splitlines():
                    req = json.loads(raw)
                    content, _ = srv.correct_content(req["body"])
                    lines.append(json.dumps({"custom_id": req["custom_id"], "error": None, "response": {
                        "status_code": 200, "body": srv.completion(req["body"], content)}}))
        (tmp / "out.jsonl").write_text("\n".join(lines) + "\n")
        CliRunner().invoke(main, ["requests", "ingest", str(tmp / "out.jsonl"), "--manifests", str(tmp / "x"),
                                  "--cache", str(tmp / "p.sqlite")])
        before = srv.n_requests
        r = CliRunner().invoke(main, ["predict", str(tmp / "run"), "--items", str(new), "--cache",
                                      str(tmp / "p.sqlite"), "-o", str(tmp / "p.csv")], env=env)
        again = sum(1 for b in srv.requests[before:] if "<items>" in srv.user_text(b))
        model = json.loads((tmp / "x" / "requests-00000.jsonl").read_text().splitlines()[0])["body"]["model"]
        return {"paid": len(lines) + again, "needed": 10,
                "note": f"exported for {model}; predict judged {again} again" + ("" if r.exit_code == 0 else
                                                                                   " (predict failed)")}
    finally:
        srv.close()


def _answered_lines(d: Path, pattern: str) -> int:
    n = 0
    for f in d.glob(pattern):
        for raw in f.read_text(errors="replace").splitlines():
            try:
                n += json.loads(raw).get("response", {}).get("status_code") == 200
            except (ValueError, AttributeError):
                pass
    return n


def _vllm_cmd(extra: str = "") -> str:
    return f"{sys.executable} {FAKE_VLLM} -i {{input}} -o {{output}} --model {{model}} --no-errors {extra}".strip()


def vllm_crash(tmp: Path) -> dict:
    from genz.fm.executors import ExecutorFM
    from genz.fm.executors.vllm import VLLMExecutor
    from genz.fm.openai_compat import OpenAIFM

    def fm(cmd):
        return ExecutorFM(OpenAIFM("fake", base_url="http://127.0.0.1:9/v1", batch_size=4, progress=False),
                          tmp / "c.sqlite", VLLMExecutor(tmp / "v", command=cmd),
                          **_accepted(ExecutorFM, {"on_failure": "stop"}))

    try:
        fm(_vllm_cmd("--crash-after 6")).prefetch(["contains seven"], _items(40))
    except Exception:  # noqa: BLE001 - the crash
        pass
    fm(_vllm_cmd()).prefetch(["contains seven"], _items(40))
    return {"paid": _answered_lines(tmp / "v", "vllm-*.output.jsonl"), "needed": 10, "note": "crash after 6 lines"}


def vllm_sigkill(tmp: Path) -> dict:
    state = tmp / "v"
    p = subprocess.Popen([sys.executable, str(BATCH_ENTRY), "http://127.0.0.1:9/v1", str(tmp / "c.sqlite"), str(state),
                          "40", "--executor", "vllm", "--vllm-command", _vllm_cmd("--hang-after 5")], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    pid_file = state / "vllm-00000.output.jsonl.pid"
    t0 = time.monotonic()
    while not pid_file.exists() and time.monotonic() - t0 < 60:
        time.sleep(0.05)
    vpid = int(pid_file.read_text())
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    t0 = time.monotonic()
    while _alive(vpid) and time.monotonic() - t0 < 15:
        time.sleep(0.1)
    orphan = _alive(vpid)
    if orphan:
        os.kill(vpid, signal.SIGKILL)
    subprocess.run([sys.executable, str(BATCH_ENTRY), "http://127.0.0.1:9/v1", str(tmp / "c.sqlite"), str(state), "40",
                    "--executor", "vllm", "--vllm-command", _vllm_cmd()], env=_env(), capture_output=True, timeout=120)
    return {"paid": _answered_lines(state, "vllm-*.output.jsonl"), "needed": 10,
            "note": f"killed after 5 lines; {'1 orphan vllm' if orphan else 'no orphan'}"}


def _ray_procs() -> set[int]:
    out = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                cmd = Path(f"/proc/{name}/cmdline").read_bytes().decode(errors="replace").lower()
            except OSError:
                continue
            if ("ray" in cmd or "supervise.py" in cmd) and _alive(int(name)):
                out.add(int(name))
    return out


def ray_sigkill(tmp: Path) -> dict:
    before = _ray_procs()
    srv = FakeOpenAIServer()
    srv.delay = 0.3
    p = subprocess.Popen([sys.executable, str(BATCH_ENTRY), srv.url, str(tmp / "c.sqlite"), str(tmp / "w"), "160",
                          "--executor", "ray"], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    while len(srv.delivered) < 12 and time.monotonic() - t0 < 240:
        time.sleep(0.05)
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    time.sleep(10)
    left = _ray_procs() - before
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    srv.delay = 0.0
    subprocess.run([sys.executable, str(BATCH_ENTRY), srv.url, str(tmp / "c.sqlite"), str(tmp / "w"), "160",
                    "--executor", "ray"], env=_env(), capture_output=True, timeout=600)
    paid = sum(1 for d in srv.delivered if d["code"] == 200)
    srv.close()
    return {"paid": paid, "needed": 40, "note": f"{len(left)} processes outlived the killed genz"}


def failing_batches(tmp: Path) -> dict:
    srv = FakeBatchServer()
    srv.fail_batch_next(times=100)  # every batch fails as a whole
    note = ""
    fm = _batch_fm(srv, tmp, on_failure="sync")
    try:
        fm.judge("contains seven", _items(40))
    except Exception as exc:  # noqa: BLE001
        note = _err(exc)
    srv.settle()
    row = {"paid": srv.paid, "needed": 10,
           "note": note or f"{srv.n_batches_created} failed batch(es), then {srv.chat_requests} synchronous requests"
                           f" ({'with consent: --on-batch-failure sync' if 'on_failure' in inspect.signature(type(fm).__init__).parameters else 'without asking'})"}
    srv.close()
    return row


def half_expired(tmp: Path) -> dict:
    srv = FakeBatchServer()
    srv.expire_next(0.5)
    _batch_fm(srv, tmp).prefetch(["contains seven"], _items(40))
    srv.settle()
    row = {"paid": srv.paid, "needed": 10, "note": f"{srv.n_batches_created} batches"}
    srv.close()
    return row


def forgotten_batch(tmp: Path) -> dict:
    srv = FakeBatchServer()
    srv.hold = True
    try:
        _batch_fm(srv, tmp, max_wait=0.2).prefetch(["contains seven"], _items(40))
    except Exception:  # noqa: BLE001 - still running
        pass
    from genz.fm.executors.batch import load_state

    bid = load_state(tmp / "batches")["batches"][0]["batch_id"]
    srv.forget(bid)
    srv.hold = False
    note = "completed"
    for _ in range(2):  # genz < 0.9 failed on every later run
        try:
            _batch_fm(srv, tmp).prefetch(["contains seven"], _items(40))
            break
        except Exception as exc:  # noqa: BLE001
            note = "every rerun fails: " + _err(exc)
    srv.settle()
    row = {"paid": srv.paid, "needed": 10, "note": note}
    srv.close()
    return row


def burst_429(tmp: Path) -> dict:
    from genz.fm.openai_compat import OpenAIFM

    srv = FakeOpenAIServer()
    for _ in range(12):
        srv.push(("status", 429, {"Retry-After": "1"}, {"error": {"message": "Rate limit reached"}}))
    waits: list[float] = []
    note = ""
    try:
        OpenAIFM("fake", base_url=srv.url, batch_size=4, concurrency=1, progress=False,
                 sleep=waits.append).judge("has a seven", _items(40))
        note = f"completed after {len(waits)} waits ({sum(waits):.1f} s)"
    except Exception as exc:  # noqa: BLE001
        note = _err(exc)
    paid = sum(1 for d in srv.delivered if d["code"] == 200)
    srv.close()
    return {"paid": paid, "needed": 10, "note": note}


def shared_mining(tmp: Path) -> dict:
    srv = FakeOpenAIServer()
    srv.delay = 0.6
    start = time.time() + 6
    ps = [subprocess.Popen([sys.executable, str(ENTRY), srv.url, str(tmp / "c.sqlite"), "12", "--mine", "--start-at",
                            str(start)], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
    for p in ps:
        p.wait()
    n = sum(1 for r in srv.requests if "<positive_group>" in srv.user_text(r))
    srv.close()
    return {"paid": n, "needed": 1, "note": "3 processes, one mining prompt"}


def _judge_with_cache(srv, path: Path) -> str:
    from genz.fm.cache import CachedFM
    from genz.fm.openai_compat import OpenAIFM

    fm = None
    try:
        fm = CachedFM(OpenAIFM("fake", base_url=srv.url, batch_size=4, progress=False), path)
        fm.judge("has a seven", _items(40))
        return ""
    except Exception as exc:  # noqa: BLE001
        return _err(exc)
    finally:
        if fm is not None:
            fm.cache.close()  # as at the end of a process: nothing of this cache stays open


def zero_byte_cache(tmp: Path) -> dict:
    from genz.fm.cache import CachedFM
    from genz.fm.openai_compat import OpenAIFM

    srv = FakeOpenAIServer()
    live = CachedFM(OpenAIFM("fake", base_url=srv.url, batch_size=4, progress=False), tmp / "live.sqlite")
    live.judge("has a seven", _items(40))  # 10 requests; the rows are in the WAL
    path = tmp / "fm.sqlite"
    shutil.copyfile(live.cache.path, path)
    shutil.copyfile(str(live.cache.path) + "-wal", str(path) + "-wal")
    path.write_bytes(b"")  # the main file emptied; the answers are in fm.sqlite-wal
    err = _judge_with_cache(srv, path)
    paid = sum(1 for d in srv.delivered if d["code"] == 200)
    srv.close()
    return {"paid": paid, "needed": 10, "note": "refused with one line, the WAL kept" if "0 bytes" in err else
            (f"error: {err[:60]}" if err else "treated as new: WAL discarded")}


def foreign_wal(tmp: Path) -> dict:
    import sqlite3

    from genz.fm.cache import FMCache

    srv = FakeOpenAIServer()
    path = tmp / "fm.sqlite"
    _judge_with_cache(srv, path)  # 10 requests, 40 rows; closed (checkpointed) at the end
    other = FMCache(tmp / "other.sqlite")
    other.put_judgments("b", "m", "t", "d", [(f"x{i}", True, None) for i in range(50)])
    shutil.copyfile(str(other.path) + "-wal", str(path) + "-wal")
    err = _judge_with_cache(srv, path)
    if os.path.exists(str(path) + "-wal"):
        os.remove(str(path) + "-wal")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            rows = con.execute("SELECT count(*) FROM judgments").fetchone()[0]
    except sqlite3.DatabaseError:
        rows = 0
    if rows < 40:  # the cache was destroyed: judging again pays again
        path.unlink()
        _judge_with_cache(srv, path)
    paid = sum(1 for d in srv.delivered if d["code"] == 200)
    srv.close()
    refused = "does not belong" in err
    return {"paid": paid, "needed": 10, "note": f"{40 - rows} of 40 rows destroyed" +
            ("; refused with one line" if refused else f"; {err[:60]}" if err else "")}


def sigkill_sync(n: int, tmp: Path) -> dict:
    from tests.test_fm_interrupt import _cached_texts, _delivered_texts

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
    cache = tmp / "kill.sqlite"
    proc.append(subprocess.Popen([sys.executable, str(ENTRY), srv.url, str(cache), str(n)], env=_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    proc[0].wait()
    lost = len(_delivered_texts(srv) - _cached_texts(cache, {f"{i} {WORDS[i % 10]}": f"n{i}" for i in range(n)}))
    srv.on_request, srv.delay = None, 0.0
    subprocess.run([sys.executable, str(ENTRY), srv.url, str(cache), str(n)], env=_env(), capture_output=True)
    paid = sum(1 for d in srv.delivered if d["code"] == 200)
    srv.close()
    return {"paid": paid, "needed": -(-n // 5), "note": f"{lost} delivered answers lost"}


def missing_answers() -> dict:
    from genz.fm.openai_compat import OpenAIFM
    from genz.items import items_from_texts

    srv = FakeOpenAIServer()
    srv.push(*[("drop", 1 + k % 10) for k in range(15)])
    fm = OpenAIFM("fake", base_url=srv.url, batch_size=10, concurrency=3, progress=False)
    fm.judge("has a seven", items_from_texts([f"{i} {WORDS[i % 10]}" for i in range(150)]))
    n = srv.n_requests
    srv.close()
    return {"paid": n, "needed": 15 + 2, "note": "minimum: 15 batches + 2 requests for the 15 missing answers"}


# ---------------------------------------------------------------------------------------------
# 2. waits, 3. isolation
# ---------------------------------------------------------------------------------------------
def longest_wait(header: str) -> float:
    from genz.fm.openai_compat import OpenAIFM

    srv = FakeOpenAIServer()
    waits: list[float] = []
    srv.push(("status", 429, {"Retry-After": header}, {"error": {"message": "Rate limit reached"}}))
    OpenAIFM("fake", base_url=srv.url, batch_size=4, concurrency=1, progress=False, sleep=waits.append).judge(
        "has a seven", _items(4))
    srv.close()
    return max(waits)


def flips(hostile: list[str], isolation: str | None) -> tuple[int, int, int]:
    from genz.fm.openai_compat import OpenAIFM
    from genz.items import Item

    srv = FakeOpenAIServer()
    srv.obey = True
    plain = [Item(id=f"p{i}", text=f"{i} {'seven' if i % 3 == 0 else 'other'}") for i in range(270)]
    items = []
    for k, h in enumerate(hostile):
        items += plain[9 * k: 9 * k + 9] + [Item(id=f"evil{k}", text=f"Nice house. {h}")]
    items += plain[9 * len(hostile):]
    kw = {} if isolation is None else {"isolation": isolation}
    fm = OpenAIFM("fake", base_url=srv.url, batch_size=10, concurrency=2, progress=False, **kw)
    j = fm.judge("has a seven", items)
    truth = np.array(["seven" in it.text for it in items])
    is_plain = np.array([not it.id.startswith("evil") for it in items])
    out = int(((j.values != truth) & is_plain).sum()), srv.n_requests, sum(len(srv.judged(r)) for r in srv.requests)
    srv.close()
    return out


def _fmt(row: dict) -> str:
    ratio = f"{row['paid'] / row['needed']:.1f}×" if row["needed"] else "-"
    return f"| {row['fault']} | {row['paid']} | {row['needed']} | {ratio} | {row['note']} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ray", action="store_true", help="also SIGKILL during the Ray pipeline (about 2 minutes)")
    ap.add_argument("--src", default=None, help="the genz source tree to measure (default: this checkout's src)")
    ap.add_argument("--signals", action="store_true", help="also issue 10's SIGINT/SIGTERM timings")
    a = ap.parse_args()
    import genz

    print(f"genz from {Path(genz.__file__).parent}")
    scenarios = [
        ("batches.create: connection reset after the provider created the batch", reset_after_create),
        ("two processes on one batch folder, 0 s apart", lambda t: two_processes(t, 0.0)),
        ("two processes on one batch folder, 0.1 s apart", lambda t: two_processes(t, 0.1)),
        ("`requests export --model` without --fm-model, ingest, then predict", export_then_predict),
        ("vLLM crashes mid-shard, rerun", vllm_crash),
        ("SIGKILL of genz during vLLM, rerun", vllm_sigkill),
        *([("SIGKILL of genz during the Ray pipeline, rerun", ray_sigkill)] if a.ray else []),
        ("every batch fails as a whole", failing_batches),
        ("a batch expires half done", half_expired),
        ("a recorded batch the provider forgot (HTTP 404)", forgotten_batch),
        ("a burst of 12 × 429 (Retry-After: 1)", burst_429),
        ("3 processes mining on one cache", shared_mining),
        ("0-byte cache file beside its WAL, judged again", zero_byte_cache),
        ("a foreign -wal beside the cache, judged again", foreign_wal),
        ("SIGKILL mid synchronous pass, rerun", lambda t: sigkill_sync(a.items, t)),
        ("one answer missing per batch (150 items, batches of 10)", lambda t: missing_answers()),
    ]
    print("\n| fault | requests paid | requests needed | paid/needed | note |\n|---|---:|---:|---:|---|")
    for name, fn in scenarios:
        with tempfile.TemporaryDirectory() as d:
            try:
                row = fn(Path(d))
            except Exception as exc:  # noqa: BLE001 - a scenario that breaks is a row too
                row = {"paid": 0, "needed": 0, "note": "scenario failed: " + _err(exc)}
        print(_fmt({"fault": name, **row}), flush=True)
    print("\n| Retry-After | longest single wait before a retry (s) |\n|---|---:|")
    for h in ("1e9", "3600"):
        print(f"| {h} | {longest_wait(h):,.1f} |")
    print("\n| hostile items (one in each of 5 batches of 10) | setting | flipped answers of 270 ordinary items | "
          "requests | items sent |\n|---|---|---:|---:|---:|")
    from genz.fm.openai_compat import OpenAIFM

    canary = "isolation" in inspect.signature(OpenAIFM.__init__).parameters
    for label, hostile in (("phrased past the heuristic of genz < 0.9", PARAPHRASES),
                           ("phrased past every heuristic", EVASIVE)):
        for setting in ([None, "canary"] if canary else [None]):
            f, n, k = flips(hostile, setting)
            print(f"| {label} | {'--isolation ' + setting if setting else 'default'} | {f} ({100 * f / 270:.0f}%) | "
                  f"{n} | {k} |", flush=True)
    if a.signals:
        for name, sig in (("SIGINT", signal.SIGINT), ("SIGTERM", signal.SIGTERM)):
            for _ in range(a.repeats):
                with tempfile.TemporaryDirectory() as d:
                    secs, late, lost = signal_exit(sig, a.items, Path(d))
                print(f"{name}: exit {secs:.2f} s after the signal; {late} requests after it; {lost} delivered answers "
                      "not cached")


def signal_exit(sig: int, n: int, tmp: Path) -> tuple[float, int, int]:
    from tests.test_fm_interrupt import _cached_texts, _delivered_texts

    srv = FakeOpenAIServer()
    srv.delay = 0.4
    arrivals: list[float] = []
    srv.on_request = lambda k, body: arrivals.append(time.monotonic())
    cache = tmp / f"sig{sig}.sqlite"
    p = subprocess.Popen([sys.executable, str(ENTRY), srv.url, str(cache), str(n)], env=_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    while len(srv.delivered) < 8:
        time.sleep(0.01)
    time.sleep(0.2)
    t = time.monotonic()
    p.send_signal(sig)
    p.wait()
    secs = time.monotonic() - t
    late = sum(1 for x in arrivals if x > t + 0.05)
    time.sleep(0.5)
    lost = len(_delivered_texts(srv) - _cached_texts(cache, {f"{i} {WORDS[i % 10]}": f"n{i}" for i in range(n)}))
    srv.close()
    return secs, late, lost


if __name__ == "__main__":
    main()
