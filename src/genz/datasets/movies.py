"""Collaborative-filtering movie embeddings (docs/equations.md §7).

Loaders for the Netflix prize format and for MovieLens (100k, 1M, and the later
``ratings.csv``/``movies.csv`` releases) build a sparse user×movie rating matrix ``R``
(0 = not rated). Its rank-32 truncated SVD ``R ≈ P S Vᵀ`` (``scipy.sparse.linalg.svds`` with a
fixed start vector, so the result is reproducible) gives every movie an embedding, and the
``N`` most-rated movies (paper: 512) become the items, ``"Title (year)"``.

Two embedding conventions (``convention=``):

* ``"V"`` (default): the rows of ``V``, the unit right singular vectors. Every dimension has
  the same scale, so cosine similarity weighs the 32 directions equally.
* ``"VS"``: the rows of ``V·S``. With an uncentred rating matrix the first singular direction
  is popularity and dominates: even predicting the mean embedding for every movie scores a
  cosine of about 0.75, so the metric says little about the movie itself.

Cold start (paper Fig. 5), folding a new movie's ratings into these embeddings, is
:mod:`genz.datasets.cold_start`.

Every parser reports a malformed line as a one-line :class:`~genz.errors.GenZInputError`
naming the file and the line.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds

from ..errors import GenZInputError
from ..items import Item
from . import Dataset

__all__ = [
    "FORMATS",
    "Ratings",
    "MovieInfo",
    "SVDEmbedding",
    "read_netflix_ratings",
    "read_netflix_titles",
    "read_movielens_100k",
    "read_movielens_1m",
    "read_movielens_csv",
    "read_ratings",
    "rating_matrix",
    "svd_embeddings",
    "load_movies",
    "display_title",
]

FORMATS = ("netflix", "movielens-100k", "movielens-1m", "movielens")

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip

MOVIES_TASK = (
    "Predict a movie's 32-dimensional collaborative-filtering embedding (from the SVD of a "
    "user-by-movie rating matrix, so it encodes who watched and liked the movie) from its title "
    "and year of release{extra}."
)


# --------------------------------------------------------------------------- data classes


@dataclass
class Ratings:
    """Rating triplets with raw (file) ids. ``users``/``items`` are int64, ``values`` float."""

    users: np.ndarray
    items: np.ndarray
    values: np.ndarray
    source: str = ""

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass
class MovieInfo:
    """One movie's metadata: ``title`` (articles moved to the front), ``year`` or None,
    ``genres`` (possibly empty)."""

    id: int
    title: str
    year: int | None = None
    genres: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return f"{self.title} ({self.year})" if self.year is not None else self.title


@dataclass
class SVDEmbedding:
    """A rank-k truncated SVD ``R ≈ P diag(s) Vᵀ`` of a user×item matrix (s descending)."""

    P: np.ndarray  # n_users × k, orthonormal columns
    s: np.ndarray  # k
    V: np.ndarray  # n_items × k, orthonormal columns
    user_ids: np.ndarray
    item_ids: np.ndarray

    def item_embeddings(self, convention: str = "V") -> np.ndarray:
        _check_convention(convention)
        return self.V.copy() if convention == "V" else self.V * self.s


def _check_convention(convention: str) -> None:
    if convention not in ("V", "VS"):
        raise GenZInputError(f"embedding convention must be 'V' or 'VS', not {convention!r}")


# --------------------------------------------------------------------------- parsing helpers


def _read_text(path: Path, encoding: str) -> str:
    if not path.is_file():
        raise GenZInputError(f"{path}: no such file")
    data = path.read_bytes()
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise GenZInputError(f"{path}:{line}: not valid {encoding} text ({exc.reason})") from None


def _int_field(value: str, path: Path, lineno: int, what: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise GenZInputError(f"{path}:{lineno}: {what} {value.strip()!r} is not an integer") from None


def _rating_field(value: str, path: Path, lineno: int) -> float:
    try:
        v = float(value.strip())
    except ValueError:
        raise GenZInputError(f"{path}:{lineno}: rating {value.strip()!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise GenZInputError(f"{path}:{lineno}: rating {value.strip()!r} must be a positive number")
    return v


def _parse_triplets(
    lines: list[str], path: Path, sep: str, first_lineno: int, min_fields: int, max_fields: int
) -> Ratings:
    """Parse ``user<sep>item<sep>rating[<sep>...]`` lines fast, with an exact error on failure."""
    rows = [ln.split(sep) for ln in lines]
    try:
        if any(not (min_fields <= len(r) <= max_fields) for r in rows):
            raise ValueError
        arr = np.array([r[:3] for r in rows], dtype=float)
        if arr.size and (not np.isfinite(arr).all() or (arr[:, 2] <= 0).any() or (arr[:, :2] != np.round(arr[:, :2])).any()):
            raise ValueError
    except ValueError:
        # slow path: find and name the first bad line
        for k, r in enumerate(rows):
            lineno = first_lineno + k
            if not (min_fields <= len(r) <= max_fields):
                want = f"{min_fields}" if min_fields == max_fields else f"{min_fields}-{max_fields}"
                raise GenZInputError(
                    f"{path}:{lineno}: expected {want} fields separated by {sep!r} "
                    f"(user, movie, rating...), got {len(r)}: {lines[k].strip()[:80]!r}"
                ) from None
            _int_field(r[0], path, lineno, "user id")
            _int_field(r[1], path, lineno, "movie id")
            _rating_field(r[2], path, lineno)
        raise GenZInputError(f"{path}: malformed ratings") from None  # pragma: no cover
    if arr.shape[0] == 0:
        return Ratings(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), str(path))
    return Ratings(arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2].copy(), str(path))


def _nonblank(text: str) -> tuple[list[str], list[int]]:
    lines, numbers = [], []
    for k, ln in enumerate(text.splitlines(), start=1):
        if ln.strip():
            lines.append(ln)
            numbers.append(k)
    return lines, numbers


def _concat(parts: list[Ratings], source: str) -> Ratings:
    if not parts:
        raise GenZInputError(f"{source}: no ratings found")
    return Ratings(
        np.concatenate([p.users for p in parts]),
        np.concatenate([p.items for p in parts]),
        np.concatenate([p.values for p in parts]),
        source,
    )


_YEAR_RE = re.compile(r"^(.*\S)\s*\((\d{4})\)\s*$")
_ARTICLES = (
    "The", "A", "An", "Les", "La", "Le", "L'", "Il", "Das", "Der", "Die", "El", "Los", "Las",
    "Lo", "I", "O", "Os", "As", "Det", "Den", "En", "Et", "Une", "Un", "Ein", "Eine",
)  # fmt: skip
_ARTICLE_RE = re.compile(r"^(.*), (" + "|".join(re.escape(a) for a in _ARTICLES) + r")((?: \(.*\))?)$")


def display_title(title: str) -> str:
    """Undo MovieLens' "American President, The" convention: "The American President".
    An alternate title in parentheses is kept after the main title."""
    m = _ARTICLE_RE.match(title)
    if not m:
        return title
    main, art, rest = m.group(1), m.group(2), m.group(3)
    sep = "" if art.endswith("'") else " "
    return f"{art}{sep}{main}{rest}"


def _split_title_year(raw: str) -> tuple[str, int | None]:
    m = _YEAR_RE.match(raw.strip())
    if m:
        return display_title(m.group(1)), int(m.group(2))
    return display_title(raw.strip()), None


# --------------------------------------------------------------------------- Netflix


def _parse_netflix_block_file(path: Path, chunk: int = 1_000_000) -> Ratings:
    """A Netflix prize rating file: ``MovieID:`` lines, each followed by
    ``CustomerID,Rating,YYYY-MM-DD`` lines (``combined_data_*.txt`` or ``mv_*.txt``).

    Streams the file and packs every ``chunk`` ratings into compact arrays (int32 ids,
    float32 ratings), so the full prize data (100M ratings) fits in a few GB."""
    if not path.is_file():
        raise GenZInputError(f"{path}: no such file")
    parts_u: list[np.ndarray] = []
    parts_i: list[np.ndarray] = []
    parts_v: list[np.ndarray] = []
    users: list[int] = []
    items: list[int] = []
    values: list[float] = []

    def pack() -> None:
        parts_u.append(np.array(users, dtype=np.int32))
        parts_i.append(np.array(items, dtype=np.int32))
        parts_v.append(np.array(values, dtype=np.float32))
        users.clear()
        items.clear()
        values.clear()

    movie: int | None = None
    with path.open("r", encoding="latin-1", newline=None) as fh:
        for lineno, ln in enumerate(fh, start=1):
            s = ln.strip()
            if not s:
                continue
            if s.endswith(":"):
                movie = _int_field(s[:-1], path, lineno, "movie id")
                continue
            if movie is None:
                raise GenZInputError(f"{path}:{lineno}: rating line before any 'MovieID:' line: {s[:80]!r}")
            fields_ = s.split(",")
            if len(fields_) != 3:
                raise GenZInputError(
                    f"{path}:{lineno}: expected 'CustomerID,Rating,YYYY-MM-DD', got {len(fields_)} fields: {s[:80]!r}"
                )
            try:
                u = int(fields_[0])
                r = float(fields_[1])
                if not (r > 0 and math.isfinite(r)):
                    raise ValueError
            except ValueError:
                _int_field(fields_[0], path, lineno, "customer id")
                _rating_field(fields_[1], path, lineno)
                raise  # pragma: no cover
            users.append(u)
            items.append(movie)
            values.append(r)
            if len(users) >= chunk:
                pack()
    if movie is None:
        raise GenZInputError(f"{path}: no 'MovieID:' line (not a Netflix prize rating file)")
    pack()
    return Ratings(np.concatenate(parts_u), np.concatenate(parts_i), np.concatenate(parts_v), str(path))


def read_netflix_ratings(data_dir: str | Path) -> Ratings:
    """All Netflix prize ratings under ``data_dir``: ``combined_data_*.txt`` files, or else
    ``training_set/mv_*.txt`` (one movie per file)."""
    data_dir = Path(data_dir)
    files = sorted(data_dir.glob("combined_data_*.txt"))
    if not files:
        files = sorted((data_dir / "training_set").glob("mv_*.txt"))
    if not files:
        files = sorted(data_dir.glob("mv_*.txt"))
    if not files:
        raise GenZInputError(
            f"{data_dir}: no Netflix rating files (combined_data_*.txt or training_set/mv_*.txt)"
        )
    return _concat([_parse_netflix_block_file(f) for f in files], str(data_dir))


def read_netflix_titles(path: str | Path) -> dict[int, MovieInfo]:
    """``movie_titles.csv``/``.txt``: latin-1, no header, ``MovieID,YearOfRelease,Title`` where
    titles may contain commas (split at the first two commas only) and the year may be NULL."""
    path = Path(path)
    text = _read_text(path, "latin-1")
    out: dict[int, MovieInfo] = {}
    for lineno, ln in enumerate(text.splitlines(), start=1):
        if not ln.strip():
            continue
        parts = ln.split(",", 2)
        if len(parts) != 3:
            raise GenZInputError(
                f"{path}:{lineno}: expected 'MovieID,YearOfRelease,Title', got {ln.strip()[:80]!r}"
            )
        mid = _int_field(parts[0], path, lineno, "movie id")
        ys = parts[1].strip()
        if ys.upper() == "NULL" or ys == "":
            year = None
        else:
            year = _int_field(ys, path, lineno, "year")
        title = parts[2].strip()
        if not title:
            raise GenZInputError(f"{path}:{lineno}: movie {mid} has an empty title")
        if mid in out:
            raise GenZInputError(f"{path}:{lineno}: duplicate movie id {mid}")
        out[mid] = MovieInfo(mid, title, year, [])
    if not out:
        raise GenZInputError(f"{path}: no movie titles")
    return out


# --------------------------------------------------------------------------- MovieLens


def _read_genre_names(path: Path) -> tuple[str, ...]:
    if not path.exists():
        return ML100K_GENRES
    names: dict[int, str] = {}
    for lineno, ln in enumerate(_read_text(path, "latin-1").splitlines(), start=1):
        if not ln.strip():
            continue
        parts = ln.split("|")
        if len(parts) != 2:
            raise GenZInputError(f"{path}:{lineno}: expected 'genre|index', got {ln.strip()!r}")
        names[_int_field(parts[1], path, lineno, "genre index")] = parts[0]
    return tuple(names[k] for k in sorted(names))


def read_movielens_100k(data_dir: str | Path) -> tuple[Ratings, dict[int, MovieInfo]]:
    """MovieLens 100k: ``u.data`` (tab-separated ``user item rating timestamp``) and ``u.item``
    (latin-1, ``id|title|release date|video release date|IMDb URL|19 genre flags``)."""
    data_dir = Path(data_dir)
    path = data_dir / "u.data"
    lines, numbers = _nonblank(_read_text(path, "latin-1"))
    if numbers and numbers[-1] != len(numbers):  # blank lines inside: parse line by line
        ratings = _concat(
            [_parse_triplets([ln], path, "\t", no, 3, 4) for ln, no in zip(lines, numbers)], str(path)
        )
    else:
        ratings = _parse_triplets(lines, path, "\t", 1, 3, 4)
    genres = _read_genre_names(data_dir / "u.genre")
    ipath = data_dir / "u.item"
    movies: dict[int, MovieInfo] = {}
    for lineno, ln in enumerate(_read_text(ipath, "latin-1").splitlines(), start=1):
        if not ln.strip():
            continue
        parts = ln.split("|")
        if len(parts) != 5 + len(genres):
            raise GenZInputError(
                f"{ipath}:{lineno}: expected {5 + len(genres)} '|'-separated fields "
                f"(id|title|release date|video release date|URL|{len(genres)} genre flags), got {len(parts)}"
            )
        mid = _int_field(parts[0], ipath, lineno, "movie id")
        title, year = _split_title_year(parts[1])
        if year is None and len(parts[2]) >= 4 and parts[2][-4:].isdigit():
            year = int(parts[2][-4:])
        flags = parts[5:]
        if any(f.strip() not in ("0", "1") for f in flags):
            raise GenZInputError(f"{ipath}:{lineno}: genre flags must be 0 or 1")
        g = [name for name, f in zip(genres, flags) if f.strip() == "1" and name != "unknown"]
        movies[mid] = MovieInfo(mid, title, year, g)
    return ratings, movies


def _read_movies_dat(path: Path) -> dict[int, MovieInfo]:
    movies: dict[int, MovieInfo] = {}
    for lineno, ln in enumerate(_read_text(path, "latin-1").splitlines(), start=1):
        if not ln.strip():
            continue
        parts = ln.split("::")
        if len(parts) != 3:
            raise GenZInputError(f"{path}:{lineno}: expected 'MovieID::Title::Genres', got {ln.strip()[:80]!r}")
        mid = _int_field(parts[0], path, lineno, "movie id")
        title, year = _split_title_year(parts[1])
        genres = [g for g in parts[2].strip().split("|") if g and g != "(no genres listed)"]
        movies[mid] = MovieInfo(mid, title, year, genres)
    if not movies:
        raise GenZInputError(f"{path}: no movies")
    return movies


def _read_ratings_csv(path: Path) -> Ratings:
    text = _read_text(path, "utf-8")
    lines, numbers = _nonblank(text)
    if not lines:
        raise GenZInputError(f"{path}: empty ratings file")
    header = [h.strip().lower() for h in lines[0].split(",")]
    if header[:3] not in (["user_id", "movie_id", "rating"], ["userid", "movieid", "rating"]):
        raise GenZInputError(
            f"{path}:{numbers[0]}: expected a header 'user_id,movie_id,rating' or "
            f"'userId,movieId,rating,timestamp', got {lines[0].strip()[:80]!r}"
        )
    body, nums = lines[1:], numbers[1:]
    if nums and nums[-1] - nums[0] != len(nums) - 1:
        return _concat([_parse_triplets([ln], path, ",", no, len(header), len(header)) for ln, no in zip(body, nums)], str(path))
    return _parse_triplets(body, path, ",", nums[0] if nums else 2, len(header), len(header))


def read_movielens_1m(data_dir: str | Path) -> tuple[Ratings, dict[int, MovieInfo]]:
    """MovieLens 1M: ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``) or
    ``ratings.csv`` (header ``user_id,movie_id,rating``), and ``movies.dat`` (latin-1,
    ``MovieID::Title::Genres``)."""
    data_dir = Path(data_dir)
    dat = data_dir / "ratings.dat"
    if dat.exists():
        lines, numbers = _nonblank(_read_text(dat, "latin-1"))
        if numbers and numbers[-1] != len(numbers):
            ratings = _concat([_parse_triplets([ln], dat, "::", no, 3, 4) for ln, no in zip(lines, numbers)], str(dat))
        else:
            ratings = _parse_triplets(lines, dat, "::", 1, 3, 4)
    elif (data_dir / "ratings.csv").exists():
        ratings = _read_ratings_csv(data_dir / "ratings.csv")
    else:
        raise GenZInputError(f"{data_dir}: no ratings.dat or ratings.csv (MovieLens 1M)")
    return ratings, _read_movies_dat(data_dir / "movies.dat")


def read_movielens_csv(data_dir: str | Path) -> tuple[Ratings, dict[int, MovieInfo]]:
    """The later MovieLens releases (ml-latest, 20M, 25M, ...): ``ratings.csv``
    (``userId,movieId,rating,timestamp``) and ``movies.csv`` (``movieId,title,genres``, UTF-8,
    titles with commas quoted)."""
    data_dir = Path(data_dir)
    ratings = _read_ratings_csv(data_dir / "ratings.csv")
    path = data_dir / "movies.csv"
    text = _read_text(path, "utf-8")
    reader = csv.reader(io.StringIO(text))
    movies: dict[int, MovieInfo] = {}
    header_seen = False
    for row in reader:
        lineno = reader.line_num
        if not row or not any(c.strip() for c in row):
            continue
        if not header_seen:
            if [c.strip().lower() for c in row] != ["movieid", "title", "genres"]:
                raise GenZInputError(f"{path}:{lineno}: expected the header 'movieId,title,genres'")
            header_seen = True
            continue
        if len(row) != 3:
            raise GenZInputError(
                f"{path}:{lineno}: expected 3 fields 'movieId,title,genres' (quote titles with commas), got {len(row)}"
            )
        mid = _int_field(row[0], path, lineno, "movie id")
        title, year = _split_title_year(row[1])
        genres = [g for g in row[2].strip().split("|") if g and g != "(no genres listed)"]
        movies[mid] = MovieInfo(mid, title, year, genres)
    if not movies:
        raise GenZInputError(f"{path}: no movies")
    return ratings, movies


def detect_format(data_dir: str | Path) -> str:
    """Guess the rating format from the files in ``data_dir``."""
    d = Path(data_dir)
    if (d / "u.data").exists():
        return "movielens-100k"
    if (d / "movies.dat").exists():
        return "movielens-1m"
    if (d / "movies.csv").exists():
        return "movielens"
    if list(d.glob("combined_data_*.txt")) or (d / "training_set").is_dir() or list(d.glob("mv_*.txt")):
        return "netflix"
    raise GenZInputError(f"{d}: cannot tell the rating format (no u.data, movies.dat, movies.csv or Netflix files)")


def read_ratings(data_dir: str | Path, format: str = "auto") -> tuple[Ratings, dict[int, MovieInfo]]:
    """Ratings and movie metadata of a data folder in one of :data:`FORMATS`."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise GenZInputError(f"{data_dir}: no such data folder")
    if format == "auto":
        format = detect_format(data_dir)
    if format == "netflix":
        titles = None
        for name in ("movie_titles.csv", "movie_titles.txt"):
            if (data_dir / name).exists():
                titles = read_netflix_titles(data_dir / name)
                break
        if titles is None:
            raise GenZInputError(f"{data_dir}: no movie_titles.csv (Netflix prize)")
        return read_netflix_ratings(data_dir), titles
    if format == "movielens-100k":
        return read_movielens_100k(data_dir)
    if format == "movielens-1m":
        return read_movielens_1m(data_dir)
    if format == "movielens":
        return read_movielens_csv(data_dir)
    raise GenZInputError(f"unknown rating format {format!r}; expected one of {', '.join(FORMATS)}")


