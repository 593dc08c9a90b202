"""Helpers shared by the readers."""

from __future__ import annotations

from pathlib import Path


def require(path: Path, what: str) -> Path:
    """``path``, or a one-line FileNotFoundError naming the file expected there."""
    if not path.exists():
        raise FileNotFoundError(f"{what}: expected the file {path}")
    return path


def read_text(path: Path, what: str) -> str:
    """The text of a UTF-8 file (BOM removed); a byte that is not UTF-8 is a ValueError naming its line and column."""
    try:
        return require(path, what).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        start = error.object.rfind(b"\n", 0, error.start) + 1
        line = error.object[:start].count(b"\n") + 1
        column = len(error.object[start : error.start].decode("utf-8", errors="replace")) + 1
        raise ValueError(f"{path}:{line}:{column}: not valid UTF-8 ({error.reason})") from None


def read_lines(path: Path, what: str) -> list[str]:
    """The lines of a UTF-8 text file (BOM and line endings removed)."""
    # not splitlines(): it also breaks at \x0b, \x1c, \u2028...
    lines = read_text(path, what).replace("\r\n", "\n").split("\n")
    return lines[:-1] if lines and not lines[-1] else lines
