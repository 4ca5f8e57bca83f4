"""The catalogue a batch reads: a folder of photos or a CSV, turned into one Product per line.

A folder gives one product per photo (SKU = file name). A CSV has the columns sku and image,
and optionally preset, seed, orientation and motion per product; image paths are relative
to the CSV's folder. A line that cannot run keeps its problem, so the batch records it as
failed and goes on with the rest.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import InputError
from ..vocab import Orientation, parse

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
ORIENTATION_ALIASES = {"horizontal": Orientation.LANDSCAPE, "vertical": Orientation.PORTRAIT}


@dataclass(frozen=True)
class Product:
    """One catalogue line: a SKU and its photo, with optional per-product settings."""

    sku: str
    image: Path
    preset: str | None = None
    seed: int | None = None
    portrait: bool | None = None
    motion: int | None = None  # SVD motion bucket (a number in the CSV's motion column)
    camera: str | None = None  # classic engine's camera move (a word there: push-in, pan-left, ...)
    problem: tuple[str, str] | None = None  # (message, hint) of a line that cannot run


def load_catalog(source: str | os.PathLike) -> list[Product]:
    """A folder of photos (SKU = file name) or a CSV with columns sku, image[, preset, seed,
    orientation, motion]; image paths in a CSV are relative to the CSV's folder."""
    path = Path(source).expanduser()
    if path.is_dir():
        products = _folder_products(path)
    elif path.is_file() and path.suffix.lower() == ".csv":
        products = _csv_products(path)
    elif path.exists():
        raise InputError(f"--input {path} is neither a folder nor a .csv file.",
                         "Give a folder of product photos or a catalog.csv with columns sku,image.")
    else:
        raise InputError(f"--input {path} does not exist.", "Check the path (quote it if it has spaces).")
    if not products:
        raise InputError(f"No products found in {path}.",
                         f"Put photos ({', '.join(sorted(IMAGE_SUFFIXES))}) in the folder, or rows in the CSV.")
    _check_unique(products)
    return products


def safe_sku(sku: str) -> str:
    """The SKU as a folder name: letters, digits, '.', '_' and '-' only."""
    return re.sub(r"[^\w.-]+", "-", sku.strip(), flags=re.UNICODE).strip(".-")[:100]


def _folder_products(folder: Path) -> list[Product]:
    photos = sorted(p for p in folder.iterdir()
                    if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
    return [Product(sku=safe_sku(p.stem) or "photo", image=p.resolve()) for p in photos]


def _csv_products(path: Path) -> list[Product]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:  # -sig: Excel's byte-order mark
            reader = csv.DictReader(fh)
            columns = {(name or "").strip().lower(): name for name in reader.fieldnames or ()}
            if "sku" not in columns or "image" not in columns:
                raise InputError(f"{path.name} needs the columns sku and image (found: {', '.join(columns) or 'none'}).",
                                 "First line: sku,image,preset,seed,orientation,motion (the last four optional).")
            rows = [{key: (row.get(name) or "").strip() for key, name in columns.items()} for row in reader]
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not UTF-8 text.", "Save the sheet as 'CSV UTF-8'.") from None
    except csv.Error as exc:
        raise InputError(f"{path.name} is not a readable CSV ({exc}).", "Save the sheet as CSV (comma separated).") from None
    return [_row_product(row, path.parent) for row in rows if any(row.values())]


def _row_product(row: dict[str, str], base: Path) -> Product:
    image = Path(row["image"]).expanduser() if row["image"] else Path()
    sku = safe_sku(row["sku"] or image.stem) or "product"
    image = (base / image).resolve() if row["image"] else base / f"<no image for {sku}>"
    try:
        if not row["image"]:
            raise InputError(f"Row '{sku}' has no image.", "Fill in the image column (a path relative to the CSV).")
        motion, camera = _motion_cell(row.get("motion", ""))
        return Product(sku=sku, image=image, preset=row.get("preset") or None,
                       seed=_int_cell(row, "seed", "a whole number 0–4294967295"),
                       portrait=_orientation(row.get("orientation", "")), motion=motion, camera=camera)
    except InputError as exc:
        return Product(sku=sku, image=image, problem=(exc.message, exc.hint))


def _int_cell(row: dict[str, str], column: str, allowed: str) -> int | None:
    text = row.get(column, "")
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{column} '{text}' is not a number.", f"Use {allowed}, or leave it empty.") from None


def _motion_cell(text: str) -> tuple[int | None, str | None]:
    """A number is SVD's motion bucket; a word is the classic engine's camera move."""
    if not text:
        return None, None
    try:
        return int(text), None
    except ValueError:
        return None, text


def _orientation(text: str) -> bool | None:
    """True for portrait, False for landscape, None when the cell is empty (the batch's choice)."""
    if not text.strip():
        return None
    return parse(Orientation, text, ORIENTATION_ALIASES) == Orientation.PORTRAIT


def _check_unique(products: Sequence[Product]) -> None:
    seen: dict[str, Product] = {}
    for product in products:
        other = seen.setdefault(product.sku.lower(), product)
        if other is not product:
            raise InputError(f"Two products would share the output folder '{product.sku}' "
                             f"({other.image.name} and {product.image.name}).",
                             "Give every product its own SKU (or rename one of the photos).")
