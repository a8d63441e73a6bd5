"""The fit's checks on the untouched rows (docs/feature-table.md), as a part of
:class:`genz.discovery_run.DiscoveryRun`: the structure check (phase 1's structure against no
feature; when it is no better, the predictor keeps only the findings and pinned features) and
the zero-shot check (the foundation model's target-blind proposals against the structure, and
beside it). Each scores structures fitted on the discovery rows on rows no choice touched
(:func:`genz.selection.holdout_losses`)."""

from __future__ import annotations

import numpy as np

from .discovery import Callbacks
from .inference import prior_mixture
from .selection import UNION_SE, holdout_losses, paired, structure_check

__all__ = ["UntouchedRowChecks"]


class UntouchedRowChecks:
    """Mixed into :class:`genz.discovery_run.DiscoveryRun` (``self.disc``, ``self.split``,
    ``self.phase1``, ``self.sel``, ``self._structure``)."""

    #: the untouched rows' losses of what the predictor's checks compare with, when the structure
    #: check computed them (phase 1's structure; or no feature, after a fall-back that keeps none)
    _structure_losses: np.ndarray | None = None

    def _findings_and_pinned(self, names: list[str]) -> list[int]:
        """The positions in ``names`` of phase 1's findings and the pinned features: what the
        structure check and the numbers route keep."""
        f1 = self.phase1["findings"]
        keep = set([] if f1 is None else f1.findings) | {f for f, o in self.disc.origin.items() if o == "pinned"}
        return [k for k, f in enumerate(names) if f in keep]

    def _structure_check(self) -> dict:
        """The structure check (:func:`genz.selection.structure_check`, computed once): phase 1's
        structure and the side inputs alone, each fitted on the discovery rows, on the untouched
        rows. Without untouched rows or features: a record with ``rows`` 0 that never falls back."""
        if self._structure is not None:
            return self._structure
        p1, sp = self.phase1, self.split
        if sp is None or not len(sp[4]) or not p1["features"]:
            sc = {"rows": 0, "fell_back": False}
        else:
            _, Y, U, ia, iu = sp
            folds, seed = self.sel.folds, int(self.disc.cfg.seed)
            genz = holdout_losses(prior_mixture(p1["B"], p1["epsilon"]), U, Y, ia, iu, folds, seed)
            empty = holdout_losses(np.zeros((len(Y), 0)), U, Y, ia, iu, folds, seed)
            kept = [p1["features"][k] for k in self._findings_and_pinned(p1["features"])]
            sc = structure_check(genz, empty, kept, len(p1["features"]))
            self._structure_losses = genz if not sc["fell_back"] else empty if not kept else None
        self._structure = sc
        return sc

    ZERO_SHOT_PROPOSALS = 50

    def _zero_shot_check(self, names: list[str], B: np.ndarray, cb: Callbacks, genz: np.ndarray | None,
                         Q1: np.ndarray) -> tuple[dict | None, tuple[list[str], np.ndarray] | None]:
        """Would a cheaper route have predicted better? The foundation model's zero-shot proposals
        (``fm.propose``: features written without looking at the target, docs/equations.md §6),
        scored on the untouched rows against the structure tested for findings, each fitted on the
        discovery rows (:func:`genz.selection.holdout_losses`): the proposals alone, and the
        structure with the proposals beside it. The second decides whether the predictor takes the
        proposals too (they lower the untouched rows' loss by more than
        :data:`genz.selection.UNION_SE` standard errors; a linear model; within
        ``Selection.max_features``). Only when judging is free (the offline engine): with an LLM it
        would cost about 50 judgments per row. Returns the report (None when not made: no
        untouched rows, no proposals) and, when they join, the proposals not already in
        ``names`` (judgments ``B`` on every training row) or phase 1's structure, nor their
        complements, with their judgments on every training row. ``genz``: the losses on the
        untouched rows (None: no untouched rows) of ``Q1``, phase 1's structure (the FM priors on
        every training row) or, when the structure check fell back, its findings and pinned
        features."""
        d = self.disc
        if genz is None or not getattr(d.fm, "free_judgments", False) or not hasattr(d.fm, "propose"):
            return None, None
        items, Y, U, ia, iu = self.split
        cb.on_selection("comparing with zero-shot features on the untouched rows")
        rng = np.random.default_rng([int(d.cfg.seed), 23])
        sample = [d.items[i] for i in rng.choice(len(d.items), min(40, len(d.items)), replace=False)]
        try:
            proposals = list(dict.fromkeys(d.fm.propose("", sample, n=self.ZERO_SHOT_PROPOSALS)))
        except Exception:  # noqa: BLE001 - a backend without proposals: nothing to compare
            return None, None
        seen = {self._pattern(b) for b in np.hstack([self.phase1["B"], B]).T}
        props, cols = [], []
        for f in proposals:
            if f in names:
                continue
            b = d.judgment_values(d.judge(f, items))
            key = self._pattern(b)
            if 0 < (b[ia] > 0.5).mean() < 1 and key not in seen:
                seen.add(key)
                props.append(f)
                cols.append(b)
        if not cols:
            return None, None
        BZ = np.column_stack(cols)
        QZ = prior_mixture(BZ, d.cfg.advanced.eps_min)
        alone, both = (holdout_losses(Q, U, Y, ia, iu, self.sel.folds, int(d.cfg.seed)) for Q in (QZ, np.hstack([Q1, QZ])))
        (m, se), (gain, gain_se), (solo, solo_se) = paired(genz - alone), paired(genz - both), paired(both - alone)
        budget = self.sel.max_features is None or len(names) + len(props) <= self.sel.max_features
        linear = getattr(d.model, "name", "") == "linear"
        helps = gain > 0 and gain > UNION_SE * gain_se
        added = bool(helps and budget and linear)
        note = "" if added or not helps else \
            "not added: " + ("beyond Selection.max_features" if not budget else "not a linear model")
        report = {"proposals": len(props), "rows": int(len(iu)), "genz_loss": float(genz.mean()),
                  "zero_shot_loss": float(alone.mean()), "union_loss": float(both.mean()),
                  "diff": m, "se": se, "better": "zero-shot" if m > se else "genz" if m < -se else "tie",
                  "union_gain": gain, "union_se": gain_se, "added": added, "note": note,
                  "alone_gain": solo, "alone_se": solo_se, "proposal_names": list(props)}
        return report, ((props, BZ) if added else None)

    @staticmethod
    def _pattern(b: np.ndarray) -> bytes:
        """A feature's yes/no pattern up to complement (a proposal equal to a feature, or to its
        complement, adds nothing)."""
        yes = np.asarray(b) > 0.5
        return (yes if not yes[0] else ~yes).tobytes() if yes.size else b""
