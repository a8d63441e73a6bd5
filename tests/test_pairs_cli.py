"""``genz fit-pairs`` / ``genz predict-pairs`` / ``genz report`` on a two-sided run directory,
with resume, and ``genz experiment two-sided`` on the MovieLens fixture."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from genz.cli import main
from genz.pairs import GenZPairs

from .test_pairs import FIX, _world


def _write_world(d: Path) -> tuple[Path, Path, Path]:
    users, items, R = _world(40, 20, seed=5)
    up, ip, rp = d / "users.jsonl", d / "items.csv", d / "ratings.csv"
    up.write_text("".join(json.dumps(u.to_json()) + "\n" for u in users[:32]))
    with ip.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "kind", "year"])
        w.writerows([[i.id, i.attributes["kind"], i.attributes["year"]] for i in items[:16]])
    coo = R[:32][:, :16].tocoo()
    rp.write_text("user,item,rating\n" + "".join(f"u{r},i{c},{v:.3f}\n" for r, c, v in zip(coo.row, coo.col, coo.data)))
    (d / "new_users.jsonl").write_text("".join(json.dumps(u.to_json()) + "\n" for u in users[32:]))
    (d / "new_items.jsonl").write_text("".join(json.dumps(i.to_json()) + "\n" for i in items[16:]))
    return up, ip, rp


def test_fit_predict_report_and_resume(tmp_path):
    up, ip, rp = _write_world(tmp_path)
    run = tmp_path / "run"
    args = ["fit-pairs", "--users", str(up), "--items", str(ip), "--interactions", str(rp), "--k", "2",
            "--cycles", "2", "--out", str(run), "-q"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert json.loads((run / "pairs-run.json").read_text())["status"] == "complete"
    for side in ("users", "items"):
        assert (run / side / "model" / "model.json").exists() and (run / side / "history.jsonl").exists()
    model = GenZPairs.load(run)
    M0 = model.interactions_.M.copy()

    # a second fit into the same directory is refused with one line
    r = CliRunner().invoke(main, args)
    assert r.exit_code != 0 and "already holds a two-sided genz run" in r.output and "Traceback" not in r.output

    # an interrupted run (the pair files not yet written) resumes to the same model
    (run / "pairs.json").unlink()
    (run / "factors.npz").unlink()
    r = CliRunner().invoke(main, args + ["--resume"])
    assert r.exit_code == 0, r.output
    assert np.allclose(GenZPairs.load(run).interactions_.M, M0)
    # resuming with other settings is refused
    r = CliRunner().invoke(main, [a if a != "2" else "3" for a in args[:10]] + args[10:] + ["--resume"])
    assert r.exit_code != 0 and "different settings" in r.output

    # predictions for new users × new items, and ranked
    out = tmp_path / "p.csv"
    r = CliRunner().invoke(main, ["predict-pairs", str(run), "--users", str(tmp_path / "new_users.jsonl"),
                                  "--items", str(tmp_path / "new_items.jsonl"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 8 * 4 and set(rows[0]) == {"user", "item", "score"}
    r = CliRunner().invoke(main, ["predict-pairs", str(run), "--users", str(tmp_path / "new_users.jsonl"),
                                  "--items", str(tmp_path / "new_items.jsonl"), "--top", "2"])
    ranked = list(csv.DictReader(r.output.splitlines()))
    assert len(ranked) == 16 and [x["rank"] for x in ranked[:2]] == ["1", "2"]
    assert float(ranked[0]["score"]) >= float(ranked[1]["score"])

    # the report: both feature lists, the interaction table and the heat map
    r = CliRunner().invoke(main, ["report", str(run)])
    assert r.exit_code == 0, r.output
    html = (run / "report" / "report.html").read_text()
    assert 'id="users-features"' in html and 'id="items-features"' in html and 'class="inter"' in html
    assert (run / "report" / "interactions.png").stat().st_size > 1000
    for f in model.interactions_.user_features[:3]:
        assert f.replace('"', "&quot;").replace("'", "&#x27;") in html
    assert (run / "users" / "report" / "report.html").exists()


def test_bad_interactions_file_is_one_line(tmp_path):
    up, ip, rp = _write_world(tmp_path)
    rp.write_text("user,item,rating\nu0,i0,4\nu1,i1,lots\n")
    r = CliRunner().invoke(main, ["fit-pairs", "--users", str(up), "--items", str(ip), "--interactions", str(rp),
                                  "--out", str(tmp_path / "run")])
    assert r.exit_code != 0 and "ratings.csv:3: value 'lots' is not a number" in r.output
    rp.write_text("user,item,rating\nu0,i0,4\nnobody,i1,3\n")
    r = CliRunner().invoke(main, ["fit-pairs", "--users", str(up), "--items", str(ip), "--interactions", str(rp),
                                  "--out", str(tmp_path / "run")])
    assert r.exit_code != 0 and "unknown user id" in r.output and "'nobody'" in r.output


def test_experiment_two_sided_command_resumes_from_its_results_file(tmp_path):
    d = tmp_path / "ml"
    d.mkdir()
    for name in ("ratings.dat", "movies.dat"):
        shutil.copy(FIX / "ml-1m" / name, d / name)
    shutil.copy(FIX / "ml-1m-users" / "users.dat", d / "users.dat")
    out = tmp_path / "res.json"
    args = ["experiment", "two-sided", "--data", str(d), "--n-items", "8", "--k", "1", "--cycles", "1",
            "--item-cycles", "1", "--seeds", "0", "--out", str(out), "-q"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    first = json.loads(out.read_text())
    assert [s["seed"] for s in first["seeds"]] == [0] and "bilinear-ridge" in first["summary"]
    r = CliRunner().invoke(main, args[:-5] + ["--seeds", "0,1", "--out", str(out)])
    assert r.exit_code == 0, r.output
    both = json.loads(out.read_text())
    assert [s["seed"] for s in both["seeds"]] == [0, 1]
    assert both["seeds"][0] == first["seeds"][0]  # seed 0 was kept, not rerun
    assert "genz − method" in r.output
