"""Files: finding one, reading its text in a declared encoding, writing files and folders atomically,
and locking a folder for one process.

Any codec Python knows may be declared (``utf-8``, ``latin-1``, ``cp1252``...); a leading byte-order
mark is removed whatever the encoding, and a byte that is not of the encoding is a ValueError naming
its line and column.
"""

from __future__ import annotations

import codecs
import math
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

try:
    import fcntl
except ImportError:  # not POSIX (Windows): folders are not locked
    fcntl = None  # type: ignore[assignment]

from treelstm.errors import UserError


def require_file(path: Path, what: str) -> Path:
    """``path``; a one-line FileNotFoundError if it is missing, ValueError if it is a folder."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what}: expected the file {path}")
    if path.is_dir():
        raise UserError(f"{what}: {path} is a folder, expected a file")
    return path


def require(path: Path, what: str) -> Path:
    """``path``, or a one-line error naming the file expected there (see :func:`require_file`)."""
    return require_file(path, what)


def check_encoding(encoding: str) -> str:
    """The codec to decode ``encoding`` with (``utf-8-sig`` for UTF-8, so that a BOM goes); ValueError
    for a name that is not a text codec Python knows."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError):
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise UserError(f"encoding {encoding!r} is not a codec Python knows (e.g. utf-8, latin-1, cp1252)")
    return "utf-8-sig" if info.name in ("utf-8", "utf-8-sig") else info.name


def decode_error(path: Path, error: UnicodeDecodeError, codec: str, encoding: str) -> ValueError:
    """The one-line error for a byte of ``path`` that is not of ``encoding``: ``path:line:column``
    (1-based; the column counts the characters before the byte on its line)."""
    before = error.object[: error.start].decode(codec, errors="replace")
    before = before.replace("\r\n", "\n").replace("\r", "\n")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    byte = error.object[error.start]
    return UserError(f"{path}:{line}:{column}: byte 0x{byte:02x} is not valid {encoding}; if the file is in "
                      f"another encoding, set data.encoding (e.g. encoding: latin-1)")


def read_text(path: Path, what: str, encoding: str = "utf-8") -> str:
    """The text (str) of a file in ``encoding`` (a leading BOM removed; line endings as in the file).
    A missing file is a FileNotFoundError naming ``what``; a byte not of the encoding a ValueError."""
    codec = check_encoding(encoding)
    data = require_file(Path(path), what).read_bytes()
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as error:
        raise decode_error(path, error, codec, encoding) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_lines(path: Path, what: str, encoding: str = "utf-8") -> list[str]:
    """The lines (list[str]) of a text file in ``encoding``, without the BOM and the line ends
    (LF, CRLF or a lone CR); no empty last line for the file's final line break."""
    # not splitlines(): it also breaks at \x0b, \x1c, \u2028...
    text = read_text(path, what, encoding).replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    return lines[:-1] if lines and not lines[-1] else lines


def finite_number(value: str) -> float | None:
    """``value`` as a finite float, or None when it is not one."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)``, fsync it, then rename it to ``path``. The file gets the mode an
    ordinary ``open()`` would give it (``0o666`` less the umask, see :func:`write_synced`), not ``mkstemp``'s
    ``0o600``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write_synced(Path(tmp), write)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_text(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: readers see the old file or the new one, never a part."""
    atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def atomic_folder(folder: Path, fill: Callable[[Path], None]) -> None:
    """Replace ``folder`` by the files ``fill(staging)`` writes (each flushed to disk with
    :func:`write_synced`) into a staging folder beside it.

    Two renames swap the staging folder in: ``folder`` becomes ``.NAME.old``, then the staging
    folder becomes ``folder``. A process killed at any point leaves the previous contents or the
    new ones whole; between the renames only ``.NAME.old`` exists, and :func:`settled` finds it."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    for stale in folder.parent.glob(f".{folder.name}.new-*"):  # staging left by a killed save
        shutil.rmtree(stale)
    staging = folder.with_name(f".{folder.name}.new-{os.getpid()}")
    staging.mkdir()
    fill(staging)
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        os.rename(folder, old)
    os.rename(staging, folder)
    _fsync_folder(folder.parent)
    shutil.rmtree(old, ignore_errors=True)


def remove_folder(folder: Path) -> None:
    """Remove a folder saved by :func:`atomic_folder`, with what a killed save left beside it."""
    folder = Path(folder)
    for path in (folder, folder.with_name(f".{folder.name}.old"), *folder.parent.glob(f".{folder.name}.new-*")):
        shutil.rmtree(path, ignore_errors=True)


def settled(folder: Path) -> Path:
    """``folder``, or its previous contents when a save was killed between :func:`atomic_folder`'s renames."""
    folder = Path(folder)
    old = folder.with_name(f".{folder.name}.old")
    return old if not folder.exists() and old.is_dir() else folder


def write_synced(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(path)``, then flush the file to disk. The file gets the mode ``open()`` gives a new
    file (``0o666`` less the umask), whatever ``write`` did (safetensors writes ``0o600`` files)."""
    write(str(path))
    os.chmod(path, 0o666 & ~_umask())
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it (``/proc/self/status``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restored at once
    os.umask(mask)
    return mask


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 and flush it to disk."""
    write_synced(path, lambda p: Path(p).write_text(text, encoding="utf-8"))


LOCK = ".lock"
"""The lock file in a locked folder; it holds the pid of the process that last took the lock."""


class FolderLocked(UserError):
    """Another process holds the folder's lock."""


@contextmanager
def locked(folder: Path, what: str = "the folder") -> Iterator[None]:
    """Hold ``folder``'s lock (an exclusive, non-blocking ``flock`` on ``folder/.lock``, which then
    holds this process's pid) until the block ends. The kernel releases it when the process ends,
    killed too; the file stays. Another process holding it: :class:`FolderLocked` at once, naming
    its pid and ``what``. Without ``fcntl`` (not POSIX) nothing is locked."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            who = f"process {holder}" if holder.isdigit() else "another process"
            raise FolderLocked(f"{folder}: {who} is using {what} (its lock is {folder / LOCK}); wait for it "
                               "to end, or stop it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


def check_unlocked(folder: Path, what: str = "the folder") -> None:
    """:class:`FolderLocked` if another process holds ``folder``'s lock now (see :func:`locked`);
    creates nothing."""
    if (Path(folder) / LOCK).exists():
        with locked(folder, what):
            pass
