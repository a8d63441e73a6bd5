import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from genz.datasets.cold_start import cold_start_curve, fold_in, worth_in_ratings
from genz.datasets.movies import (
    SVDEmbedding,
    display_title,
    load_movies,
    rating_matrix,
    read_netflix_titles,
    read_ratings,
    svd_embeddings,
)
from genz.errors import GenZInputError

FIX = Path(__file__).parent / "fixtures"

FORMAT_DIRS = [
    ("movielens-1m", "ml-1m"),
    ("movielens-1m", "ml-1m-csv"),
    ("movielens", "ml-latest"),
    ("movielens-100k", "ml-100k"),
    ("netflix", "netflix"),
    ("netflix", "netflix-training-set"),
]


def _dense(fmt, d):
    ratings, movies = read_ratings(FIX / d, fmt)
    R, users, items = rating_matrix(ratings)
    return R.toarray(), items, movies


@pytest.mark.parametrize("fmt,d", FORMAT_DIRS)
def test_every_format_gives_the_same_matrix(fmt, d):
    ref, ref_items, _ = _dense("movielens-1m", "ml-1m")
    R, items, movies = _dense(fmt, d)
    assert R.shape == (12, 8)
    assert list(items) == list(range(1, 9))
    np.testing.assert_array_equal(R, ref)
    assert set(movies) == set(range(1, 9))


@pytest.mark.parametrize("fmt,d", FORMAT_DIRS)
def test_auto_detects_format(fmt, d):
    ds = load_movies(FIX / d, "auto", n_items=6, dim=3)
    assert ds.extra["format"] == fmt
    assert ds.Y.shape == (6, 3)


def test_movielens_titles_genres_years_and_latin1():
    _, movies = read_ratings(FIX / "ml-1m", "movielens-1m")
    assert movies[2].title == "The American President" and movies[2].year == 1995
    assert movies[2].text == "The American President (1995)"
    assert movies[3].title == "Caf\u00e9 au Lait"  # latin-1 byte 0xE9 decoded
    assert movies[4].title == "The City of Lost Children (Cit\u00e9 des enfants perdus, La)"
    assert movies[8].title == "The Good, The Bad and The Ugly"
    assert movies[7].genres == ["Drama", "Romance", "War"]
    _, later = read_ratings(FIX / "ml-latest", "movielens")
    assert later[4].title == movies[4].title and later[8].year == 1966
    _, m100 = read_ratings(FIX / "ml-100k", "movielens-100k")
    assert m100[1].genres == ["Animation", "Children's", "Comedy"]
    assert m100[3].title == "Caf\u00e9 au Lait"


def test_netflix_titles_commas_null_years_latin1():
    titles = read_netflix_titles(FIX / "netflix" / "movie_titles.csv")
    assert titles[3].title == "At Home Among Strangers, A Stranger Among His Own"
    assert titles[5].title == "Angelina Ballerina: Lights, Camera, Action!"
    assert titles[2].year is None and titles[2].text == "Ancient Civilizations: Rome and Pompeii"
    assert titles[4].title == "Smokey Joe's Caf\u00e9" and titles[4].text == "Smokey Joe's Caf\u00e9 (2001)"


def test_netflix_items_have_no_year_attribute_when_null():
    ds = load_movies(FIX / "netflix", "netflix", n_items=8, dim=3)
    by_id = {it.id: it for it in ds.items}
    assert "year" not in by_id["2"].attributes
    assert by_id["1"].attributes["year"] == 2003
    assert by_id["1"].text == "Dinosaur Planet (2003)"


def test_display_title():
    assert display_title("Usual Suspects, The") == "The Usual Suspects"
    assert display_title("Beautiful Mind, A") == "A Beautiful Mind"
    assert display_title("Heat") == "Heat"


def _copy(tmp_path, d):
    dst = tmp_path / d
    shutil.copytree(FIX / d, dst)
    return dst


