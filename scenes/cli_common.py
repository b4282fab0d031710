"""What every ``cnnlesson`` command shares: consoles and the usage-error type."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

USAGE_ERROR = 2
# Messages are never wrapped: one error is one line, easy to read and to grep.
# No markup: messages carry paths, class names and lesson text, whose brackets
# rich would otherwise read as (possibly broken) style tags.
console = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)
out = Console(highlight=False, soft_wrap=True, markup=False)


def print_error(message: object, prefix: str = "error: ") -> None:
    """One error line on standard error: a red prefix, the message as it is."""
    console.print(Text(prefix, style="red") + Text(str(message)))


class CliError(Exception):
    """A user mistake reported as one line, exit status 2, no traceback."""
