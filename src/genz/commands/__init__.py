"""Click commands of the genz CLI, one module per command group."""

from __future__ import annotations

import functools
import sys

import click

from ..errors import GenZError


def friendly(fn):
    """Turn genz's own errors into one-line messages and Ctrl-C into a clean exit (130)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GenZError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper
