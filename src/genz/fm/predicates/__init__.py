"""An offline foundation model: a predicate engine that needs no LLM (docs/offline-engine.md).

Descriptors are predicates over an item's attributes or text, rendered as plain English and
parsed back (so a saved model reloads and a cache key is just the descriptor text):

=======================  ==========================================================================
family                   rendering (examples)
=======================  ==========================================================================
threshold                ``'area' is at least 3000`` / ``the number is below 256``
range                    ``'year' is between 1995 and 2000``
modular range            ``the number modulo 256 is between 128 and 255``
category                 ``'zip' is "92880"``
set of categories        ``'zip' is one of ["85255", "85262", "85377"]``
prefix                   ``'zip' starts with "85"``
list membership          ``'genres' include "Action"``
a number in the text     ``the text's 'floor area' is at least 1,500 sq ft``, ``the text's 'rating' is
                         at least 7/10``, ``the text's area is below 900 sq ft``, ``the text's
                         'built' is between 1960 and 1990``, ``the text's number of bedrooms is 3``
a field of the text      ``the text's 'parking' is "garage"``, ``the text's 'neighborhood' is one of
                         ["Old Harbor", "Union Square"]``, ``the text's 'kitchen' mentions
                         "dishwasher"``, ``the text lists 'pool'``
phrase in free text      ``mentions "water damage"``
conjunction              ``('area' is at least 3000) and (mentions "sea view")``
=======================  ==========================================================================

"the number" is the item's text read as a number (items like ``"37"``). The text's fields and
numbers are read by :mod:`.textfields`; thresholds are written at the data's precision
(:mod:`.numfmt`); phrases are statements, never fragments (:mod:`.phrases`, :mod:`.readable`).
The engine never offers ``not (...)``: a descriptor that fits the negative group is offered as
it is and discovery flips the feature's polarity (old descriptors with ``not`` still parse).

Modules: :mod:`.values` and :mod:`.textfields` (what the engine reads), :mod:`.predicate` and
:mod:`.grammar` (the predicate types, rendered and parsed), :mod:`.families` and
:mod:`.textfamilies` (candidate mining: counts without materialising candidates),
:mod:`.readable` (what is offered), :mod:`.engine` (judging, mining, conjunctions) and
:mod:`.propose` (the zero-shot pool).

**Mining** scores every candidate on the positive and negative groups by the *balanced
accuracy* ``½ (TPR + TNR)`` centred at 0 (the default; ``score="mcc"`` uses the Matthews
correlation), in absolute value (a candidate may fit either group), minus
``complexity_penalty`` per unit of complexity (a threshold or a category costs 1, a range 2, a
set 1 + ½ per value, a phrase 1 and ¼ per word past two, ¼ more with a single content word).
**Judging** evaluates the predicate. **Proposal** (the zero-shot baseline) returns a generic
pool: thresholds at the quartiles of every numeric attribute and number in the text, the most
frequent values of every categorical or list attribute and field, and the most frequent
phrases that are statements.
"""

from __future__ import annotations

from .engine import PredicateFM
from .grammar import parse_predicate
from .numfmt import cut_between, cut_upper
from .phrases import FUNCTION_WORDS, VAGUE_WORDS, is_readable_phrase, is_statement, phrase_in_context
from .predicate import (And, AtLeast, Below, Between, Equals, FieldIs, FieldMentions, HasField, Includes, Mentions,
                        ModRange, Not, OneOf, Predicate, StartsWith)
from .readable import bare_fragment
from .textfields import NumberKey, parse_text

__all__ = ["PredicateFM", "parse_predicate", "Predicate", "And", "AtLeast", "Below", "Between", "Equals", "Includes",
           "Mentions", "ModRange", "Not", "OneOf", "StartsWith", "FieldIs", "FieldMentions", "HasField", "NumberKey",
           "FUNCTION_WORDS", "VAGUE_WORDS", "is_readable_phrase", "is_statement", "phrase_in_context",
           "parse_text", "cut_between", "cut_upper", "bare_fragment"]
