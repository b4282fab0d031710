"""Digests of the engine's code: a change to it invalidates cached clips, and a
cluster worker must run the very code the render runs."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import cnn_model

from ..version import __version__

ENGINE_DIR = Path(__file__).resolve().parents[1]
MODEL_CODE_DIR = Path(cnn_model.__file__).resolve().parent


def package_digest(package: Path) -> str:
    """A hash of a package's Python source and its translation catalogs (a changed
    translation changes what the steps show)."""
    digest = hashlib.sha256()
    for path in sorted([*package.rglob("*.py"), *package.rglob("*.po")]):
        digest.update(path.relative_to(package.parent).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def code_digest(model_code: str) -> str:
    """A hash of the engine's source and the model's (``model_code``, from
    :func:`package_digest`)."""
    digest = hashlib.sha256(__version__.encode())
    digest.update(package_digest(ENGINE_DIR).encode())
    digest.update(model_code.encode())
    return digest.hexdigest()


@functools.cache
def model_digest() -> str:
    """The digest of the model code this process runs (read once per process): the
    trace cache's key uses it."""
    return package_digest(MODEL_CODE_DIR)


@functools.cache
def this_code() -> str:
    """The digest of all the code this process runs (read once per process): step
    clips are cached under it, and cluster workers must run the same."""
    return code_digest(model_digest())
