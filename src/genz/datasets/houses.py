"""The Houses dataset of Ahmed & Moustafa (2016): 535 listings, target ``log price`` (docs/equations.md §7).

``HousesInfo.txt`` has one house per line, ``bedrooms bathrooms area zipcode price``
(space-separated, no header); line *i* is house *i*, whose images are
``images/i_{bathroom,bedroom,frontal,kitchen}.jpg`` (or, as in the original repository, next
to ``HousesInfo.txt``).

Each house becomes an :class:`~genz.items.Item` whose attributes are the listing's metadata
without the price — bedrooms, bathrooms, area (sq ft), zip code — plus the zip code's city,
county and state from the offline ``zipcodes`` package (no network), and, when a descriptions
file exists, one text description per listing image (``genz describe-images``).

Side inputs (the paper's "intercept, area, bedrooms, bathrooms"): ``U`` holds
``log_area, bedrooms, bathrooms``. There is **no intercept column**: genz's observation models
carry their own constant (docs/equations.md §4, ``z̃ = [z; u; 1]``). The area enters as its logarithm
because the target is a log price (a price elasticity per unit of log area); pass
``area="raw"`` for the raw square feet.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GenZInputError
from ..items import Item
from . import Dataset

__all__ = ["load_houses", "read_houses_info", "zip_info", "load_image_descriptions", "IMAGE_KINDS"]

IMAGE_KINDS = ("frontal", "kitchen", "bedroom", "bathroom")
DESCRIPTION_FILES = ("image_descriptions.jsonl", "image_descriptions.json")

HOUSES_TASK = (
    "Predict the log of the 2016 listing price of a US house from its listing: number of bedrooms "
    "and bathrooms, living area in square feet, zip code (with its city, county and state) and, "
    "when available, descriptions of its listing photos."
)


def read_houses_info(path: str | Path) -> list[dict[str, Any]]:
    """Parse ``HousesInfo.txt``; one dict per house (``id`` is the 1-based line number).

    Raises :class:`GenZInputError` naming the file and line for a malformed line.
    """
    path = Path(path)
    if not path.is_file():
        raise GenZInputError(f"{path}: no such file (expected the Houses dataset's HousesInfo.txt)")
    rows: list[dict[str, Any]] = []
    with path.open("r", encoding="ascii", errors="strict") as fh:
        try:
            lines = fh.read().splitlines()
        except UnicodeDecodeError as exc:
            raise GenZInputError(f"{path}: not an ASCII text file ({exc.reason} at byte {exc.start})") from None
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 5:
            raise GenZInputError(
                f"{path}:{lineno}: expected 5 space-separated fields "
                f"'bedrooms bathrooms area zipcode price', got {len(parts)}: {line.strip()!r}"
            )
        names = ("bedrooms", "bathrooms", "area", "zipcode", "price")
        vals: dict[str, float] = {}
        for name, cell in zip(names, parts):
            try:
                v = float(cell)
            except ValueError:
                raise GenZInputError(f"{path}:{lineno}: {name} = {cell!r} is not a number") from None
            if not math.isfinite(v) or v < 0:
                raise GenZInputError(f"{path}:{lineno}: {name} = {cell!r} is not a non-negative number")
            vals[name] = v
        zipcode = parts[3]
        if not (zipcode.isdigit() and len(zipcode) == 5):
            raise GenZInputError(f"{path}:{lineno}: zip code {zipcode!r} is not 5 digits")
        if vals["price"] <= 0:
            raise GenZInputError(f"{path}:{lineno}: price {parts[4]!r} must be positive (the target is its log)")
        if vals["area"] <= 0:
            raise GenZInputError(f"{path}:{lineno}: area {parts[2]!r} must be positive")
        rows.append(
            {
                "id": str(lineno),
                "bedrooms": int(vals["bedrooms"]) if vals["bedrooms"].is_integer() else vals["bedrooms"],
                "bathrooms": vals["bathrooms"],
                "area": int(vals["area"]) if vals["area"].is_integer() else vals["area"],
                "zipcode": zipcode,
                "price": vals["price"],
            }
        )
    if not rows:
        raise GenZInputError(f"{path}: no houses in the file")
    return rows


def zip_info(zipcode: str) -> dict[str, str]:
    """City, county and state of a US zip code from the ``zipcodes`` package's bundled
    database (offline); an empty dict for a zip code it does not know."""
    import zipcodes  # bundled database, no network

    try:
        matches = zipcodes.matching(zipcode)
    except (ValueError, TypeError):
        return {}
    if not matches:
        return {}
    m = matches[0]
    out = {}
    for key in ("city", "county", "state"):
        v = m.get(key)
        if v:
            out[key] = str(v).title() if key == "city" and str(v).isupper() else str(v)
    return out


def load_image_descriptions(path: str | Path) -> dict[str, str]:
    """Image descriptions keyed by image file name (``1_frontal.jpg``).

    Accepts a JSONL file with one object per line, ``{"image": <path or name>,
    "description": <text>}`` (``path``/``text`` are accepted for the two keys), or a JSON
    object mapping image path or name to its description.
    """
    path = Path(path)
    out: dict[str, str] = {}
    if path.suffix == ".json":
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise GenZInputError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
        if not isinstance(obj, dict) or not all(isinstance(v, str) for v in obj.values()):
            raise GenZInputError(f"{path}: expected a JSON object mapping image names to description strings")
        return {Path(k).name: v for k, v in obj.items()}
    from ..items import json_records

    for lineno, rec in json_records(path, path.read_text(encoding="utf-8")):
        image = rec.get("image", rec.get("path"))
        desc = rec.get("description", rec.get("text"))
        if not isinstance(image, str) or not isinstance(desc, str):
            raise GenZInputError(f"{path}:{lineno}: expected string fields 'image' and 'description'")
        out[Path(image).name] = desc
    return out


def _describe(row: dict[str, Any], place: dict[str, str]) -> str:
    baths = row["bathrooms"]
    baths_s = f"{baths:g}"
    where = f"zip code {row['zipcode']}"
    if place:
        loc = ", ".join(place[k] for k in ("city", "county", "state") if k in place)
        where += f" ({loc})"
    return (
        f"A house with {row['bedrooms']} bedrooms and {baths_s} bathrooms, "
        f"{row['area']} square feet, in {where}."
    )


def load_houses(
    data_dir: str | Path,
    *,
    descriptions: str | Path | None = None,
    area: str = "log",
) -> Dataset:
    """Load the Houses dataset from ``data_dir`` (the folder holding ``HousesInfo.txt``).

    * ``Y``: N×1 natural log of the price.
    * ``U``: N×3 ``[log_area, bedrooms, bathrooms]`` (``area="raw"``: raw square feet);
      no intercept column (the models add a constant).
    * item attributes: ``bedrooms``, ``bathrooms``, ``area``, ``zipcode`` (string), ``city``,
      ``county``, ``state`` (when the zip code is known to the ``zipcodes`` database), and
      ``image_descriptions`` (``["frontal: ...", ...]``) when a descriptions file exists;
      ``images`` lists the house's image files that exist on disk.
    * ``descriptions``: an image-descriptions file (see :func:`load_image_descriptions`);
      by default ``image_descriptions.jsonl`` or ``.json`` in ``data_dir`` if present.
    * ``extra``: ``price`` (N,), ``zipcode`` (N,), ``n_images``, ``n_described``.
    """
    data_dir = Path(data_dir)
    if area not in ("log", "raw"):
        raise GenZInputError(f"area must be 'log' or 'raw', not {area!r}")
    info = data_dir / "HousesInfo.txt"
    if not info.exists() and (data_dir / "Houses Dataset" / "HousesInfo.txt").exists():
        data_dir = data_dir / "Houses Dataset"
        info = data_dir / "HousesInfo.txt"
    rows = read_houses_info(info)

    desc_map: dict[str, str] = {}
    if descriptions is not None:
        if not Path(descriptions).exists():
            raise GenZInputError(f"{descriptions}: no such image-descriptions file")
        desc_map = load_image_descriptions(descriptions)
    else:
        for name in DESCRIPTION_FILES:
            if (data_dir / name).exists():
                desc_map = load_image_descriptions(data_dir / name)
                break

    image_dirs = [data_dir / "images", data_dir]
    places: dict[str, dict[str, str]] = {}
    items: list[Item] = []
    n_images = n_described = 0
    for row in rows:
        z = row["zipcode"]
        if z not in places:
            places[z] = zip_info(z)
        place = places[z]
        attrs: dict[str, Any] = {
            "bedrooms": row["bedrooms"],
            "bathrooms": row["bathrooms"],
            "area": row["area"],
            "zipcode": z,
        }
        attrs.update(place)
        images: list[str] = []
        descs: list[str] = []
        for kind in IMAGE_KINDS:
            fname = f"{row['id']}_{kind}.jpg"
            for d in image_dirs:
                if (d / fname).is_file():
                    images.append(str(d / fname))
                    break
            if fname in desc_map:
                descs.append(f"{kind}: {desc_map[fname]}")
        if descs:
            attrs["image_descriptions"] = descs
            n_described += 1
        n_images += len(images)
        items.append(Item(id=row["id"], text=_describe(row, place), attributes=attrs, images=tuple(images)))

    price = np.array([r["price"] for r in rows], dtype=float)
    area_v = np.array([float(r["area"]) for r in rows])
    U = np.column_stack(
        [
            np.log(area_v) if area == "log" else area_v,
            [float(r["bedrooms"]) for r in rows],
            [float(r["bathrooms"]) for r in rows],
        ]
    )
    return Dataset(
        name="houses",
        items=items,
        Y=np.log(price)[:, None],
        U=U,
        side_input_names=["log_area" if area == "log" else "area", "bedrooms", "bathrooms"],
        metric="median_ae",
        task=HOUSES_TASK,
        extra={
            "price": price,
            "zipcode": np.array([r["zipcode"] for r in rows]),
            "n_images": n_images,
            "n_described": n_described,
            "source": str(info),
        },
    )
