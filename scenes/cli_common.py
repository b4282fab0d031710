"""What every ``cnnlesson`` command shares: consoles and the usage-error type."""

from __future__ import annotations

from rich.console import Console

USAGE_ERROR = 2
console = Console(stderr=True, highlight=False)
out = Console(highlight=False, soft_wrap=True)


class CliError(Exception):
    """A user mistake reported as one line, exit status 2, no traceback."""
