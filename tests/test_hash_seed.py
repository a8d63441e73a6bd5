"""A fit with a given ``random_state`` is the same in every Python process. Python salts the
hash of strings per process (``PYTHONHASHSEED``), so a set of strings iterates in a different
order each run; where such an order reached a ranking with ties (the phrases of a mined phrase's
sentences, the zero-shot proposals' values), the same fit chose other features in another
process. Each check runs the same code under two hash seeds and compares."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run(code: str, hash_seed: int) -> str:
    env = dict(os.environ, PYTHONHASHSEED=str(hash_seed), PYTHONPATH=SRC, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                         timeout=300, check=True)
    return out.stdout


def test_the_phrases_of_a_sentence_are_ranked_the_same_under_every_hash_seed():
    code = """
        import json
        from genz.fm.predicates.phrase_refine import _sentence_phrases
        from genz.fm.predicates.phrases import _phrase_pattern
        texts = [f"Dry red wine. The {a} finish is long and {b}. Notes of {c} and oak." for a, b, c in
                 [("mineral", "clean", "cherry"), ("smoky", "soft", "plum"), ("bright", "clean", "cherry"),
                  ("mineral", "soft", "cassis"), ("long", "round", "plum"), ("smoky", "clean", "fig")] * 3]
        print(json.dumps(_sentence_phrases(texts, _phrase_pattern("finish")).most_common()))
    """
    a, b = _run(code, 1), _run(code, 2)
    assert json.loads(a) and a == b


def test_zero_shot_proposals_are_the_same_under_every_hash_seed():
    code = """
        from genz import Item
        from genz.fm.predicates import PredicateFM
        items = [Item(id=str(i), text=f"Tags: {'a, b' if i % 3 else 'c, d'}. Colour: {'red' if i % 2 else 'white'}.",
                      attributes={"tags": [f"t{(i + j) % 7}" for j in range(3)], "n": i}) for i in range(60)]
        print(PredicateFM().propose("", items, n=40))
    """
    a, b = _run(code, 1), _run(code, 2)
    assert a.strip() and a == b
