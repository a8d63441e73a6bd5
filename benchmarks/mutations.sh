#!/bin/bash
# Hand-written mutations of the core mathematics, each applied to a scratch copy of the committed
# tree (git archive HEAD), with the tests that must catch it; every line should end in "failed".
# Run from the repository root: bash benchmarks/mutations.sh   (about a minute on 2 cores)
set -u
ROOT=$(git rev-parse --show-toplevel)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
git -C "$ROOT" archive HEAD | tar -x -C "$WORK"
cd "$WORK"; export PYTHONPATH="$WORK/src" OMP_NUM_THREADS=1
run() { name="$1"; file="$2"; from="$3"; to="$4"; tests="$5"
  cp "$file" "$WORK/.mut_backup"
  python - "$file" "$from" "$to" <<'PY'
import sys; p,a,b=sys.argv[1:4]; s=open(p).read(); assert a in s, a; open(p,'w').write(s.replace(a,b,1))
PY
  if [ $? -ne 0 ]; then echo "MUTATION $name: NOT APPLIED (the code changed: update this line)"; return; fi
  out=$(timeout 1200 python -m pytest -q -p no:cacheprovider -x $tests 2>&1 | tail -1)
  cp "$WORK/.mut_backup" "$file"
  echo "MUTATION $name: $out"
}
run "intervals collapsed to [w, w]" src/genz/findings.py "return self.params - t * self.bse, self.params + t * self.bse" "return self.params.copy(), self.params.copy()" "tests/test_findings.py tests/test_selection.py"
run "every feature a finding" src/genz/findings.py "return self.testable & (self.qvalues <= self.error_rate)" "return self.testable | True" "tests/test_findings.py tests/test_selection.py"
run "no multiplicity correction" src/genz/findings.py "    q[fam] = adjust_pvalues(p[fam], correction)" "    q[fam] = p[fam]" "tests/test_findings.py"
run "findings tested on the discovery rows" src/genz/discovery_run.py "findings = fit_findings(prior_mixture(BI, eps_f, side_f), None if U is None else U[iu], Y[iu], names," "findings = fit_findings(prior_mixture(BA, eps_f, side_f), None if U is None else U[ia], Y[ia], names," "tests/test_findings.py"
run "discard list bypassed by conjunction parts" src/genz/discovery.py "if p not in self.features and p not in self.discarded and self._judge_part(p, known)]" "if p not in self.features and self._judge_part(p, known)]" "tests/test_selection_rules.py"
run "cv folds leak (fold's own rows in its fit)" src/genz/selection.py "                    G = G_all - Gf" "                    G = G_all.copy()" "tests/test_selection_rules.py"
run "keep rule always true" src/genz/selection.py "    return m > 0.0 and m > KEEP_SE * se" "    return True" "tests/test_selection_rules.py tests/test_findings.py"
run "epsilon never updated in the E-step" src/genz/inference.py "            if e != st.eps[k]:" "            if False:" "tests/test_noise_model.py tests/test_em_fast_paths.py"
run "posterior ignores the judgment" src/genz/inference.py "        logit = priors.logodds(k) + gap" "        logit = gap" "tests/test_noise_model.py tests/test_em_fast_paths.py"
run "exact engine's findings converted by a learned epsilon" src/genz/discovery_run.py 'if getattr(d.fm, "exact_judgments", False):' 'if False:' "tests/test_findings.py"
run "cut refinement not local" src/genz/fm/predicates/cuts.py "        g = np.where(np.abs(CC[i] - CC[i0]) <= moved_max, g, -np.inf)" "        g = g" "tests/test_cuts.py"
run "cut refinement one value off" src/genz/fm/predicates/cuts.py "        k = int(i[np.argmax(g)])" "        k = min(int(i[np.argmax(g)]) + 1, V - 1)" "tests/test_cuts.py"
run "cut refinement flips the direction" src/genz/fm/predicates/cuts.py "        return AtLeast(pred.attr, t) if isinstance(pred, AtLeast) else Below(pred.attr, t)" "        return Below(pred.attr, t) if isinstance(pred, AtLeast) else AtLeast(pred.attr, t)" "tests/test_cuts.py"
run "cut refinement does not centre the residual" src/genz/fm/predicates/cuts.py "    Rc = R - R.mean(axis=0)" "    Rc = R" "tests/test_cuts.py"
run "tested cuts not settled" src/genz/discovery_run.py "        names, BA = self._settle_cuts(names, self._judgments(names), cb)" "        BA = self._judgments(names)" "tests/test_findings.py"
run "tested cuts settled on the target, not the others' residual" src/genz/discovery_run.py "        R = d.Y - X @ np.linalg.lstsq(X, d.Y, rcond=None)[0]" "        R = d.Y - d.Y.mean(axis=0)" "tests/test_findings.py"
run "phrase move does not centre the residual" src/genz/fm/predicates/phrase_refine.py "    Rc = R - R.mean(axis=0)" "    Rc = R" "tests/test_phrase_refine.py"
run "phrase move to any phrase of the sentences" src/genz/fm/predicates/phrase_refine.py "MIN_OVERLAP = 0.5" "MIN_OVERLAP = 0.0" "tests/test_phrase_refine.py"
run "phrase move skips the readability rules" src/genz/fm/predicates/phrase_refine.py "        shown = rules.shown(Mentions(g))" "        shown = Mentions(g)" "tests/test_phrase_refine.py"
run "phrase move never made" src/genz/fm/predicates/engine.py "        move = refine_phrase if isinstance(core, Mentions) else refine_cut" "        move = refine_cut" "tests/test_phrase_refine.py"
run "unplaced cuts tested anyway" src/genz/discovery_run.py "tested=None if located is None else located >= self.sel.located, located=located," "tested=None, located=located," "tests/test_findings.py"
run "untested features counted in the correction" src/genz/findings.py "    fam = np.ones(K, bool) if tested is None else np.asarray(tested, bool)" "    fam = np.ones(K, bool)" "tests/test_findings.py"
run "a cut's place not resampled" src/genz/fm/predicates/cuts.py "        idx = rng.integers(0, N, N)" "        idx = np.arange(N)" "tests/test_cuts.py"
run "a phrase's place not resampled" src/genz/fm/predicates/phrase_refine.py "        w = np.bincount(rng.integers(0, N, N), minlength=N).astype(float)" "        w = np.ones(N)" "tests/test_phrase_refine.py"
run "zero-shot proposals always added" src/genz/untouched_checks.py "added = bool(helps and budget and linear)" "added = bool(budget and linear)" "tests/test_findings.py"
run "zero-shot proposals never added" src/genz/untouched_checks.py "added = bool(helps and budget and linear)" "added = False" "tests/test_findings.py"
run "holdout losses fitted on the held-out rows" src/genz/selection.py "    tr, te = np.asarray(train), np.asarray(test)" "    tr, te = np.asarray(test), np.asarray(test)" "tests/test_selection_rules.py"
run "Benjamini-Yekutieli without c_m (Benjamini-Hochberg's q)" src/genz/findings.py 'adj = np.minimum.accumulate((ps * m * dependence_price(method, m) / rank)[::-1])[::-1]' 'adj = np.minimum.accumulate((ps * m / rank)[::-1])[::-1]' "tests/test_findings.py"
run "Benjamini-Yekutieli intervals without c_m" src/genz/findings.py 'R * a / (m * dependence_price(self.correction, m))' 'R * a / m' "tests/test_findings.py"
run "an unplaced cut never placed again" src/genz/discovery_run.py "        if len(unplaced) > 1:" "        if False:" "tests/test_findings.py"
run "an unplaced cut placed again against every other feature" src/genz/discovery_run.py "                s = share(k, R_placed)" "                s = share(k, self._residual_of_others(np.delete(BA, k, axis=1)))" "tests/test_findings.py"
run "the screen ignored" src/genz/findings.py "            if level < 1:" "            if False:" "tests/test_findings.py"
run "the screen run on the untouched rows" src/genz/discovery_run.py "screen=(prior_mixture(BA, eps_f, side_f), d.U, d.Y, self.sel.discovery_p))" "screen=(prior_mixture(BI, eps_f, side_f), None if U is None else U[iu], Y[iu], self.sel.discovery_p))" "tests/test_findings.py"
run "numbers check's difference reversed" src/genz/selection.py "    m, se = paired(genz - loss)" "    m, se = paired(loss - genz)" "tests/test_numbers_check.py"
run "numbers check's ridge fitted on the scored rows" src/genz/selection.py "holdout_losses(np.zeros((len(Y), 0)), beside(U, Z), Y, train, test, folds, seed)" "holdout_losses(np.zeros((len(Y), 0)), beside(U, Z), Y, test, test, folds, seed)" "tests/test_numbers_check.py"
run "numbers check moves the fit (scales the targets in place)" src/genz/selection.py "    cols, X = numeric_columns(items)" "    cols, X = numeric_columns(items); Y *= 1.01" "tests/test_numbers_check.py"
run "Holm findings' intervals at Bonferroni's level" src/genz/findings.py "                out[sig] = 1.0 - a / (m - rank[sig] + 1)" "                out[sig] = 1.0 - a / m" "tests/test_findings.py"
run "Holm findings' intervals all at the last finding's level" src/genz/findings.py "                out[sig] = 1.0 - a / (m - rank[sig] + 1)" "                out[sig] = 1.0 - a / (m - R + 1)" "tests/test_findings.py"
run "why a feature was not tested re-read from the current settings" src/genz/findings.py "        placed = self.placed
        if placed is None" "        placed = None
        if placed is None" "tests/test_findings.py"
