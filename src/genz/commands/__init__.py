"""Click commands of the genz CLI, one module per command group, and what they share:

* :class:`GenzGroup` — the ``genz`` group: every exception that reaches the CLI boundary
  becomes one line (``Error: <file>:<line>: ... ; what to do``) and exit status 1, unless
  ``genz --debug`` (or ``GENZ_DEBUG=1``) asks for the traceback; Ctrl-C exits with 130.
* :func:`friendly` — the same for a single command used outside the group.
* :func:`one_line` — the one-line message of any exception: a genz error as it is; a full
  disk, a read-only folder, numbers too large to compute with as what happened and what to
  do; only an unexpected exception is called a bug;
* a closed pipe (``genz show RUN | head -3``) ends the command quietly (:func:`quiet_broken_pipe`);
* :func:`grouped` — a command whose ``--help`` lists its options in sections, basic first.
"""

from __future__ import annotations

import errno
import functools
import os
import sys
import traceback
from pathlib import Path

import click

from ..errors import GenZError

__all__ = ["GenzGroup", "friendly", "one_line", "debug_enabled", "check_output_path", "grouped", "quiet_broken_pipe"]

_DEBUG = {"on": False}


def debug_enabled() -> bool:
    return _DEBUG["on"] or os.environ.get("GENZ_DEBUG", "") not in ("", "0")


def _where(exc: BaseException) -> str:
    """The innermost genz source line an exception came from (for a bug report)."""
    frames = traceback.extract_tb(exc.__traceback__)
    for fr in reversed(frames):
        if f"{os.sep}genz{os.sep}" in fr.filename:
            return f"genz/{fr.filename.split(f'{os.sep}genz{os.sep}', 1)[1]}:{fr.lineno}"
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


#: errors of the machine, not of genz: what happened and what to do
_SYSTEM = {
    errno.ENOSPC: "no space left on the disk; free some space (or write elsewhere) and rerun: a run directory keeps "
                  "its finished steps (genz fit ... --resume)",
    errno.EDQUOT: "disk quota exceeded; free some space (or write elsewhere) and rerun: a run directory keeps its "
                  "finished steps (genz fit ... --resume)",
    errno.EROFS: "the file system is read-only; write to another folder",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) or lower --fm-concurrency",
    errno.ENOMEM: "out of memory; use fewer items or fewer features",
}


def _system_error(exc: BaseException) -> str | None:
    """The one line for a full disk, a read-only folder and the like (None for others)."""
    import sqlite3

    code = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and code in _SYSTEM:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        return where + _SYSTEM[code]
    if isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower():
        return "the FM cache: " + _SYSTEM[errno.ENOSPC]
    if isinstance(exc, (OverflowError, FloatingPointError)):
        return (f"numbers too large to compute with ({' '.join(str(exc).split())}); rescale the target or the "
                "numeric columns (divide by a power of ten, or take the log)")
    return None


def one_line(exc: BaseException) -> str:
    """One line that says what went wrong, where, and what to do (secrets masked:
    :func:`genz.fm.secrets.redact`)."""
    from ..fm.secrets import redact

    return redact(_one_line(exc))


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, GenZError):
        return " ".join(str(exc).split())
    system = _system_error(exc)
    if system is not None:
        return system
    if isinstance(exc, UnicodeDecodeError):
        return (f"byte 0x{exc.object[exc.start:exc.start + 1].hex()} at offset {exc.start} is not {exc.encoding}; "
                "pass --encoding with the file's encoding, or save the file as UTF-8")
    if isinstance(exc, OSError) and exc.filename:
        what = exc.strerror or type(exc).__name__
        hint = ""
        if isinstance(exc, FileNotFoundError):
            parent = Path(str(exc.filename)).parent
            hint = (f"; the folder {parent} does not exist: create it first" if not parent.exists()
                    else "; check the path")
        elif isinstance(exc, PermissionError):
            hint = "; check the file's permissions"
        elif isinstance(exc, IsADirectoryError):
            hint = "; give a file, not a folder"
        return f"{exc.filename}: {what}{hint}"
    if isinstance(exc, MemoryError):
        return "out of memory; use fewer items or fewer features"
    if isinstance(exc, OSError) and exc.strerror:  # the machine's, not genz's: say what it said
        return (f"{exc.strerror} ({errno.errorcode.get(exc.errno or 0, type(exc).__name__)}); check the disk, the "
                "files' permissions and the network, then rerun")
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return (f"{type(exc).__name__}: {msg} (at {_where(exc)}); this is probably a bug in genz: rerun with "
            "genz --debug ... and report the traceback")


