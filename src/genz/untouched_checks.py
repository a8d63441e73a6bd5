"""The fit's checks on the untouched rows (docs/feature-table.md), as a part of
:class:`genz.discovery_run.DiscoveryRun`: the structure check (phase 1's structure against no
feature; when it is no better, the predictor keeps only the findings and pinned features), the
zero-shot check (the foundation model's target-blind proposals against the structure, and
beside it), and the routes the numbers and text checks open (the numbers route: a ridge's
columns beside the findings; the text route: the words' ridge's prediction beside the features)
and the tree route (a blend of the predictor with gradient-boosted trees on the table's columns).
Each scores structures fitted on the discovery rows on rows no choice touched
(:func:`genz.selection.holdout_losses`)."""

from __future__ import annotations

import numpy as np

from .discovery import Callbacks
from .inference import prior_mixture
from .selection import (TEXT_UNION_SE, UNION_SE, beside, holdout_losses, numeric_columns, paired, route_columns,
                        structure_check, text_route_gains)

__all__ = ["UntouchedRowChecks"]


class UntouchedRowChecks:
    """Mixed into :class:`genz.discovery_run.DiscoveryRun` (``self.disc``, ``self.split``,
    ``self.phase1``, ``self.sel``, ``self._structure``, ``self.tracker``, ``self.numbers_route_ok``,
    ``self.side_array``)."""

    #: the untouched rows' losses of what the predictor's checks compare with, when the structure
    #: check computed them (phase 1's structure; or no feature, after a fall-back that keeps none)
    _structure_losses: np.ndarray | None = None
    #: the text route's side inputs on every training row when it was tried (out-of-fold on the
    #: discovery rows, the text check's prediction on the untouched rows)
    _text_side: np.ndarray | None = None

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

    # -- the routes ------------------------------------------------------------------------------
    def _route_ridge(self, numbers: dict | None) -> str | None:
        """Which ridge of the numbers check (:func:`genz.selection.numbers_check`) the numbers
        route would take (``Selection.numbers_route``): one ahead of phase 1's structure on the
        untouched rows by more than ``route_se`` standard errors — ``"numbers"``, or with
        ``route_inputs="table"`` also ``"table"`` (both ahead: the smaller loss) — or None."""
        if numbers is None or not (self.sel.numbers_route and self.numbers_route_ok):
            return None
        r, ahead = self.sel.route_se, {}
        if numbers["diff"] > r * numbers["se"]:
            ahead["numbers"] = numbers["ridge_loss"]
        table = numbers.get("table")
        if self.sel.route_inputs == "table" and table is not None and table["diff"] > r * table["se"]:
            ahead["table"] = table["ridge_loss"]
        return min(ahead, key=ahead.get) if ahead else None

    def _text_beside(self, text: dict, h1: np.ndarray, Q1: np.ndarray, held: tuple) -> bool:
        """``Selection(text_route=True)``: does the words' ridge's prediction, as a side input beside
        phase 1's structure (``Q1``), lower the untouched rows' loss ``h1`` by more than
        :data:`genz.selection.TEXT_UNION_SE` standard errors and by more than
        :data:`genz.selection.TEXT_UNION_REL` of that loss (:func:`genz.selection.text_route_gains`)?
        The prediction is out-of-fold on the discovery rows and the text check's (``held``, :func:`genz.selection.text_holdout`) on the
        untouched rows; both fitted on the discovery rows and scored on the untouched rows.
        Records ``union_loss``, ``union_gain``, ``union_se`` in ``text``."""
        from .text_ridge import item_texts, out_of_fold

        items, Y, U, ia, iu = self.split
        folds, seed = self.sel.folds, int(self.disc.cfg.seed)
        P = np.zeros_like(np.asarray(Y, dtype=float))
        try:
            P[ia] = out_of_fold(item_texts(items)[ia], None if U is None else U[ia], Y[ia], folds, seed)
        except ValueError:  # a fold's texts share fewer than two terms
            return False
        P[iu] = held[0]
        self._text_side = beside(U, P)  # the text route's side inputs: what the tree route compares with after it
        both = holdout_losses(Q1, self._text_side, Y, ia, iu, folds, seed)
        gain, se = paired(h1 - both)
        text.update(union_loss=float(both.mean()), union_gain=gain, union_se=se)
        return text_route_gains(gain, se, text["genz_loss"])  # h1's mean, as the check recorded it

    def _route(self, h1: np.ndarray | None, Q1: np.ndarray, numbers: dict | None, text: dict | None,
               held: tuple | None) -> tuple[str | None, dict | None, np.ndarray | None]:
        """The route the predictor takes — ``"numbers"`` or ``"table"`` (:meth:`_route_ridge`; the
        caller keeps only the findings and pinned features beside the ridge's columns) or ``"text"``
        (``Selection.text_route``, :meth:`_text_beside`: the words' ridge's prediction, out-of-fold
        over every training row, beside the features) — its record (``numbers_route_``) and the
        side inputs of every training row; (None, None, None) for none. The evaluation set's side
        inputs are extended as predict would extend them, and the check's record says so."""
        from .text_ridge import TextRidge, item_texts, out_of_fold

        items, Y, U = self.split[:3]
        ridge = self._route_ridge(numbers)
        if ridge is not None:
            cols, X = numeric_columns(items)
            route: dict = {"columns": cols}
            if ridge == "table":  # the check's table ridge: skewed numbers logged, categories one-hot
                route.update(inputs="table", **{k: numbers["table"][k] for k in ("log", "floor", "levels")})
            if self.side_array:  # predict appends the route's columns (read from the items) to the U it is given
                route["array"] = int(U.shape[1])
            X = route_columns(items, route, X)
            extend = lambda its, _: route_columns(its, route)  # noqa: E731
            numbers.update(route=True, route_se=float(self.sel.route_se), route_inputs=ridge)  # genz.checks says so
        elif text is not None and self.sel.text_route and self.numbers_route_ok and self._text_beside(text, h1, Q1, held):
            texts = item_texts(items)
            try:
                X = out_of_fold(texts, U, Y, self.sel.folds, int(self.disc.cfg.seed))
            except ValueError:  # a fold's texts share fewer than two terms
                return None, None, None
            model = TextRidge().fit(texts, U, Y)
            route = {"inputs": "text", "columns": [], "targets": int(X.shape[1]), "text_model": model.to_json()}
            extend = lambda its, U_its: model.predict(item_texts(its), U_its)  # noqa: E731
            text.update(route=True, route_se=float(TEXT_UNION_SE))  # genz.checks.text_line says so
            ridge = "text"
        else:
            return None, None, None
        if self.tracker is not None:  # the evaluation set's side inputs, as predict would build them
            self.tracker.U = beside(self.tracker.U, extend(self.tracker.items, self.tracker.U))
        return ridge, route, beside(U, X)

    def _tree_blend(self, base: tuple, base_names: list[str], ridge: str | None, U_route: np.ndarray | None,
                    extra: tuple | None, held: tuple | None = None) -> dict | None:
        """``Selection(tree_route=True)``: does blending the predictor with gradient-boosted trees on
        the table's columns (:class:`genz.tree_route.TreeModel`), ``(1 − a)·predictor + a·trees``,
        lower the untouched rows' loss (:func:`genz.tree_route.tree_gains`: by more than
        :data:`genz.tree_route.TREE_GAIN_SE` standard errors and more than
        :data:`genz.tree_route.TREE_GAIN_REL`, 1%, of that loss)? The predictor is represented, as
        the text route's check does, by the structure ``base`` (phase 1's judgments and error rates,
        columns ``base_names``; after the numbers route only its findings and pinned features; with
        the zero-shot proposals ``extra`` beside it when they joined) with the side inputs the route
        gives (``ridge``: ``U_route``'s columns, the text route's prediction, or the side inputs
        alone); it and the trees are fitted on the discovery rows and predict the untouched rows,
        where the share is fitted (:func:`genz.tree_route.blend_losses`: each row scored with the
        share of the other folds). A blend rather than one more side input: beside many features the
        final refit's ridge gave the trees' column a negative weight where the test error rose
        (docs/user-guide.md, "The tree route"). When the items have texts (the text check's
        ``held``: the words' ridge, :class:`genz.text_ridge.TextRidge` on the texts and side inputs,
        fitted on the discovery rows), the blend with both, ``(1 − a_t − a_w)·predictor + a_t·trees
        + a_w·words`` (``a ≥ 0``, ``Σ a ≤ 1``, :func:`genz.tree_route.blend_shares`), is scored the
        same way and reported (``words``); with ``Selection(blend_words=True)`` it is the one that
        decides (not the default: it failed its development rule, docs/user-guide.md). The predictor
        itself is untouched; when taken, ``predict`` blends it with the trees (and the words' ridge)
        refitted on every training row. Returns the record (``tree_route_``; None when not tried: no
        untouched rows, several targets, no table columns, a discovery sample)."""
        from .selection import holdout_predictions
        from .text_ridge import TextRidge, item_texts
        from .tree_route import TREE_GAIN_SE, TreeModel, blend_losses, tree_gains, tree_spec

        if not (self.sel.tree_route and self.numbers_route_ok) or self.split is None or not len(self.split[4]):
            return None
        items, Y, U, ia, iu = self.split
        spec = None if Y.shape[1] != 1 else tree_spec(items)  # the columns the trees read (every training row)
        if spec is None:
            return None
        folds, seed = self.sel.folds, int(self.disc.cfg.seed)
        B0, e0, U_dec = base[0], np.asarray(base[1]), U
        if ridge in ("numbers", "table"):  # the route keeps the findings and pinned features only
            keep = self._findings_and_pinned(base_names)
            B0, e0, U_dec = B0[:, keep], e0[keep], U_route
        elif ridge == "text":
            U_dec = self._text_side
        Q = prior_mixture(B0, e0)
        if extra is not None:
            Q = np.hstack([Q, prior_mixture(extra[1], self.disc.cfg.advanced.eps_min)])
        f, y_var = holdout_predictions(Q, U_dec, Y, ia, iu, folds, seed)
        disc_items = [items[i] for i in ia]
        t = TreeModel(seed).fit(disc_items, Y[ia, 0], tree_spec(disc_items)).predict([items[i] for i in iu])
        h = (Y[iu, 0] - f[:, 0]) ** 2 / float(y_var[0])
        alone, alpha = blend_losses(Y[iu, 0], f[:, 0], t, float(y_var[0]), folds, seed)  # the trees' blend's losses
        gain, se = paired(h - alone)
        taken = tree_gains(gain, se, float(h.mean())) and alpha > 0
        rec = {"rows": int(len(iu)), "after": ridge or ("zero-shot" if extra is not None else "features"),
               "loss": float(h.mean()), "union_loss": float(alone.mean()), "gain": gain, "se": se,
               "alpha": alpha, "route": bool(taken), "route_se": float(TREE_GAIN_SE)}
        words = 0.0
        if held is not None:  # the words' ridge beside the trees (the text check's prediction of the untouched rows)
            both, shares = blend_losses(Y[iu, 0], f[:, 0], np.column_stack([t, held[0][:, 0]]), float(y_var[0]),
                                        folds, seed)
            w_gain, w_se = paired(h - both)
            w_taken = tree_gains(w_gain, w_se, float(h.mean())) and shares.sum() > 0
            rec["words"] = {"terms": int(held[1]), "union_loss": float(both.mean()), "gain": w_gain, "se": w_se,
                            "alpha": float(shares[0]), "share": float(shares[1]), "passes": bool(w_taken),
                            "used": bool(self.sel.blend_words)}
            if self.sel.blend_words:  # Selection.blend_words: the blend with both decides
                rec["trees_alone"] = {k: rec[k] for k in ("union_loss", "gain", "se", "alpha", "route")}
                (alpha, words), taken = (float(a) for a in shares), w_taken
                rec.update(union_loss=float(both.mean()), gain=w_gain, se=w_se, alpha=alpha, words_share=words,
                           route=bool(taken))
        if not taken:
            return rec
        if alpha > 0:
            model = TreeModel(seed).fit(items, Y[:, 0], spec)
            rec.update(columns=len(model.spec["columns"]), levels=sum(map(len, model.spec["levels"].values())),
                       model=model.to_json())
        if words > 0:
            rec.update(words_model=TextRidge().fit(item_texts(items), U, Y).to_json())
        if self.tracker is not None:  # the evaluation set's metrics blend as predict does
            self.tracker.tree = rec
        return rec

    @staticmethod
    def _route_reference(ridge: str | None, numbers: dict | None, text: dict, baseline: dict | None,
                         extra: tuple | None) -> tuple[str, float]:
        """What the predictor uses, and its loss on the untouched rows, for the text check's line
        (:func:`genz.checks.text_line`): the text route's union, the numbers route's ridge, the
        zero-shot proposals beside the structure, or the structure."""
        if ridge == "text":
            return "text route (the words' ridge beside the features)", text["union_loss"]
        if ridge is not None:
            return "numbers route", (numbers["table"] if ridge == "table" else numbers)["ridge_loss"]
        if extra is not None:
            return "zero-shot proposals beside the features", baseline["union_loss"]
        return "discovered features", text["genz_loss"]

    @staticmethod
    def _route_reason(route: dict, why: str, n: int) -> str:
        """The select step's reason when the predictor took a route (``why``: the reason without it;
        ``n``: the predictor's features)."""
        if route.get("inputs") == "text":
            return (f"{why} and the text route: the prediction of a ridge on the texts' words (TF-IDF of "
                    f"{len(route['text_model']['vocabulary'])} terms) as a side input beside them lowered the "
                    "untouched rows' loss")
        what = (f"the {len(route['columns'])} numeric column(s)" if "levels" not in route else
                f"the table's {len(route['columns'])} numeric column(s) ({len(route['log'])} logged) and "
                f"{sum(map(len, route['levels'].values()))} category level(s)")
        return (f"the numbers route: {what} as side inputs beside the findings and pinned features ({n}): a ridge "
                "on them predicted the untouched rows better")
