"""One-line notes to the user on standard error (``treelstm: ...``), each said once per process."""

from __future__ import annotations

import sys
from functools import cache

__all__ = ["note"]


@cache
def note(message: str) -> None:
    """Print ``treelstm: message`` to standard error, the first time it is asked for."""
    print(f"treelstm: {message}", file=sys.stderr)