def quiet_broken_pipe() -> None:
    """The reader of our output went away (``genz show RUN | head -3``): stop quietly, as
    Unix tools do, with status 141 (128 + SIGPIPE) and no error at interpreter exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file (click's test runner)
        pass
    sys.exit(141)


def _broken_pipe(exc: BaseException) -> bool:
    return isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE)


class GenzGroup(click.Group):
    """The ``genz`` group: one-line errors at the boundary (see the module docstring)."""

    def main(self, *args, **kwargs):  # --help and --version write before any command runs
        try:
            return super().main(*args, **kwargs)
        except OSError as exc:
            if _broken_pipe(exc):
                quiet_broken_pipe()
            raise

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except OSError as exc:
            if _broken_pipe(exc):
                quiet_broken_pipe()
            if debug_enabled():
                raise
            raise click.ClickException(one_line(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except Exception as exc:
            if debug_enabled():
                raise
            raise click.ClickException(one_line(exc)) from None


def _exit(code: int) -> None:
    """Exit with ``code``: at once (no interpreter teardown) from a real terminal or pipe,
    through SystemExit under click's test runner."""
    from ..signals import exit_now

    try:
        sys.stdout.fileno()
    except Exception:  # click.testing.CliRunner's captured streams
        sys.exit(code)
    exit_now(code)


def friendly(fn):
    """Turn any exception into a one-line message (``genz --debug`` shows the traceback), and
    Ctrl-C (130) or SIGTERM (143) into a clean exit: SIGTERM is raised like Ctrl-C
    (:func:`genz.signals.terminate_as_interrupt`)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..signals import Terminated, terminate_as_interrupt

        try:
            with terminate_as_interrupt():
                return fn(*args, **kwargs)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Terminated:
            click.echo("terminated", err=True)
            _exit(143)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            _exit(130)
        except OSError as exc:
            if _broken_pipe(exc):
                quiet_broken_pipe()
            if debug_enabled():
                raise
            raise click.ClickException(one_line(exc)) from None
        except Exception as exc:
            if debug_enabled():
                raise
            raise click.ClickException(one_line(exc)) from None

    return wrapper


def check_output_path(path: str | os.PathLike, option: str = "--out") -> Path:
    """An output file's folder must exist (one line otherwise, before any work is done)."""
    from ..errors import GenZInputError

    p = Path(path)
    if p.is_dir():
        raise GenZInputError(f"{option} {p}: is a folder; give a file name, e.g. {p / 'predictions.csv'}")
    if not p.parent.is_dir():
        raise GenZInputError(f"{option} {p}: the folder {p.parent} does not exist; create it first")
    return p


def grouped(sections: list[tuple[str, list[str]]]) -> type[click.Command]:
    """A command class whose ``--help`` lists the options in ``sections`` (title, parameter
    names), in that order; options in no section come last under "Other options"."""

    class GroupedCommand(click.Command):
        def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
            rows: dict[str, tuple[str, str]] = {}
            for p in self.get_params(ctx):
                rec = p.get_help_record(ctx)
                if rec is not None:
                    rows[p.name or ""] = rec
            done: set[str] = set()
            for title, names in sections + [("Other options", [n for n in rows])]:
                recs = [rows[n] for n in names if n in rows and n not in done]
                done |= set(names)
                if recs:
                    with formatter.section(title):
                        formatter.write_dl(recs)

    return GroupedCommand
