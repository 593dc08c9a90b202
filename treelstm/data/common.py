"""Helpers shared by the readers."""

from __future__ import annotations

from pathlib import Path


def require(path: Path, what: str) -> Path:
    """``path``, or a one-line FileNotFoundError naming the file expected there."""
    if not path.exists():
        raise FileNotFoundError(f"{what}: expected the file {path}")
    return path


def read_lines(path: Path, what: str) -> list[str]:
    """The lines of a UTF-8 text file (BOM and line endings removed)."""
    try:
        text = require(path, what).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        line = error.object[: error.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not valid UTF-8 ({error.reason})") from None
    lines = text.replace("\r\n", "\n").split("\n")  # not splitlines(): it also breaks at \x0b, \x1c, \u2028...
    return lines[:-1] if lines and not lines[-1] else lines