# --------------------------------------------------------------------------- matrix and SVD


def rating_matrix(ratings: Ratings) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """The sparse user×item matrix (0 = unrated) with its sorted raw user and item ids."""
    if len(ratings) == 0:
        raise GenZInputError(f"{ratings.source}: no ratings")
    user_ids, ui = np.unique(ratings.users, return_inverse=True)
    item_ids, ii = np.unique(ratings.items, return_inverse=True)
    key = ui.astype(np.int64) * len(item_ids) + ii
    uniq, counts = np.unique(key, return_counts=True)
    if (counts > 1).any():
        k = uniq[counts > 1][0]
        raise GenZInputError(
            f"{ratings.source}: user {user_ids[k // len(item_ids)]} rated movie "
            f"{item_ids[k % len(item_ids)]} more than once"
        )
    R = sp.csr_matrix((ratings.values, (ui, ii)), shape=(len(user_ids), len(item_ids)), dtype=float)
    return R, user_ids, item_ids


def svd_embeddings(R: sp.spmatrix, k: int = 32, user_ids: Any = None, item_ids: Any = None) -> SVDEmbedding:
    """Rank-``k`` truncated SVD of ``R`` (ARPACK with a fixed start vector: reproducible).

    Components are sorted by decreasing singular value; each component's sign is fixed so that
    its item vector has a positive sum (the popularity component is then positive)."""
    n_users, n_items = R.shape
    if k >= min(n_users, n_items):
        raise GenZInputError(
            f"an SVD of rank {k} needs more than {k} users and movies; the matrix is {n_users}×{n_items}"
        )
    v0 = np.random.default_rng(0).standard_normal(min(R.shape))
    P, s, Vt = svds(sp.csr_matrix(R, dtype=float), k=k, v0=v0, solver="arpack")
    order = np.argsort(-s)
    P, s, V = P[:, order], s[order], Vt[order].T
    signs = np.sign(V.sum(axis=0))
    signs[signs == 0] = 1.0
    P, V = P * signs, V * signs
    return SVDEmbedding(
        P=P,
        s=s,
        V=V,
        user_ids=np.asarray(user_ids if user_ids is not None else np.arange(n_users)),
        item_ids=np.asarray(item_ids if item_ids is not None else np.arange(n_items)),
    )


