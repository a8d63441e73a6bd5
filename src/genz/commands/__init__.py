"""Click commands of the genz CLI, one module per command group."""

from __future__ import annotations

import functools
import sys

import click

from ..errors import GenZError


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
    """Turn genz's own errors into one-line messages, and Ctrl-C (130) or SIGTERM (143) into a
    clean exit: SIGTERM is raised like Ctrl-C (:func:`genz.runs.terminate_as_interrupt`)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from ..runs import Terminated, terminate_as_interrupt

        try:
            with terminate_as_interrupt():
                return fn(*args, **kwargs)
        except GenZError as exc:
            raise click.ClickException(str(exc)) from None
        except Terminated:
            click.echo("terminated", err=True)
            _exit(143)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            _exit(130)

    return wrapper