run "category-set shares not clipped (a NaN standard error drops a category)" src/genz/fm/predicates/families.py "    a, b = np.clip(cp / n_pos, 0.0, 1.0), np.clip(cn / n_neg, 0.0, 1.0)" "    a, b = cp / n_pos, cn / n_neg" "tests/test_predicates.py"
run "structure check never falls back" src/genz/selection.py "    fell = FALLBACK_SE is not None and m <= FALLBACK_SE * se" "    fell = False" "tests/test_structure_check.py"
run "structure check's gain reversed" src/genz/selection.py "    m, se = paired(empty - genz)" "    m, se = paired(genz - empty)" "tests/test_structure_check.py"
run "structure check scored on the discovery rows" src/genz/untouched_checks.py "            _, Y, U, ia, iu = sp" "            _, Y, U, ia, iu = sp[0], sp[1], sp[2], sp[3], sp[3]" "tests/test_structure_check.py"
run "fall-back keeps every tested feature" src/genz/discovery_run.py "            keep = self._findings_and_pinned(p1[\"features\"])" "            keep = list(range(len(p1[\"features\"])))" "tests/test_structure_check.py"
run "text route taken whatever its union gain" src/genz/untouched_checks.py "        return text_route_gains(gain, se, text[\"genz_loss\"])  # h1's mean, as the check recorded it" "        return True" "tests/test_text_check.py"
run "text route's share of the loss dropped" src/genz/selection.py "    return gain > TEXT_UNION_SE * se and gain > TEXT_UNION_REL * loss" "    return gain > TEXT_UNION_SE * se" "tests/test_text_check.py"
run "text route's standard errors dropped" src/genz/selection.py "    return gain > TEXT_UNION_SE * se and gain > TEXT_UNION_REL * loss" "    return gain > TEXT_UNION_REL * loss" "tests/test_text_check.py"
run "text route's prediction in-fold (its weight learned on rows the ridge saw)" src/genz/text_ridge.py "        texts[tr], None if U is None else U[tr], Y[tr]).predict(" "        texts, U, Y).predict(" "tests/test_text_check.py"
run "text check's ridge fitted on the rows it is scored on" src/genz/selection.py "        model = TextRidge().fit(texts[tr], None if U is None else U[tr], np.asarray(Y, dtype=float)[tr])" "        model = TextRidge().fit(texts[te], None if U is None else U[te], np.asarray(Y, dtype=float)[te])" "tests/test_text_check.py"
run "numbers route taken when the ridge is behind" src/genz/untouched_checks.py "        if numbers[\"diff\"] > r * numbers[\"se\"]:" "        if True:" "tests/test_numbers_route.py tests/test_table_route.py"
run "array route: predict drops the route's columns" src/genz/estimator_inputs.py "else route_columns(items, route)" "else 0.0 * route_columns(items, route)" "tests/test_table_route.py"
run "tree route taken whatever its gain" src/genz/tree_route.py "    return gain > TREE_GAIN_SE * se and gain > TREE_GAIN_REL * loss" "    return True" "tests/test_tree_route.py"
run "tree route's standard-error multiple dropped" src/genz/tree_route.py "TREE_GAIN_SE = 1.0" "TREE_GAIN_SE = 0.0" "tests/test_tree_route.py"
run "tree route's share of the loss dropped" src/genz/tree_route.py "    return gain > TREE_GAIN_SE * se and gain > TREE_GAIN_REL * loss" "    return gain > TREE_GAIN_SE * se" "tests/test_tree_route.py"
run "tree route's blend share fitted on the rows it is scored on" src/genz/tree_route.py "lambda tr, te: r[te] - blend_weight(r[tr], d[tr]) * d[te])" "lambda tr, te: r[te] - blend_weight(r, d) * d[te])" "tests/test_tree_route.py"
run "tree route's blend share not clipped to [0, 1]" src/genz/tree_route.py "float(np.clip((r @ d) / dd, 0.0, 1.0))" "float((r @ d) / dd)" "tests/test_tree_route.py"
run "tree route: predict drops the trees" src/genz/tree_route.py "        return blend(P, tree[\"alpha\"], TreeModel.from_json(tree[\"model\"]).predict(items))" "        return P" "tests/test_tree_route.py"
run "tree route: predict drops the words' ridge" src/genz/tree_route.py "    shares.append(tree[\"words_share\"])" "    shares.append(0.0)" "tests/test_tree_route.py"
run "tree route: the words' ridge without the fit's side inputs" src/genz/tree_route.py "np.asarray(U, dtype=float)[:, :n_u] if n_u else None" "np.zeros((len(items), n_u)) if n_u else None" "tests/test_tree_route.py"
run "tree route: the simplex's Σ a = 1 face forgotten" src/genz/tree_route.py "            for a in (free, full):" "            for a in (free,):" "tests/test_tree_route.py"
run "tree route: blend shares of the words scored in sample" src/genz/tree_route.py "lambda tr, te: r[te] - D[te] @ blend_shares(r[tr], D[tr]))" "lambda tr, te: r[te] - D[te] @ blend_shares(r, D))" "tests/test_tree_route.py"
run "tree route: the words' blend used by default" src/genz/untouched_checks.py "            if self.sel.blend_words:  # Selection.blend_words: the blend with both decides" "            if True:" "tests/test_tree_route.py"
