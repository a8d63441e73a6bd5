"""An offline foundation model: a predicate engine that needs no LLM.

Descriptors are predicates over an item's attributes or text, rendered as plain English and
parsed back (so a saved model reloads and a cache key is just the descriptor text):

=====================  ==========================================================
family                 rendering (examples)
=====================  ==========================================================
threshold              ``'area' is at least 3000`` / ``the number is below 256``
range                  ``'year' is between 1995 and 2000``
modular range          ``the number modulo 256 is between 128 and 255``
category               ``'zip' is "92880"``
set of categories      ``'zip' is one of ["85255", "85262", "85377"]``
prefix                 ``'zip' starts with "85"``
list membership        ``'genres' include "Action"``
phrase in free text    ``mentions "north ames"``
negation               ``not ('area' is at least 3000)``
=====================  ==========================================================

"the number" is the item's text read as a number (items like ``"37"``).

**Mining** scores every candidate predicate on the positive and negative groups by the
*balanced accuracy* ``½ (TPR + TNR)`` (the default; ``score="mcc"`` uses the Matthews
correlation instead), minus ``complexity_penalty`` per unit of complexity (a threshold costs
1, a range or modular range 2, a set 1 + ½ per value, a negation ½ more), and returns the best
one that is not excluded. Counts are computed without materialising the candidates: sorted
values and binary search for thresholds and ranges, ``bincount`` + cumulative sums for modular
ranges and categories, and scikit-learn's ``CountVectorizer`` for phrases.

**Judging** evaluates the predicate. **Proposal** (the zero-shot baseline) returns a generic
pool: thresholds at the quartiles of every numeric attribute, the most frequent values of
every categorical or list attribute, and the most frequent phrases.
"""

from __future__ import annotations

from .engine import PredicateFM
from .grammar import parse_predicate
from .numfmt import cut_between, cut_upper
from .phrases import FUNCTION_WORDS, VAGUE_WORDS, is_readable_phrase, is_statement, phrase_in_context
from .predicate import (And, AtLeast, Below, Between, Equals, FieldIs, FieldMentions, HasField, Includes, Mentions,
                        ModRange, Not, OneOf, Predicate, StartsWith)
from .textfields import NumberKey, parse_text

__all__ = ["PredicateFM", "parse_predicate", "Predicate", "And", "AtLeast", "Below", "Between", "Equals", "Includes",
           "Mentions", "ModRange", "Not", "OneOf", "StartsWith", "FieldIs", "FieldMentions", "HasField", "NumberKey",
           "FUNCTION_WORDS", "VAGUE_WORDS", "is_readable_phrase", "is_statement", "phrase_in_context",
           "parse_text", "cut_between", "cut_upper"]
