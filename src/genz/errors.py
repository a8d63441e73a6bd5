"""Exceptions raised by genz.

Every error a user can cause with bad input is a :class:`GenZInputError` with a one-line
message that names the file, the line or the item, and the problem.
"""

from __future__ import annotations


class GenZError(Exception):
    """Base class of genz's own errors."""


class GenZInputError(GenZError, ValueError):
    """Bad user input: items, targets, side inputs, options, run directories."""


class FMError(GenZError):
    """The foundation model could not give a usable answer."""


class MiningError(FMError):
    """Mining found no characteristic that separates the two groups."""


class CorruptFileError(GenZError):
    """A genz file (cache, history, checkpoint, saved model) is truncated or not genz's."""


class CheaperRouteWarning(UserWarning):
    """A fit's check against a cheaper route (README: the zero-shot check, the numbers check)
    found that route predicting the untouched rows better than what the predictor uses; the
    message is the line ``genz fit`` prints."""
