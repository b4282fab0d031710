"""Errors the model package reports to users (printed without a traceback)."""

from __future__ import annotations


class ModelError(Exception):
    """A model cannot be found, loaded, fetched or trained."""


class ImageError(Exception):
    """An input image cannot be read."""
