"""The supervisor between genz and a child it starts (``vllm run-batch``, the Ray pipeline).

Run as a script (standard library only, so it starts fast)::

    python .../supervise.py PARENT_PID [--pdeathsig] -- COMMAND [ARGS...]

genz starts it in a new session (see :func:`genz.fm.executors.children.spawn`); it starts
COMMAND in that session and exits with its status. It stops every process of the session
(SIGTERM, then SIGKILL after a grace period; on Linux each process of the session, found in
``/proc``, since Ray gives its workers process groups of their own; elsewhere the process
group) when

* genz dies, however it dies, SIGKILL included: on Linux the kernel sends this process
  SIGTERM (``prctl(PR_SET_PDEATHSIG)``, with ``--pdeathsig``: genz asks for it only from its
  main thread, since the signal follows the thread that started the child); everywhere, it
  notices within 0.2 s that its parent pid changed;
* it is sent SIGTERM, SIGINT or SIGHUP (genz stopping its children on exit, Ctrl-C, SIGTERM);
* COMMAND exits, leaving processes of its own behind (Ray's daemons): they are stopped too.

So nothing COMMAND started outlives genz: no orphan ``vllm`` or ``raylet``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

GRACE = 5.0
_stopping = {"on": False}


def _set_pdeathsig(sig: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, sig, 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the ppid poll remains
            pass


def _group_members() -> list[int] | None:
    """The other live processes of this session (Linux: from /proc), or None where unknown.
    The session, not just the process group: Ray puts its workers in groups of their own."""
    if not os.path.isdir("/proc/self"):
        return None
    me, sid, out = os.getpid(), os.getsid(0), []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) == sid and fields[0] != b"Z":
                out.append(int(name))
        except (OSError, IndexError, ValueError):
            continue
    return out


def stop_group(child: subprocess.Popen | None, code: int) -> None:
    """SIGTERM to the group (this process ignores it), SIGKILL to what is left after GRACE
    seconds, then exit with ``code``."""
    if _stopping["on"]:
        return
    _stopping["on"] = True
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    try:
        os.killpg(0, signal.SIGTERM)
    except OSError:
        pass
    for pid in _group_members() or ():  # members of the session in groups of their own
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline:
        if child is not None:
            child.poll()  # reaps it
        members = _group_members()
        if members == [] or (members is None and (child is None or child.poll() is not None)):
            break
        time.sleep(0.05)
    members = _group_members()
    if members is None:
        os.killpg(0, signal.SIGKILL)  # no /proc: the group, this process included
    for pid in members or ():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    os._exit(code)


def main(argv: list[str]) -> int:
    if "--" not in argv or len(argv) < 3:
        print("usage: supervise.py PARENT_PID [--pdeathsig] -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    sep = argv.index("--")
    opts, cmd = argv[:sep], argv[sep + 1:]
    parent = int(opts[0])
    if "--pdeathsig" in opts:
        _set_pdeathsig(signal.SIGTERM)
    if os.getppid() != parent:  # genz died before the line above
        return 143
    child: subprocess.Popen | None = None

    def on_signal(signum: int, frame: object) -> None:
        stop_group(child, 128 + signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, on_signal)
    try:
        child = subprocess.Popen(cmd)
    except OSError as exc:
        print(f"{cmd[0]}: {exc.strerror or exc}", file=sys.stderr)
        return 127
    while True:
        code = child.poll()
        if code is not None:
            stop_group(None, code if code >= 0 else 128 - code)  # the child's leftovers too
        if os.getppid() != parent:
            stop_group(child, 143)
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
