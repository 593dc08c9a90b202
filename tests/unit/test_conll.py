"""CoNLL-2003 reader: synthetic files in the published format (never the licensed data), file:line errors."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from treelstm.data.conll import read_conll, read_conll2003
from treelstm.text.tags import spans, to_tags

SAMPLE = [
    "-DOCSTART- -X- O O",
    "",
    "Alice NNP I-NP I-PER",
    "Smith NNP I-NP I-PER",
    "visited VBD I-VP O",
    "Lyon NNP I-NP I-LOC",
    ". . O O",
    "",
    "Bob NNP I-NP I-PER",
    "Carol NNP I-NP B-PER",
    "agreed VBD I-VP O",
    "",
    "-DOCSTART- -X- -X- O",
    "",
    "Acme NNP I-NP I-ORG",
    "Corp NNP I-NP I-ORG",
    "Zorbia NNP B-NP B-ORG",
    "rose VBD I-VP O",
    "7 CD I-NP O",
]  # no trailing blank line after the last sentence


def write(path, lines, newline="\n"):
    path.write_bytes("".join(line + newline for line in lines).encode("utf-8"))
    return path


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_read_sample(tmp_path, newline):
    path = tmp_path / "sample.txt"
    path.write_bytes(newline.join(SAMPLE).encode("utf-8"))  # the last line has no line break either
    ds = read_conll(path)
    assert len(ds) == 3
    assert ds["tokens"] == [["Alice", "Smith", "visited", "Lyon", "."], ["Bob", "Carol", "agreed"],
                            ["Acme", "Corp", "Zorbia", "rose", "7"]]
    assert ds["pos"][1] == ["NNP", "NNP", "VBD"] and ds["chunk"][2] == ["I-NP", "I-NP", "B-NP", "I-VP", "I-NP"]
    assert ds["tags"][1] == ["I-PER", "B-PER", "O"]
    assert ds["document"] == [0, 0, 1]
    assert [spans(tags, "iob1") for tags in ds["tags"]] == [
        [(0, 2, "PER"), (3, 4, "LOC")], [(0, 1, "PER"), (1, 2, "PER")], [(0, 2, "ORG"), (2, 3, "ORG")]]


def test_documents_and_blank_lines(tmp_path):
    lines = ["", "  ", "Zed NNP I-NP I-PER", "", "", "-DOCSTART- -X- O O", "-DOCSTART- -X- O O", "",
             "Ann\tNNP\tI-NP\tI-PER", "-DOCSTART- -X- O O", "Bo NNP I-NP I-PER", "", ""]
    ds = read_conll(write(tmp_path / "docs.txt", lines))
    # sentences before the first -DOCSTART- are article 0; an empty article still counts; tabs split too;
    # a -DOCSTART- line also ends an open sentence
    assert ds["tokens"] == [["Zed"], ["Ann"], ["Bo"]] and ds["document"] == [0, 2, 3]


def test_no_docstart_is_one_document(tmp_path):
    ds = read_conll(write(tmp_path / "plain.txt", SAMPLE[2:12]))
    assert len(ds) == 2 and ds["document"] == [0, 0]


def test_read_conll2003_splits(tmp_path):
    folder = tmp_path / "conll2003"
    folder.mkdir()
    for k, name in enumerate(["eng.train", "eng.testa", "eng.testb"]):
        write(folder / name, SAMPLE[: 12 + 7 * (k == 0)])
    assert [len(read_conll2003(tmp_path, split)) for split in ("train", "dev", "test")] == [3, 2, 2]
    with pytest.raises(ValueError, match="CoNLL-2003 splits are train, dev and test, not 'valid'"):
        read_conll2003(tmp_path, "valid")
    (folder / "eng.testa").unlink()
    with pytest.raises(FileNotFoundError, match="CoNLL-2003 dev: expected the file .*conll2003/eng.testa"):
        read_conll2003(tmp_path, "dev")


@pytest.mark.parametrize(
    "line, text, message",
    [
        (4, "Smith NNP I-PER", "expected 4 space-separated columns \\(word POS chunk NE\\), found 3"),
        (10, "Carol NNP I-NP B-PER extra", "expected 4 space-separated columns \\(word POS chunk NE\\), found 5"),
        (1, "-DOCSTART-", "expected 4 space-separated columns .*, found 1"),
        (6, "Lyon NNP I-NP U-PER", "expected an IOB1 NE tag \\(O, I-TYPE or B-TYPE\\), found 'U-PER'"),
        (16, "Corp NNP I-NP I-", "expected an IOB1 NE tag .*, found 'I-'"),
        (18, "rose VBD I-VP E-ORG", "expected an IOB1 NE tag .*, found 'E-ORG'"),
        (19, "7 CD I-NP o", "expected an IOB1 NE tag .*, found 'o'"),
    ],
)
def test_malformed_lines(tmp_path, line, text, message):
    lines = list(SAMPLE)
    lines[line - 1] = text
    path = write(tmp_path / "bad.txt", lines)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}:{line}: {message}$"):
        read_conll(path)


def test_first_malformed_line_is_reported(tmp_path):
    lines = list(SAMPLE)
    lines[5], lines[2] = "Lyon NNP I-NP X-LOC", "Alice NNP"
    path = write(tmp_path / "bad.txt", lines)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}:3: expected 4 space-separated columns"):
        read_conll(path)


@pytest.mark.parametrize("lines", [[], [""], ["", "  ", ""], ["-DOCSTART- -X- O O", ""],
                                   ["-DOCSTART- -X- O O", "", "-DOCSTART- -X- -X- O", ""]])
def test_no_sentences(tmp_path, lines):
    path = write(tmp_path / "empty.txt", lines)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))}: no sentences"):
        read_conll(path)


def test_invalid_utf8_and_missing_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"Alice NNP I-NP I-PER\n\nZo\xeb NNP I-NP I-PER\n")
    message = ("byte 0xeb is not valid utf-8; if the file is in another encoding, "
               "set data.encoding (e.g. encoding: latin-1)")
    with pytest.raises(ValueError, match=f"^{re.escape(f'{path}:3:3: {message}')}$"):
        read_conll(path)
    with pytest.raises(FileNotFoundError, match="CoNLL file: expected the file .*nowhere.txt"):
        read_conll(tmp_path / "nowhere.txt")
    with pytest.raises(FileNotFoundError, match="NER dev: expected the file"):
        read_conll(tmp_path / "nowhere.txt", "NER dev")


# Property-based tests: random well-formed files, and random corruptions of them.

WORDS = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,;:'\"()$%&-/", min_size=1, max_size=8)
SAFE_TAGS = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ-$.,", min_size=1, max_size=4)
TYPES = st.sampled_from(["PER", "LOC", "ORG", "MISC"])


@st.composite
def sentences(draw):
    """``(tokens, pos, chunk, ne)`` of one random sentence, NE tags in IOB1 from random spans."""
    length = draw(st.integers(1, 8))
    entities, position = [], 0
    while position < length and draw(st.booleans()):
        start = position + draw(st.integers(0, 2))
        if start >= length:
            break
        end = draw(st.integers(start + 1, min(length, start + 3)))
        entities.append((start, end, draw(TYPES)))
        position = end
    tokens = draw(st.lists(WORDS, min_size=length, max_size=length))
    pos = draw(st.lists(SAFE_TAGS, min_size=length, max_size=length))
    chunk = draw(st.lists(st.sampled_from(["O", "I-NP", "B-NP", "I-VP"]), min_size=length, max_size=length))
    return tokens, pos, chunk, to_tags(entities, length, "iob1")


@st.composite
def conll_files(draw):
    """``(lines, rows)``: the lines of a random CoNLL-2003-style file and the rows it holds."""
    lines, rows = [], []
    docstart = draw(st.booleans())  # without -DOCSTART- lines, all sentences are in article 0
    for document, article in enumerate(draw(st.lists(st.lists(sentences(), max_size=3), min_size=1, max_size=4))):
        if docstart:
            lines += [draw(st.sampled_from(["-DOCSTART- -X- O O", "-DOCSTART- -X- -X- O"])), ""]
        for sentence in article:
            lines += [" ".join(columns) for columns in zip(*sentence)] + [""]
            rows.append((*sentence, document if docstart else 0))
    if lines and draw(st.booleans()):
        lines.pop()  # drop the last blank line
    return lines, rows


def well_formed(ds):
    for tokens, pos, chunk, tags in zip(ds["tokens"], ds["pos"], ds["chunk"], ds["tags"]):
        assert 0 < len(tokens) == len(pos) == len(chunk) == len(tags)
        spans(tags, "iob1")
    assert ds["document"] == sorted(ds["document"]) and ds["document"][0] >= 0


FILE_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FILE_SETTINGS
@given(conll_files(), st.sampled_from(["\n", "\r\n"]))
def test_random_file_round_trips(tmp_path, example, newline):
    lines, rows = example
    path = write(tmp_path / "random.txt", lines, newline)  # rewritten for every example
    if not rows:
        with pytest.raises(ValueError, match="no sentences"):
            read_conll(path)
        return
    ds = read_conll(path)
    assert [tuple(row.values()) for row in ds] == [tuple(map(list, row[:4])) + (row[4],) for row in rows]


@FILE_SETTINGS
@given(conll_files(), st.data())
def test_corrupted_file_parses_or_raises_value_error(tmp_path, example, data):
    lines, _ = example
    token_lines = [k for k, line in enumerate(lines) if line and not line.startswith("-DOCSTART-")]
    kinds = ["insert"] + ["drop", "add", "tag"] * bool(token_lines)
    kind = data.draw(st.sampled_from(kinds), label="corruption")
    if kind == "insert":
        k = data.draw(st.integers(0, len(lines)), label="at")
        lines.insert(k, data.draw(st.text(st.characters(codec="utf-8"), max_size=30), label="line"))
    else:
        k = data.draw(st.sampled_from(token_lines), label="line")
        columns = lines[k].split(" ")
        if kind == "drop":
            del columns[data.draw(st.integers(0, 3), label="column")]
        elif kind == "add":
            columns.insert(data.draw(st.integers(0, 4), label="column"), data.draw(SAFE_TAGS, label="value"))
        else:
            columns[3] = data.draw(st.text(st.characters(codec="utf-8"), max_size=8), label="tag")
        lines[k] = " ".join(columns)
    path = write(tmp_path / "corrupt.txt", lines)
    try:
        ds = read_conll(path)
    except ValueError as error:
        assert str(error).startswith(f"{path}:")
        if kind in ("drop", "add"):  # the only malformed line: reported with its number
            assert str(error).startswith(f"{path}:{k + 1}: expected 4 space-separated columns")
        return
    assert kind in ("insert", "tag")
    well_formed(ds)
