"""Click commands of the genz CLI, one module per command group, and what they share:

* :class:`GenzGroup` — the ``genz`` group: every exception that reaches the CLI boundary
  becomes one line (``Error: <file>:<line>: ... ; what to do``) and exit status 1, unless
  ``genz --debug`` (or ``GENZ_DEBUG=1``) asks for the traceback; Ctrl-C exits with 130.
* :func:`friendly` — the same for a single command used outside the group.
* :func:`one_line` — the one-line message of any exception.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from pathlib import Path

import click

from ..errors import GenZError

__all__ = ["GenzGroup", "friendly", "one_line", "debug_enabled", "check_output_path"]

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


def one_line(exc: BaseException) -> str:
    """One line that says what went wrong, where, and what to do (secrets masked:
    :func:`genz.fm.secrets.redact`)."""
    from ..fm.secrets import redact

    return redact(_one_line(exc))


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, GenZError):
        return " ".join(str(exc).split())
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
    msg = " ".join(str(exc).split()) or type(exc).__name__
    return (f"{type(exc).__name__}: {msg} (at {_where(exc)}); this is probably a bug in genz: rerun with "
            "genz --debug ... and report the traceback")


class GenzGroup(click.Group):
    """The ``genz`` group: one-line errors at the boundary (see the module docstring)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
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
    from ..runs import exit_now

    try:
        sys.stdout.fileno()
    except Exception:  # click.testing.CliRunner's captured streams
        sys.exit(code)
    exit_now(code)


def friendly(fn):
    """Turn any exception into a one-line message (``genz --debug`` shows the traceback), and
    Ctrl-C (130) or SIGTERM (143) into a clean exit: SIGTERM is raised like Ctrl-C
    (:func:`genz.runs.terminate_as_interrupt`)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..runs import Terminated, terminate_as_interrupt

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
