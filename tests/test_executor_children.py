"""Issue 22, item 5: answers are kept as each shard or request completes, and nothing genz
starts outlives it. vLLM crashing mid-shard keeps the lines it wrote; SIGKILL of genz during
``vllm run-batch`` or during the Ray pipeline leaves no process behind, and the rerun asks only
for what was not answered."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import genz
from genz.errors import FMError
from genz.fm.cache import FMCache
from genz.fm.executors import ExecutorFM
from genz.fm.executors.vllm import VLLMExecutor
from genz.fm.openai_compat import OpenAIFM
from genz.items import Item
from tests.fake_openai_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[1]
FAKE_VLLM = ROOT / "tests" / "fake_vllm_run_batch.py"
WORDS = ["seven", "three", "five", "nine", "two"]


def _items(n: int) -> list[Item]:
    return [Item(id=f"i{k}", text=f"item {k} {WORDS[k % 5]}") for k in range(n)]


def _env() -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(genz.__file__).parents[1]), str(ROOT)])}
    env.pop("OPENAI_BASE_URL", None)
    return env


def _vllm(extra: str = "") -> str:
    return f"{sys.executable} {FAKE_VLLM} -i {{input}} -o {{output}} --model {{model}} --no-errors {extra}".strip()


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def test_vllm_crashing_mid_shard_keeps_the_lines_it_wrote(tmp_path):
    """genz < 0.9 raised without ingesting: the 6 answered lines were lost and paid again."""
    items = _items(40)  # 10 requests of 4
    fm = ExecutorFM(OpenAIFM("fake", base_url="http://127.0.0.1:9/v1", batch_size=4, progress=False),
                    tmp_path / "c.sqlite", VLLMExecutor(tmp_path / "v", command=_vllm("--crash-after 6")))
    with pytest.raises(FMError, match=r"failed on .*exit 1"):
        fm.prefetch(["contains seven"], items)
    assert FMCache(tmp_path / "c.sqlite").counts()["judgments"] == 6 * 4
    fm2 = ExecutorFM(OpenAIFM("fake", base_url="http://127.0.0.1:9/v1", batch_size=4, progress=False),
                     tmp_path / "c.sqlite", VLLMExecutor(tmp_path / "v", command=_vllm()))
    fm2.prefetch(["contains seven"], items)
    shards = sorted((tmp_path / "v").glob("vllm-*.jsonl"))
    shards = [s for s in shards if ".output" not in s.name and ".manifest" not in s.name]
    assert [_lines(s) for s in shards] == [10, 4]  # the rerun asked only for the 4 unanswered
    assert FMCache(tmp_path / "c.sqlite").counts()["judgments"] == 40


@pytest.mark.slow
def test_sigkill_during_vllm_leaves_no_orphan_and_the_rerun_keeps_its_answers(tmp_path):
    """genz < 0.9: the `vllm` process outlived a SIGKILL of genz, and its answers were lost."""
    state = tmp_path / "v"
    p = subprocess.Popen([sys.executable, str(ROOT / "tests" / "_batch_entry.py"), "http://127.0.0.1:9/v1",
                          str(tmp_path / "c.sqlite"), str(state), "40", "--executor", "vllm", "--vllm-command",
                          _vllm("--hang-after 5")], env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    pid_file = state / "vllm-00000.output.jsonl.pid"
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid_file.exists(), p.communicate(timeout=5)[0]
    vllm_pid = int(pid_file.read_text())
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    deadline = time.monotonic() + 15
    while _alive(vllm_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = _alive(vllm_pid)
    if alive:
        os.kill(vllm_pid, signal.SIGKILL)
    assert not alive, "the vllm process outlived genz"
    r = subprocess.run([sys.executable, str(ROOT / "tests" / "_batch_entry.py"), "http://127.0.0.1:9/v1",
                        str(tmp_path / "c.sqlite"), str(state), "40", "--executor", "vllm", "--vllm-command", _vllm()],
                       env=_env(), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _lines(state / "vllm-00001.jsonl") == 5  # the 5 lines the killed run got were kept
    assert FMCache(tmp_path / "c.sqlite").counts()["judgments"] == 40


def _ray_processes() -> dict[int, str]:
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if ("ray" in cmd.lower() or "supervise.py" in cmd) and _alive(int(name)):
            out[int(name)] = cmd
    return out


@pytest.mark.slow
def test_sigkill_during_the_ray_pipeline_keeps_every_answer_and_leaves_no_process(tmp_path):
    """genz < 0.9 ingested Ray's answers when the whole run ended: after SIGKILL the cache held
    none of the delivered judgments, and Ray's processes outlived genz."""
    pytest.importorskip("ray")
    before = set(_ray_processes())
    srv = FakeOpenAIServer()
    srv.delay = 0.3
    try:
        p = subprocess.Popen([sys.executable, str(ROOT / "tests" / "_batch_entry.py"), srv.url,
                              str(tmp_path / "c.sqlite"), str(tmp_path / "w"), "160", "--executor", "ray"],
                             env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 180
        while len(srv.delivered) < 8 and time.monotonic() < deadline and p.poll() is None:
            time.sleep(0.05)
        assert len(srv.delivered) >= 8, p.communicate(timeout=5)[0][-2000:]
        os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
        deadline = time.monotonic() + 20
        left = {k: v for k, v in _ray_processes().items() if k not in before}
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = {k: v for k, v in _ray_processes().items() if k not in before}
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        assert not left, f"{len(left)} processes outlived genz: {list(left.values())[:3]}"
        time.sleep(0.5)
        delivered = sum(1 for d in srv.delivered if d["code"] == 200)
        cached = FMCache(tmp_path / "c.sqlite").counts()["judgments"]
        assert cached >= 4 * delivered - 4, (cached, delivered)  # at most the last answer in flight is lost
    finally:
        srv.close()
