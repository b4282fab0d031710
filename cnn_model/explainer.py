"""CNN Explainer's own trained TinyVGG, fetched on request (see ``fetch``)."""

from __future__ import annotations

from pathlib import Path

from .store import CARD_FILE, WEIGHTS_FILE, ModelLocation, cache_home

COMMIT = "d0971f9447ed9806022a3d47587b62394682bc51"


def cache_dir() -> Path:
    return cache_home() / "cnn-explainer" / COMMIT


def fetched_location() -> ModelLocation | None:
    folder = cache_dir()
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        return None
    card = folder / CARD_FILE
    return ModelLocation("cnn-explainer", weights, card if card.is_file() else None, "fetched")


def images_dir() -> Path | None:
    folder = cache_dir() / "img"
    return folder if folder.is_dir() else None
