"""What every ``cnnlesson`` command shares: consoles and the usage-error type."""

from __future__ import annotations

from rich.console import Console

USAGE_ERROR = 2
# Messages are never wrapped: one error is one line, easy to read and to grep.
console = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


class CliError(Exception):
    """A user mistake reported as one line, exit status 2, no traceback."""