def test_malformed_lines_name_file_and_line(tmp_path):
    d = _copy(tmp_path, "ml-1m")
    p = d / "ratings.dat"
    lines = p.read_text().splitlines()
    lines[4] = "1::2::five::978300760"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(GenZInputError, match=r"ratings\.dat:5: rating 'five' is not a number"):
        read_ratings(d, "movielens-1m")
    lines[4] = "1::2"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(GenZInputError, match=r"ratings\.dat:5: expected 3-4 fields"):
        read_ratings(d, "movielens-1m")

    d = _copy(tmp_path, "netflix")
    p = d / "combined_data_2.txt"
    text = p.read_text().splitlines()
    text[2] = "1002;4;2005-03-12"
    p.write_text("\n".join(text) + "\n")
    with pytest.raises(GenZInputError, match=r"combined_data_2\.txt:3: expected 'CustomerID,Rating,YYYY-MM-DD'"):
        read_ratings(d, "netflix")
    p.write_text("1001,3,2005-02-11\n")
    with pytest.raises(GenZInputError, match=r"combined_data_2\.txt:1: rating line before any 'MovieID:' line"):
        read_ratings(d, "netflix")
    t = d / "movie_titles.csv"
    t.write_bytes(b"1,2003,Dinosaur Planet\n2,20x4,Isle of Man\n")
    with pytest.raises(GenZInputError, match=r"movie_titles\.csv:2: year '20x4' is not an integer"):
        read_netflix_titles(t)
    t.write_bytes(b"1,2003\n")
    with pytest.raises(GenZInputError, match=r"movie_titles\.csv:1: expected 'MovieID,YearOfRelease,Title'"):
        read_netflix_titles(t)

    d = _copy(tmp_path, "ml-latest")
    p = d / "movies.csv"
    p.write_text("movieId,title,genres\n1,Toy Story, (1995),Comedy\n", encoding="utf-8")
    with pytest.raises(GenZInputError, match=r"movies\.csv:2: expected 3 fields"):
        read_ratings(d, "movielens")
    (d / "ratings.csv").write_text("user,item,stars\n1,1,5\n")
    with pytest.raises(GenZInputError, match=r"ratings\.csv:1: expected a header"):
        read_ratings(d, "movielens")

    d = _copy(tmp_path, "ml-100k")
    (d / "u.item").write_bytes(b"1|Toy Story (1995)|01-Jan-1995||url|0|1\n")
    with pytest.raises(GenZInputError, match=r"u\.item:1: expected 24 '\|'-separated fields"):
        read_ratings(d, "movielens-100k")


def test_duplicate_rating_and_unknown_movie(tmp_path):
    d = _copy(tmp_path, "ml-1m")
    with (d / "ratings.dat").open("a") as fh:
        fh.write("1::1::2::978300760\n")
    with pytest.raises(GenZInputError, match="user 1 rated movie 1 more than once"):
        load_movies(d, "movielens-1m", n_items=4, dim=2)
    d = _copy(tmp_path, "ml-1m-csv")
    with (d / "ratings.csv").open("a") as fh:
        fh.write("1,99,4\n")
    with pytest.raises(GenZInputError, match="movie 99 has ratings but no title"):
        load_movies(d, "movielens-1m", n_items=4, dim=2)
    with pytest.raises(GenZInputError, match="no such data folder"):
        load_movies(tmp_path / "nope", "movielens-1m")
    with pytest.raises(GenZInputError, match="convention"):
        load_movies(FIX / "ml-1m", "movielens-1m", n_items=4, dim=2, convention="U")


