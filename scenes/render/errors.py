"""What a render raises besides an invalid lesson."""

from __future__ import annotations


class RenderError(Exception):
    """A step failed to render, or its outputs cannot be written; the message says where."""


class OutputRefused(RenderError):
    """The output folder or file cannot be used as it is (a user's mistake, not a failure)."""


class ClusterUnavailable(OutputRefused):
    """The Dask cluster named cannot render: unreachable, without workers, or its workers
    lack this engine (or run other code). Nothing was rendered."""
