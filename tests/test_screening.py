"""Candidate screening (issue 12): with several mined candidates and a foundation model whose
judgments cost, each candidate is judged on a sample first and only the winner on every item;
the history records the judgments saved, and they equal the counted difference."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pytest

from genz.estimator import GenZRegressor
from genz.fm.predicates import PredicateFM
from genz.items import Item


@dataclass
class PaidFM(PredicateFM):
    """The offline engine billed like an LLM: its judgments cost, and every item judged is
    counted per descriptor."""

    name: str = "paid"
    conjunctions: bool = False  # single predicates: no parts judged besides the candidates
    asked: Counter = field(default_factory=Counter)
    free_judgments = False

    def judge(self, descriptor, items):
        self.asked[descriptor] += len(items)
        return super().judge(descriptor, items)


class PerStep:
    """What the FM was asked during each step (a progress callback)."""

    def __init__(self, fm: PaidFM) -> None:
        self.fm, self.seen, self.steps = fm, Counter(), []

    def on_step_end(self, rec) -> None:
        now = Counter(self.fm.asked)
        self.steps.append((rec, now - self.seen))
        self.seen = now


def _data(n: int, seed: int = 0) -> tuple[list[Item], np.ndarray]:
    r = np.random.default_rng(seed)
    size, rooms, age = r.integers(20, 300, n), r.integers(1, 8, n), r.integers(0, 100, n)
    city = r.choice(["A", "B", "C", "D", "E"], n)
    items = [Item(id=f"h{k}", attributes={"size": int(size[k]), "rooms": int(rooms[k]), "age": int(age[k]),
                                           "city": str(city[k])}) for k in range(n)]
    y = 2.0 * (size > 150) + 1.0 * (city == "C") - 0.7 * (age > 60) + 0.5 * (rooms > 4) + 0.1 * r.normal(size=n)
    return items, y


def test_losers_are_judged_on_the_sample_only_and_the_history_counts_it():
    items, y = _data(1500)
    fm = PaidFM()
    log = PerStep(fm)
    est = GenZRegressor(fm=fm, add_only=4, algorithm="simple", advanced={"n_candidates": 4}, random_state=0)
    est.fit(items, y, callbacks=log)
    N, n = 1500, 500  # no held-out selection with add_only: discovery sees all 1500; "auto" screens on 500
    screened = [(rec, asked) for rec, asked in log.steps if "screen" in rec]
    assert len(screened) >= 3
    for rec, asked in screened:
        s = rec["screen"]
        assert s["sample"] == n and s["candidates"] == len(asked) > 1
        winner = rec["feature"] if rec["action"] == "add" else None
        for d, k in asked.items():
            assert k == (N if d == winner else n), (d, k)  # the winner on all, the others on the sample
        # the recorded saving is the counted difference with judging every candidate on every item
        assert s["judgments_saved"] == s["candidates"] * N - sum(asked.values())
        assert rec["candidates"][0] == rec["feature"]
    total = sum(r["screen"]["judgments_saved"] for r, _ in screened)
    from genz.runfit import screening_saved

    assert total > 0 and screening_saved(est.history_) == total

    # the same fit without screening judges every candidate on every item
    fm2 = PaidFM()
    log2 = PerStep(fm2)
    GenZRegressor(fm=fm2, add_only=4, algorithm="simple", advanced={"n_candidates": 4, "screen_sample": None},
                  random_state=0).fit(items, y, callbacks=log2)
    assert all("screen" not in r for r, _ in log2.steps)
    assert all(k == N for _, asked in log2.steps for k in asked.values())


def test_screening_with_cross_validated_selection_judges_losers_on_the_sample_only():
    """With the default selection (30% of the rows set aside for the findings, the rest
    cross-validated), candidates are screened on a sample of the discovery rows; the untouched
    rows are judged only for the final features, once."""
    items, y = _data(2000, seed=1)
    fm = PaidFM()
    log = PerStep(fm)
    est = GenZRegressor(fm=fm, cycles=2, add_per_cycle=3, remove_per_cycle=1, algorithm="simple",
                        advanced={"n_candidates": 4}, random_state=0)
    est.fit(items, y, callbacks=log)
    from genz.settings import Selection

    NU = round(Selection().holdout * 2000)  # the default share set aside
    NA, n = 2000 - NU, 500
    screened = [(rec, asked) for rec, asked in log.steps if "screen" in rec]
    assert screened
    for rec, asked in screened:
        s = rec["screen"]
        assert s["sample"] == n
        rows = NA if rec["phase"] == 1 else 2000  # phase 2 goes on over every row
        winner = rec["candidates"][0] if rec.get("candidates") else None
        for d, k in asked.items():
            assert k == (rows if d == winner else n), (d, k)
        assert s["judgments_saved"] == s["candidates"] * rows - sum(asked.values())
    # the untouched rows are judged once, for the tested features only, when phase 2 starts; a
    # cut moved before the test (DiscoveryRun._settle_cuts) is judged on the discovery rows too
    extend = [asked for rec, asked in log.steps if rec["action"] == "extend"]
    assert extend and sorted(extend[0]) == sorted(est.inference_.features)
    seen = {f for rec, _ in log.steps if rec["phase"] == 1 and rec["action"] != "extend" for f in rec["features"]}
    assert all(extend[0][f] == (NU if f in seen else NU + NA) for f in est.inference_.features)
    assert not any(rec["phase"] == 1 and set(asked.values()) & {NU, 2000} for rec, asked in log.steps
                   if rec["action"] != "extend")
    assert len(est.features_) >= 2 and est.inference_.nobs == NU


def test_screening_is_off_for_free_judgments_and_when_asked():
    from genz.discovery import Discovery, DiscoveryConfig
    from genz.settings import Advanced

    items, y = _data(1500)
    Y = y[:, None]
    free = Discovery(PredicateFM(), DiscoveryConfig(), items, Y)
    paid = Discovery(PaidFM(), DiscoveryConfig(), items, Y)
    assert free.screen_size(5) is None and paid.screen_size(5) == 500 and paid.screen_size(1) is None
    small = Discovery(PaidFM(), DiscoveryConfig(), items[:900], Y[:900])
    assert small.screen_size(5) is None  # 500 would be more than half the items
    forced = Discovery(PredicateFM(), DiscoveryConfig(advanced=Advanced(screen_sample=100)), items, Y)
    assert forced.screen_size(3) == 100
    off = Discovery(PaidFM(), DiscoveryConfig(advanced=Advanced(screen_sample=None)), items, Y)
    assert off.screen_size(5) is None


@pytest.mark.parametrize("bad", [10, "all", 2.5, True])
def test_bad_screen_sample_is_one_line(bad):
    from genz.errors import GenZInputError

    with pytest.raises(GenZInputError, match="screen_sample"):
        GenZRegressor(advanced={"screen_sample": bad}).fit(*_data(50))


def test_run_directory_report_totals_the_saving_and_resume_keeps_it(tmp_path):
    """A run directory records each step's screening; the report's FM card totals it; a resumed
    run redoes nothing (the checkpoint has the history)."""
    from genz.report import build_report
    from genz.runfit import fit_run, screening_saved
    from genz.runs import RunDir

    items, y = _data(1200, seed=2)
    kw = dict(add_only=3, algorithm="simple", advanced={"n_candidates": 3}, random_state=0)
    est, run = fit_run(GenZRegressor(fm=PaidFM(), **kw), items, y, out=tmp_path / "run")
    hist = RunDir.open(tmp_path / "run").history()
    total = screening_saved(hist)
    assert total > 0 and total == screening_saved(est.history_)
    html = build_report([tmp_path / "run"]).read_text()
    assert f"{total:,} judgments saved by screening".replace(",", "") in html.replace(",", "")
    fm = PaidFM()
    est2, _ = fit_run(GenZRegressor(fm=fm, **kw), items, y, out=tmp_path / "run", resume=True)
    assert est2.features_ == est.features_ and sum(fm.asked.values()) == 0