def test_top_n_and_conventions():
    dsV = load_movies(FIX / "ml-1m", "movielens-1m", n_items=5, dim=3, convention="V")
    dsVS = load_movies(FIX / "ml-1m", "movielens-1m", n_items=5, dim=3, convention="VS")
    counts = dsV.extra["counts"]
    assert list(counts) == sorted(counts, reverse=True)
    assert [it.id for it in dsV.items] == [it.id for it in dsVS.items]
    assert dsV.items[0].id == "1"  # movie 1 is rated by every user
    svd = dsV.extra["svd"]
    np.testing.assert_allclose(dsVS.Y, dsV.Y * svd.s)
    # V has orthonormal columns over all movies
    np.testing.assert_allclose(svd.V.T @ svd.V, np.eye(3), atol=1e-8)
    # reproducible
    again = load_movies(FIX / "ml-1m", "movielens-1m", n_items=5, dim=3)
    np.testing.assert_array_equal(again.Y, dsV.Y)
    top = load_movies(FIX / "ml-1m", "movielens-1m", n_items=5, dim=3, svd_on="top")
    assert top.Y.shape == (5, 3)


def test_svd_matches_dense_svd():
    R, _, _ = rating_matrix(read_ratings(FIX / "ml-1m", "movielens-1m")[0])
    svd = svd_embeddings(R, 3)
    s_dense = np.linalg.svd(R.toarray(), compute_uv=False)[:3]
    np.testing.assert_allclose(svd.s, s_dense, rtol=1e-8)
    np.testing.assert_allclose((svd.P * svd.s) @ svd.V.T, _rank_k(R.toarray(), 3), atol=1e-8)
    assert (svd.V.sum(axis=0) > 0).all()


def _rank_k(A, k):
    u, s, vt = np.linalg.svd(A, full_matrices=False)
    return (u[:, :k] * s[:k]) @ vt[:k]


def test_fold_in_with_all_ratings_recovers_embedding():
    R, _, _ = rating_matrix(read_ratings(FIX / "ml-1m", "movielens-1m")[0])
    svd = svd_embeddings(R, 3)
    col = R.tocsc()[:, 2]
    for conv in ("V", "VS"):
        e = fold_in(svd, col.indices, col.data, conv)
        np.testing.assert_allclose(e, svd.item_embeddings(conv)[2], atol=1e-8)


def test_cold_start_curve_and_worth():
    R, _, _ = rating_matrix(read_ratings(FIX / "ml-1m", "movielens-1m")[0])
    svd = svd_embeddings(R, 3)
    curve = cold_start_curve(R, svd, n_movies=5, max_ratings=20, seed=1)
    assert curve["n_movies"] == 5 and curve["counts"][0] == 1
    assert len(curve["mean"]) == len(curve["counts"]) == len(curve["q05"])
    assert all(lo <= m + 1e-12 and m <= hi + 1e-12 for lo, m, hi in zip(curve["q05"], curve["mean"], curve["q95"]))
    # with every rating in, the fold-in is the embedding itself
    assert curve["frac_complete"][-1] == 1.0
    assert math.isclose(curve["mean"][-1], 1.0, rel_tol=1e-9)
    assert curve == cold_start_curve(R, svd, n_movies=5, max_ratings=20, seed=1)
    users = cold_start_curve(R, svd, n_movies=5, max_ratings=12, seed=1, per="user")
    assert users["counts"][-1] == 12 and math.isclose(users["mean"][-1], 1.0, rel_tol=1e-9)


def test_worth_in_ratings_interpolates():
    curve = {"counts": [1, 10, 100], "mean": [0.1, 0.3, 0.5]}
    assert worth_in_ratings(0.3, curve) == pytest.approx(10)
    assert worth_in_ratings(0.4, curve) == pytest.approx(55)
    assert worth_in_ratings(0.05, curve) == 0.0
    assert worth_in_ratings(0.6, curve) == math.inf
    with pytest.raises(GenZInputError):
        worth_in_ratings(float("nan"), curve)


def test_svd_rank_too_large():
    R, _, _ = rating_matrix(read_ratings(FIX / "ml-1m", "movielens-1m")[0])
    with pytest.raises(GenZInputError, match="rank 8"):
        svd_embeddings(R, 8)
    assert isinstance(svd_embeddings(R, 2), SVDEmbedding)
