"""Soft judgments: using the foundation model's own P(yes) (token log-probabilities).

``Judgments.prob`` carries P(yes) per item where the backend can read it (see
:mod:`genz.fm.openai_compat`). Two uses:

* as soft evidence in place of the hard ``b_nk`` (``GenZRegressor(advanced={"soft_judgments": True})``);
* to initialise a feature's error rate ε_k (docs/equations.md eq. (3)-(5)) from the model's confidence
  instead of from eq. (14): the expected fraction of judgments that are wrong,
  ``ε_k = mean_n P(b_nk is wrong) = mean_n [b_nk (1 - p_nk) + (1 - b_nk) p_nk]``.
  The paper notes (Appendix B) that ε "could in principle be extracted from the foundational
  model using token probabilities"; it also notes the model's confidence only covers its
  judging, not how well the descriptor fits the data, so eq. (14) should still update it.
"""

from __future__ import annotations

import numpy as np

from .base import Judgments

__all__ = ["epsilon_from_prob"]


def epsilon_from_prob(j: Judgments, eps_min: float = 1e-3) -> float | None:
    """ε from P(yes): the mean probability that a judgment is wrong, clipped to
    ``[eps_min, 0.5]``; None when the judgments carry no probabilities."""
    if j.prob is None or len(j) == 0:
        return None
    p = np.clip(np.asarray(j.prob, dtype=float), 0.0, 1.0)
    b = j.values.astype(float)
    wrong = b * (1.0 - p) + (1.0 - b) * p
    return float(np.clip(wrong.mean(), eps_min, 0.5))
