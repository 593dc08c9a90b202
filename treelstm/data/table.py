"""Users' own tables: TSV, CSV and JSON Lines files, one example a row.

:func:`read_table` picks columns of the file by *role* (the names a task uses, such as ``text1``,
``text2`` and ``label``) and returns a dataset with one column per role. A GLUE-style TSV file::

    index<TAB>sentence1<TAB>sentence2<TAB>label
    0<TAB>A dog runs.<TAB>A dog is running.<TAB>1

is read with::

    read_table(path, format="tsv", columns={"text1": "sentence1", "text2": "sentence2", "label": "label"})

giving the columns ``text1``, ``text2`` and ``label`` (str). The same file without its header needs
indices, ``columns={"text1": 1, "text2": 2, "label": -1}``; a JSON Lines file
(``{"premise": "...", "hypothesis": "...", "score": 3.5}`` a line) needs key names, and
``numeric=["score"]`` makes that role's values floats.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from datasets import Dataset

from treelstm.errors import UserError
from treelstm.files import finite_number, read_lines, read_text

__all__ = ["FORMATS", "read_table"]

FORMATS = {"tsv": "\t", "csv": ","}
"""The delimited formats and their delimiters (``jsonl`` is read line by line with :mod:`json`)."""
QUOTING = ("auto", "csv", "none")
HEADER_LOOKAHEAD = 100
"""How many rows after the first ``header="auto"`` compares the first row with."""
_NAME = re.compile(r"#?[\w.-]+( #?[\w.-]+){0,2}")  # label, sentence1, #1 String, text_a (and a letter)

csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # long fields (whole documents) are fine


class _Number(str):
    """The text of a JSON number, as written in the file."""


def read_table(path: Path, *, format: str, columns: dict[str, str | int], header: bool | str = "auto",
               quoting: str = "auto", encoding: str = "utf-8", numeric: Iterable[str] = (),
               what: str = "data file") -> Dataset:
    """The rows of a TSV, CSV or JSONL file as a dataset with one column per role of ``columns``.

    ``format``: ``tsv`` (tab-delimited), ``csv`` (comma-delimited) or ``jsonl`` (a JSON object a line).
    ``columns`` maps each role to its column: in TSV/CSV a header name (str) or a 0-based index (int,
    negative from the end); in JSONL a key name. Values are ``str`` (JSON numbers in their text form,
    ``1`` -> ``"1"``), except the roles in ``numeric``, whose values are finite ``float`` (a JSON string
    holding a number counts). A text role (named ``text...`` or ``token``) may not be empty. Blank
    lines are skipped; rows may have more fields than the columns need.

    ``header`` (TSV/CSV; ignored for JSONL): ``True`` (the first row names the columns), ``False`` or
    ``"auto"``: a header if any column is given by name; with indices only, if there are ``numeric``
    roles, a header when the first row's value in one of them is not a number; with no numeric role,
    a header when each of the first row's values is name-like (a letter, at most three words of
    letters, digits, ``_.-``, maybe a leading ``#``: ``label``, ``sentence1``, ``#1 String``) and
    occurs nowhere in its column in the next 100 rows, and the first row's ``label`` value (if there is
    that role) nowhere in the column. Set ``header`` when a file is ambiguous.

    ``quoting`` (TSV/CSV): ``csv`` (standard double-quoted fields, which may hold delimiters and line
    breaks; a row's line is where it starts), ``none`` (quotes are plain text, as in GLUE's TSVs) or
    ``auto`` (``none`` for TSV, ``csv`` for CSV). ``encoding``: any Python codec (a BOM is removed).
    Malformed input is a one-line ValueError naming ``path:line``; a missing file a FileNotFoundError.
    """
    path = Path(path)
    numeric = set(numeric)
    _check_arguments(format, columns, header, quoting, numeric)
    if format == "jsonl":
        rows = _json_rows(path, what, encoding, columns)
    else:
        rows = _delimited_rows(path, what, encoding, format, quoting, header, columns, numeric)
    values: dict[str, list] = {role: [] for role in columns}
    for line, row in rows:
        for role, column in columns.items():
            values[role].append(_value(path, line, role, column, row[role], role in numeric))
    if not next(iter(values.values())):
        raise UserError(f"{path}: no rows in the file")
    return Dataset.from_dict(values)


def _check_arguments(format: str, columns: dict, header: object, quoting: str, numeric: set) -> None:
    if format not in (*FORMATS, "jsonl"):
        raise UserError(f"format must be tsv, csv or jsonl, not {format!r}")
    if not columns:
        raise UserError("columns: give at least one role and its column")
    for role, column in columns.items():
        if isinstance(column, bool) or not isinstance(column, (str, int)):
            raise UserError(f"data.columns.{role}: expected a column name or a 0-based index, found {column!r}")
        if format == "jsonl" and isinstance(column, int):
            raise UserError(f"data.columns.{role}: a JSONL file's columns are key names, not indices ({column})")
    if header not in (True, False, "auto"):
        raise UserError(f"header must be true, false or auto, not {header!r}")
    if quoting not in QUOTING:
        raise UserError(f"quoting must be auto, csv or none, not {quoting!r}")
    if unknown := sorted(numeric - set(columns)):
        raise UserError(f"numeric roles {', '.join(unknown)} are not in columns ({', '.join(columns)})")


def _value(path: Path, line: int, role: str, column: str | int, value: str, numeric: bool) -> str | float:
    """``value`` checked: a finite float for a numeric role, non-empty text for a text role."""
    if numeric:
        number = finite_number(value)
        if number is None:
            raise UserError(f"{path}:{line}: column {column!r} ({role}) must be a number, found {str(value)!r}")
        return number
    if (role.startswith("text") or role == "token") and not value.strip():
        raise UserError(f"{path}:{line}: column {column!r} ({role}) is empty")
    return str(value)


def _json_rows(path: Path, what: str, encoding: str,
               columns: dict[str, str]) -> list[tuple[int, dict[str, str]]]:
    """``(line, {role: value})`` for each non-blank line of a JSON Lines file."""
    rows = []
    for k, line in enumerate(read_lines(path, what, encoding), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_int=_Number, parse_float=_Number, parse_constant=_Number)
        except json.JSONDecodeError as error:
            raise UserError(f"{path}:{k}: not a JSON object ({error.msg} at column {error.colno})") from None
        if not isinstance(record, dict):
            raise UserError(f"{path}:{k}: not a JSON object (found {_json_kind(record)})")
        row = {}
        for role, key in columns.items():
            if key not in record:
                raise UserError(f"{path}:{k}: no key {key!r} ({role})")
            value = record[key]
            if not isinstance(value, str):
                raise UserError(f"{path}:{k}: key {key!r} ({role}) must be a string or a number, "
                                 f"found {_json_kind(value)}")
            row[role] = value
        rows.append((k, row))
    return rows


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, str):
        return "a number" if isinstance(value, _Number) else "a string"
    return json.dumps(value)  # true, false, null


def _delimited_rows(path: Path, what: str, encoding: str, format: str, quoting: str, header: bool | str,
                    columns: dict[str, str | int], numeric: set[str]) -> list[tuple[int, dict[str, str]]]:
    """``(line, {role: value})`` for each row of a TSV or CSV file (the header, if any, left out)."""
    records = _records(path, what, encoding, format, quoting)
    if not records:
        raise UserError(f"{path}: no rows in the file")
    if header == "auto":
        header = any(isinstance(column, str) for column in columns.values()) or _looks_like_header(
            [fields for _, fields in records], columns, numeric)
    indices: dict[str, int] = {}
    if header:
        line, names = records.pop(0)
        names = [name.strip() for name in names]
        for role, column in columns.items():
            if isinstance(column, str):
                if column not in names:
                    raise UserError(f"{path}:{line}: no column {column!r} ({role}); "
                                     f"the header has: {', '.join(names)}")
                indices[role] = names.index(column)
    else:
        for role, column in columns.items():
            if isinstance(column, str):
                raise UserError(f"data.columns.{role}: {column!r} is a column name, but {path} has no header "
                                 f"(header: false); give its 0-based index")
    for role, column in columns.items():
        indices.setdefault(role, column)
    need = max(index + 1 if index >= 0 else -index for index in indices.values())
    rows = []
    for line, fields in records:
        if len(fields) < need:
            raise UserError(f"{path}:{line}: expected at least {need} fields, found {len(fields)}")
        rows.append((line, {role: fields[index] for role, index in indices.items()}))
    return rows


def _records(path: Path, what: str, encoding: str, format: str, quoting: str) -> list[tuple[int, list[str]]]:
    """``(line where it starts, fields)`` for each record of a TSV or CSV file that is not blank."""
    text = read_text(path, what, encoding)
    lines = io.StringIO(text, newline="").readlines()  # line ends kept: \n, \r\n or \r
    if quoting == "auto":
        quoting = "none" if format == "tsv" else "csv"
    options = {"quoting": csv.QUOTE_NONE} if quoting == "none" else {"quotechar": '"', "doublequote": True,
                                                                     "strict": True}
    reader = csv.reader(iter(lines), delimiter=FORMATS[format], **options)
    records, end = [], 0
    while True:
        start = end + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            if reader.line_num >= len(lines) and str(error) == "unexpected end of data":
                raise UserError(f"{path}:{start}: a quoted field is never closed (quoting: csv)") from None
            raise UserError(f"{path}:{reader.line_num}: not valid CSV ({error}); with quoting: none, "
                             f"quotes are plain text") from None
        end = reader.line_num
        if "".join(lines[start - 1 : end]).strip():
            records.append((start, fields))
    return records


def _looks_like_header(records: list[list[str]], columns: dict[str, int], numeric: set[str]) -> bool:
    """Whether the first record of a file whose columns are all indices is a header (see read_table)."""
    if not records:
        return False

    def cell(fields: list[str], index: int) -> str | None:
        return fields[index].strip() if -len(fields) <= index < len(fields) else None

    first = records[0]
    if numeric:
        return any(finite_number(cell(first, columns[role]) or "") is None for role in numeric)
    for role, index in columns.items():
        value = cell(first, index)
        if value is None or not _NAME.fullmatch(value) or not any(ch.isalpha() for ch in value):
            return False
        later = records[1 : 1 + HEADER_LOOKAHEAD] if role != "label" else records[1:]
        if any(cell(fields, index) == value for fields in later):
            return False
    return True
