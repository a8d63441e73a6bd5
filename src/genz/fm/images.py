"""Turn each item's images into a cached text description, once (paper Section 5, houses).

``describe_items(fm, items)`` asks a vision model (``fm.describe_images(item)``, prompt
``describe_image.txt``) for one description per item with images and returns new items whose
text ends with ``"\\nPhotos: <description>"``; with a cache (``CachedFM``) each description is
computed once per (model, template, item text, image bytes). The paper's house experiment then
runs on text only, with any text model.
"""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import GenZInputError
from ..items import Item

__all__ = ["describe_items", "with_description", "image_data_url", "image_parts"]

PREFIX = "Photos: "


def with_description(item: Item, description: str, keep_images: bool = False) -> Item:
    """``item`` with its image description appended to its text (images dropped unless kept)."""
    text = f"{item.text}\n{PREFIX}{description}" if item.text else f"{PREFIX}{description}"
    return replace(item, text=text, images=item.images if keep_images else ())


def describe_items(
    fm: Any,
    items: Sequence[Item],
    *,
    keep_images: bool = False,
    concurrency: int = 4,
    progress: bool = False,
) -> list[Item]:
    """New items with their images described in text (items without images are unchanged)."""
    if not callable(getattr(fm, "describe_images", None)):
        raise GenZInputError(
            f"the foundation model {getattr(fm, 'name', fm)!r} cannot describe images; use --fm openai "
            "with a vision-capable model"
        )
    todo = [i for i, it in enumerate(items) if it.images]
    out = list(items)
    if not todo:
        return out
    bar = None
    if progress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("describing images"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                       console=Console(stderr=True), transient=True)
        bar.start()
        task = bar.add_task("describe", total=len(todo))
    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="genz-describe") as pool:
            futs = {i: pool.submit(fm.describe_images, items[i]) for i in todo}
            for i, f in futs.items():
                out[i] = with_description(items[i], f.result(), keep_images)
                if bar is not None:
                    bar.advance(task)
    finally:
        if bar is not None:
            bar.stop()
    return out


def image_data_url(path: str, item_id: str) -> str:
    """A ``data:`` URL with the image's bytes (base64), for the chat API's ``image_url``."""
    p = Path(path)
    if not p.is_file():
        raise GenZInputError(f"item {item_id!r}: image {path} does not exist")
    mime = mimetypes.guess_type(p.name)[0] or "image/jpeg"
    if not mime.startswith("image/"):
        raise GenZInputError(f"item {item_id!r}: {path} is not an image file ({mime})")
    return f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode('ascii')}"


def image_parts(labelled: Sequence[tuple[str, Item]]) -> list[dict[str, Any]]:
    """Chat content parts with the images of each item, introduced by how the prompt refers to
    the item (``labelled``: (label, item) pairs)."""
    parts: list[dict[str, Any]] = []
    for label, it in labelled:
        if not it.images:
            continue
        parts.append({"type": "text", "text": f"Images of {label}:"})
        for p in it.images:
            parts.append({"type": "image_url", "image_url": {"url": image_data_url(p, it.id)}})
    return parts