def load_movies(
    data_dir: str | Path,
    format: str = "auto",
    *,
    n_items: int = 512,
    dim: int = 32,
    convention: str = "V",
    svd_on: str = "all",
    titles: str | Path | None = None,
) -> Dataset:
    """The cold-start data set: the ``n_items`` most-rated movies, each an item
    ``"Title (year)"`` with attributes ``{title, year, genres}``, and target its ``dim``-dim SVD
    embedding in the chosen ``convention`` (``"V"`` or ``"VS"``).

    ``svd_on="all"`` (default, as in the paper) factorises the whole rating matrix;
    ``"top"`` only the columns of the selected movies. ``titles`` overrides the Netflix
    ``movie_titles.csv`` location. ``extra`` holds the matrix ``R``, the ``SVDEmbedding``,
    the selected columns ``cols`` and their rating counts (for :func:`cold_start_curve`).
    """
    _check_convention(convention)
    if svd_on not in ("all", "top"):
        raise GenZInputError(f"svd_on must be 'all' or 'top', not {svd_on!r}")
    data_dir = Path(data_dir)
    fmt = detect_format(data_dir) if format == "auto" else format
    if fmt == "netflix" and titles is not None:
        ratings = read_netflix_ratings(data_dir)
        movies = read_netflix_titles(titles)
    else:
        ratings, movies = read_ratings(data_dir, fmt)
    unknown = np.setdiff1d(np.unique(ratings.items), np.array(sorted(movies), dtype=np.int64))
    if unknown.size:
        raise GenZInputError(
            f"{ratings.source}: movie {unknown[0]} has ratings but no title"
            + (f" ({unknown.size - 1} more)" if unknown.size > 1 else "")
        )
    R, user_ids, item_ids = rating_matrix(ratings)
    counts = np.asarray((R != 0).sum(axis=0)).ravel()
    if n_items > R.shape[1]:
        raise GenZInputError(f"asked for the {n_items} most-rated movies but only {R.shape[1]} have ratings")
    # most-rated first; ties by movie id
    cols = np.lexsort((item_ids, -counts))[:n_items]
    if svd_on == "top":
        R_fit = R[:, cols]
        keep = np.asarray((R_fit != 0).sum(axis=1)).ravel() > 0
        R_fit = R_fit[keep]
        svd = svd_embeddings(R_fit, dim, user_ids[keep], item_ids[cols])
        emb = svd.item_embeddings(convention)
        sel = np.arange(n_items)
        R_used, cols_used = R_fit, sel
    else:
        svd = svd_embeddings(R, dim, user_ids, item_ids)
        emb = svd.item_embeddings(convention)[cols]
        R_used, cols_used = R, cols
    items = []
    for c in cols:
        m = movies[int(item_ids[c])]
        attrs: dict[str, Any] = {"title": m.title}
        if m.year is not None:
            attrs["year"] = m.year
        if m.genres:
            attrs["genres"] = list(m.genres)
        items.append(Item(id=str(m.id), text=m.text, attributes=attrs))
    has_genres = any(movies[int(item_ids[c])].genres for c in cols)
    return Dataset(
        name=f"movies-{fmt}",
        items=items,
        Y=emb,
        U=None,
        side_input_names=[],
        metric="cosine",
        task=MOVIES_TASK.format(extra=" (and its genres)" if has_genres else ""),
        extra={
            "format": fmt,
            "convention": convention,
            "svd_on": svd_on,
            "R": R_used,
            "svd": svd,
            "cols": cols_used,
            "counts": counts[cols],
            "n_users": R.shape[0],
            "n_movies": R.shape[1],
            "n_ratings": int(R.nnz),
        },
    )
