"""Readers for users' own files: CoNLL-style columns, TSV/CSV/JSONL tables, encodings, and their exact
one-line errors. Every fixture file is written here into tmp_path."""

import pytest

from treelstm.data.conll import read_conll_columns
from treelstm.data.table import read_table
from treelstm.files import read_lines, read_text, require, require_file
from treelstm.text.tags import detect_scheme, spans, split_tag

HINT = "; if the file is in another encoding, set data.encoding (e.g. encoding: latin-1)"


def write(path, text: str | bytes, encoding="utf-8"):
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


def raises(error, message, function, *args, **kwargs):
    """Assert that the call raises ``error`` with exactly ``message``."""
    with pytest.raises(error) as caught:
        function(*args, **kwargs)
    assert str(caught.value) == message


class TestEncodings:
    @pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
    @pytest.mark.parametrize("bom", [False, True])
    def test_line_endings_and_bom(self, tmp_path, ending, bom):
        path = write(tmp_path / "f.txt", ("\ufeff" if bom else "") + ending.join(["a b", "", "c"]) + ending)
        assert read_lines(path, "file") == ["a b", "", "c"]
        assert read_text(path, "file").startswith("a b")

    @pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "latin-1", "cp1252", "utf-8-sig", "UTF8"])
    def test_any_codec_and_bom_removed(self, tmp_path, encoding):
        text = "España\tÜber\nçà\n"
        bom = "\ufeff" if encoding.lower().startswith("utf") and encoding != "utf-16" else ""  # utf-16 writes its own
        path = write(tmp_path / "f.txt", bom + text, encoding)
        assert read_lines(path, "file", encoding) == ["España\tÜber", "çà"]

    def test_vertical_tab_is_not_a_line_break(self, tmp_path):
        assert read_lines(write(tmp_path / "f.txt", "a\x0bb\u2028c\n"), "file") == ["a\x0bb\u2028c"]

    @pytest.mark.parametrize("data, where, byte", [
        (b"ok\nEspa\xf1a\n", "2:5", "0xf1"),             # a Latin-1 letter inside a line
        (b"\xe9t\xe9\n", "1:1", "0xe9"),                  # at the very start
        ("caf\u00e9 ".encode() + b"\xff\n", "1:6", "0xff"),  # columns count characters, not bytes
        (b"\xef\xbb\xbfab\xe9\n", "1:3", "0xe9"),          # the BOM is not a column
        (b"a\r\nb\rc\xe9", "3:2", "0xe9"),                 # CRLF and lone CR both end lines
    ])
    def test_not_the_declared_encoding(self, tmp_path, data, where, byte):
        path = write(tmp_path / "f.txt", data)
        raises(ValueError, f"{path}:{where}: byte {byte} is not valid utf-8{HINT}", read_text, path, "file")

    def test_message_names_the_declared_encoding(self, tmp_path):
        path = write(tmp_path / "f.txt", b"ab\ncd\x81\n")  # 0x81 is undefined in cp1252
        raises(ValueError, f"{path}:2:3: byte 0x81 is not valid cp1252{HINT}", read_lines, path, "file", "cp1252")

    @pytest.mark.parametrize("name", ["utf-9", "latin-42", "", "base64", "rot13"])
    def test_unknown_codec(self, tmp_path, name):
        path = write(tmp_path / "f.txt", "a\n")
        raises(ValueError, f"encoding {name!r} is not a codec Python knows (e.g. utf-8, latin-1, cp1252)",
               read_text, path, "file", name)

    @pytest.mark.parametrize("check", [require, require_file])
    def test_require_file(self, tmp_path, check):
        raises(FileNotFoundError, f"my data: expected the file {tmp_path / 'no.txt'}", check, tmp_path / "no.txt",
               "my data")
        raises(ValueError, f"my data: {tmp_path} is a folder, expected a file", check, tmp_path, "my data")
        assert check(write(tmp_path / "f.txt", "x"), "my data") == tmp_path / "f.txt"

    def test_reading_a_folder(self, tmp_path):
        raises(ValueError, f"train: {tmp_path} is a folder, expected a file", read_lines, tmp_path, "train")


class TestDetectScheme:
    @pytest.mark.parametrize("sentences, scheme", [
        ([["B-PER", "I-PER", "O"], ["O", "B-LOC"]], "iob2"),
        ([["O", "O"], []], "iob2"),                                # all O
        ([], "iob2"),
        ([["I-PER", "I-PER", "O", "I-LOC"]], "iob1"),             # no B- at all
        ([["I-PER", "B-PER", "O", "I-LOC", "B-LOC"]], "iob1"),    # B- only between same-type entities
        ([["I-PER", "B-PER", "B-PER"]], "iob1"),
        ([["I-PER", "O"], ["O", "B-LOC"]], "iob2"),               # B- after O
        ([["I-ORG", "B-PER"]], "iob2"),                           # B- after another type
        ([["I-PER", "O"], ["B-PER", "I-PER"]], "iob2"),           # B- at a sentence start
        ([["I-PER", "I-PER"], ["I-LOC"]], "iob1"),                # sentences starting with I-
        ([["B-PER", "E-PER", "O"]], "iobes"),
        ([["I-PER", "O", "S-LOC"]], "iobes"),
        ([["B-creative-work", "I-creative-work", "O", "B-corporation"]], "iob2"),
        ([["I-creative-work", "B-creative-work"]], "iob1"),
    ])
    def test_detect(self, sentences, scheme):
        assert detect_scheme(sentences) == scheme
        assert detect_scheme(iter(sentences)) == scheme  # any iterable

    def test_bad_tag(self):
        raises(ValueError, "'X-PER' is not an iobes tag (expected O, B-TYPE, I-TYPE, E-TYPE, S-TYPE)",
               detect_scheme, [["O"], ["B-PER", "X-PER"]])

    @pytest.mark.parametrize("tag, split", [
        ("B-creative-work", ("B", "creative-work")), ("I-corporation", ("I", "corporation")),
        ("E-a-b-c", ("E", "a-b-c")), ("S--", ("S", "-")), ("O", ("O", "")),
    ])
    def test_types_with_hyphens(self, tag, split):
        assert split_tag(tag, "iobes") == split

    def test_spans_with_hyphenated_types(self):
        tags = ["B-creative-work", "I-creative-work", "B-person", "O"]
        assert spans(tags, "iob2") == [(0, 2, "creative-work"), (2, 3, "person")]


CONLL = ["-DOCSTART- -X- O O", "", "Alice NNP B-NP B-PER", "Smith NNP I-NP I-PER", "saw VBD B-VP O",
         "Lyon NNP B-NP B-LOC", "", "Bob NNP B-NP B-PER", "left VBD B-VP O"]


class TestConllColumns:
    @pytest.mark.parametrize("separator", [" ", "\t", "  \t ", "\t\t"])
    @pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
    @pytest.mark.parametrize("final_blank", [False, True])
    def test_separators_endings_and_final_blank(self, tmp_path, separator, ending, final_blank):
        lines = [separator.join(line.split()) for line in CONLL] + [""] * final_blank
        ds = read_conll_columns(write(tmp_path / "f.conll", ending.join(lines)))
        assert ds.column_names == ["tokens", "tags"]
        assert ds["tokens"] == [["Alice", "Smith", "saw", "Lyon"], ["Bob", "left"]]
        assert ds["tags"] == [["B-PER", "I-PER", "O", "B-LOC"], ["B-PER", "O"]]

    @pytest.mark.parametrize("token, tag, tokens, tags", [
        (0, -1, ["Alice", "saw"], ["B-PER", "O"]),
        (0, 3, ["Alice", "saw"], ["B-PER", "O"]),
        (-4, 2, ["Alice", "saw"], ["B-NP", "B-VP"]),   # the chunk column as tags
        (1, -1, ["NNP", "VBD"], ["B-PER", "O"]),
    ])
    def test_column_indices(self, tmp_path, token, tag, tokens, tags):
        path = write(tmp_path / "f.conll", "Alice NNP B-NP B-PER\nsaw VBD B-VP O\n")
        ds = read_conll_columns(path, token=token, tag=tag)
        assert ds["tokens"] == [tokens] and ds["tags"] == [tags]

    def test_two_column_wnut_style(self, tmp_path):
        path = write(tmp_path / "f.conll", "Go\tO\nsee\tO\nStar\tB-creative-work\nWars\tI-creative-work\n\n"
                                          "at\tO\nAMC\tB-corporation\n")
        ds = read_conll_columns(path)
        assert ds["tags"] == [["O", "O", "B-creative-work", "I-creative-work"], ["O", "B-corporation"]]
        assert detect_scheme(ds["tags"]) == "iob2"

    @pytest.mark.parametrize("breaks", ["\n\n", "\n \n", "\n\t\n", "\n\n\n", "\n  \t \n\n"])
    def test_whitespace_only_and_repeated_blank_lines(self, tmp_path, breaks):
        path = write(tmp_path / "f.conll", "\n \n" + "a O" + breaks + "b O\nc O" + breaks)
        assert read_conll_columns(path)["tokens"] == [["a"], ["b", "c"]]

    @pytest.mark.parametrize("docstart", ["-DOCSTART- -X- O O\n", "-DOCSTART- -X- O O\n\n", "-DOCSTART-\n",
                                          "-DOCSTART- O\n\n\n", "-DOCSTART-\t-X-\t-X-\tO\n"])
    def test_docstart_with_and_without_blank_line(self, tmp_path, docstart):
        path = write(tmp_path / "f.conll", docstart + "a O\nb O\n" + docstart + "c B-X\n" + docstart)
        ds = read_conll_columns(path)
        assert ds["tokens"] == [["a", "b"], ["c"]] and ds["tags"] == [["O", "O"], ["B-X"]]

    @pytest.mark.parametrize("tags, scheme", [
        (["I-PER I-PER O I-LOC", "I-ORG B-ORG"], "iob1"),
        (["I-PER O", "O I-LOC"], "iob1"),                    # sentences starting with I-
        (["B-PER I-PER O B-LOC", "B-ORG B-ORG"], "iob2"),
        (["S-PER O B-LOC E-LOC", "S-ORG"], "iobes"),
        (["O O", "O"], "iob2"),
    ])
    def test_scheme_of_a_file(self, tmp_path, tags, scheme):
        sentences = ["\n".join(f"w{k} {tag}" for k, tag in enumerate(line.split())) for line in tags]
        ds = read_conll_columns(write(tmp_path / "f.conll", "\n\n".join(sentences) + "\n"))
        assert [" ".join(t) for t in ds["tags"]] == tags
        assert detect_scheme(ds["tags"]) == scheme

    @pytest.mark.parametrize("line, token, tag, need", [
        ("Alice", 0, 1, 2), ("Alice", -2, -1, 2), ("Alice B-PER", 0, 3, 4), ("Alice NNP B-PER", 0, -4, 4), ("Alice B-PER", 2, 1, 3),
    ])
    def test_too_few_columns(self, tmp_path, line, token, tag, need):
        path = write(tmp_path / "f.conll", "O O O O\n\n" + line + "\n")  # fine for every index
        if len(line.split()) >= need:
            pytest.fail("the case must be short of columns")
        raises(ValueError, f"{path}:3: expected at least {need} columns (token at {token}, tag at {tag}), "
                           f"found {len(line.split())}", read_conll_columns, path, token=token, tag=tag)

    @pytest.mark.parametrize("bad", ["X-PER", "B-", "B_PER", "PER", "o", "B", "-PER", "BI-PER", "U-PER", "L-LOC"])
    def test_bad_tag(self, tmp_path, bad):
        path = write(tmp_path / "f.conll", f"a NN O\nb NN B-PER\n\nc NN {bad}\n")
        raises(ValueError, f"{path}:4: expected a tag O or B-/I-/E-/S-TYPE in column -1, found {bad!r}",
               read_conll_columns, path)
        raises(ValueError, f"{path}:4: expected a tag O or B-/I-/E-/S-TYPE in column 2, found {bad!r}",
               read_conll_columns, path, tag=2)

    @pytest.mark.parametrize("text", ["", "\n\n", " \n\t\n", "-DOCSTART- -X- O O\n\n", "\ufeff\r\n"])
    def test_no_sentences(self, tmp_path, text):
        path = write(tmp_path / "f.conll", text)
        raises(ValueError, f"{path}: no sentences in the file", read_conll_columns, path)

    def test_latin1(self, tmp_path):
        path = write(tmp_path / "f.conll", "España B-LOC\nes O\n", "latin-1")
        assert read_conll_columns(path, encoding="latin-1")["tokens"] == [["España", "es"]]
        raises(ValueError, f"{path}:1:5: byte 0xf1 is not valid utf-8{HINT}", read_conll_columns, path)
        raises(ValueError, "encoding 'latin-9000' is not a codec Python knows (e.g. utf-8, latin-1, cp1252)",
               read_conll_columns, path, encoding="latin-9000")

    def test_missing_file(self, tmp_path):
        raises(FileNotFoundError, f"NER train: expected the file {tmp_path / 'x.conll'}", read_conll_columns,
               tmp_path / "x.conll", what="NER train")


GLUE = "index\tsentence1\tsentence2\tlabel\n0\tA dog runs.\tA dog is running.\t1\n1\tIt's \"odd\tA cat.\t0\n"
PAWS = "1\tA dog runs.\tA dog is running.\t1\n2\tIt's \"odd\tA cat.\t0\n3\tX y.\tY x.\t0\n"
PAIRS = [("A dog runs.", "A dog is running.", "1"), ("It's \"odd", "A cat.", "0")]


def rows(ds, *roles):
    return list(zip(*(ds[role] for role in roles)))


class TestDelimited:
    @pytest.mark.parametrize("columns", [
        {"text1": "sentence1", "text2": "sentence2", "label": "label"},
        {"text1": 1, "text2": 2, "label": 3},
        {"text1": -3, "text2": "sentence2", "label": -1},
    ])
    @pytest.mark.parametrize("header", ["auto", True])
    def test_glue_style_with_header(self, tmp_path, columns, header):
        ds = read_table(write(tmp_path / "dev.tsv", GLUE), format="tsv", columns=columns, header=header)
        assert ds.column_names == ["text1", "text2", "label"]
        assert rows(ds, "text1", "text2", "label") == PAIRS

    @pytest.mark.parametrize("header", ["auto", False])
    def test_paws_style_without_header(self, tmp_path, header):
        path = write(tmp_path / "dev.tsv", PAWS)
        ds = read_table(path, format="tsv", columns={"text1": 1, "text2": 2, "label": -1}, header=header)
        assert rows(ds, "text1", "text2", "label") == [*PAIRS, ("X y.", "Y x.", "0")]

    @pytest.mark.parametrize("text, header", [
        (GLUE, True), (PAWS, False),
        ("sentence\tlabel\nGood film.\tpositive\nBad.\tnegative\n", True),
        ("Good film.\tpositive\nBad.\tnegative\nFine.\tpositive\n", False),  # label value occurs again
        ("#1 String\t#2 String\tQuality\nA b.\tC d.\t1\n", True),
        ("Hello world\tgreeting\nGood film.\tpositive\n", True),  # ambiguous: name-like and unique
        ("Hello, world!\tgreeting\nGood film.\tpositive\n", False),  # punctuation: a sentence
        ("text_a\tlabel\nlabel\tpositive\n", True),
        ("label\tlabel\nlabel\tlabel\n", False),  # repeats in its column
    ])
    def test_auto_header_with_indices(self, tmp_path, text, header):
        columns = {"text1": 0, "label": -1} if text.count("\t") == text.count("\n") else {"text1": 1, "label": -1}
        ds = read_table(write(tmp_path / "f.tsv", text), format="tsv", columns=columns)
        first = text.split("\n")[1 if header else 0].split("\t")
        assert ds[0] == {"text1": first[columns["text1"]], "label": first[-1]}
        assert len(ds) == text.count("\n") - header

    @pytest.mark.parametrize("last, header", [("neutral", False), ("positive", True)])
    def test_auto_header_looks_at_the_whole_label_column(self, tmp_path, last, header):
        text = "Hello\tneutral\n" + "Fine.\tpositive\n" * 120 + f"Bad.\t{last}\n"  # 'neutral' again after 100 rows
        ds = read_table(write(tmp_path / "f.tsv", text), format="tsv", columns={"text": 0, "label": 1})
        assert len(ds) == 122 - header and ds["label"][-1] == last

    @pytest.mark.parametrize("first, header", [("score", True), ("3.5", False), ("-1e3", False), ("nan", True)])
    def test_auto_header_with_a_numeric_role(self, tmp_path, first, header):
        path = write(tmp_path / "f.tsv", f"text\t{first}\na b\t4.5\n")
        ds = read_table(path, format="tsv", columns={"text": 0, "score": 1}, numeric=["score"])
        assert len(ds) == 2 - header and ds["score"][-1] == 4.5 and isinstance(ds["score"][0], float)

    def test_quoting_none_keeps_quotes(self, tmp_path):
        path = write(tmp_path / "f.tsv", 'a "quoted\tb"\t"c"\n"\t""\tx\n')
        ds = read_table(path, format="tsv", columns={"a": 0, "b": 1, "c": 2}, header=False)
        assert rows(ds, "a", "b", "c") == [('a "quoted', 'b"', '"c"'), ('"', '""', "x")]
        csv_path = write(tmp_path / "f.csv", 'He said "hi,there,x\n')
        ds = read_table(csv_path, format="csv", columns={"a": 0, "b": 1}, header=False, quoting="none")
        assert rows(ds, "a", "b") == [('He said "hi', "there")]

    @pytest.mark.parametrize("quoting", ["auto", "csv"])
    def test_csv_quoting(self, tmp_path, quoting):
        text = 'id,text,label\n1,"Hello, ""world""\nsecond line",pos\n2,plain,neg\n'
        ds = read_table(write(tmp_path / "f.csv", text), format="csv", columns={"text": "text", "label": 2},
                        quoting=quoting)
        assert rows(ds, "text", "label") == [('Hello, "world"\nsecond line', "pos"), ("plain", "neg")]

    def test_tsv_with_csv_quoting(self, tmp_path):
        path = write(tmp_path / "f.tsv", 'a\t"b\tstill b"\n')
        ds = read_table(path, format="tsv", columns={"x": 0, "y": 1}, header=False, quoting="csv")
        assert rows(ds, "x", "y") == [("a", "b\tstill b")]

    def test_line_numbers_are_where_records_start(self, tmp_path):
        path = write(tmp_path / "f.csv", 'text,label\n"one\ntwo\nthree",1\n"",2\n')
        raises(ValueError, f"{path}:5: column 'text' (text) is empty", read_table, path, format="csv",
               columns={"text": "text", "label": "label"})

    def test_unclosed_quote(self, tmp_path):
        path = write(tmp_path / "f.csv", 'text,label\nok,1\n"never closed,2\nmore,3\n')
        raises(ValueError, f"{path}:3: a quoted field is never closed (quoting: csv)", read_table, path,
               format="csv", columns={"text": 0, "label": 1})

    def test_bad_quoting(self, tmp_path):
        path = write(tmp_path / "f.csv", 'text,label\n"a"b,1\n')
        raises(ValueError, f"{path}:2: not valid CSV (',' expected after '\"'); with quoting: none, quotes are "
                           "plain text", read_table, path, format="csv", columns={"text": 0, "label": 1})

    @pytest.mark.parametrize("fmt, sep", [("tsv", "\t"), ("csv", ",")])
    @pytest.mark.parametrize("ending", ["\n", "\r\n"])
    @pytest.mark.parametrize("bom", ["", "\ufeff"])
    def test_extra_fields_blank_lines_crlf_bom(self, tmp_path, fmt, sep, ending, bom):
        lines = [sep.join(["label", "text", "note"]), "", sep.join(["1", "a b", "x", "extra", "more"]), "  ",
                 sep.join(["0", "c", "y"]), ""]
        path = write(tmp_path / f"f.{fmt}", bom + ending.join(lines))
        ds = read_table(path, format=fmt, columns={"text": "text", "label": "label"})
        assert rows(ds, "text", "label") == [("a b", "1"), ("c", "0")]

    def test_latin1(self, tmp_path):
        path = write(tmp_path / "f.tsv", "text\tlabel\nHola\t1\nEspaña\t0\n", "latin-1")
        assert read_table(path, format="tsv", columns={"text": "text"}, encoding="latin-1")["text"] == [
            "Hola", "España"]
        raises(ValueError, f"{path}:3:5: byte 0xf1 is not valid utf-8{HINT}", read_table, path, format="tsv",
               columns={"text": "text"})
        raises(ValueError, "encoding 'klingon' is not a codec Python knows (e.g. utf-8, latin-1, cp1252)",
               read_table, path, format="tsv", columns={"text": "text"}, encoding="klingon")

    def test_long_field(self, tmp_path):
        long = "w " * 200_000
        ds = read_table(write(tmp_path / "f.csv", f'"{long}",1\n'), format="csv", columns={"text": 0},
                        header=False)
        assert ds["text"] == [long]

    def test_missing_column_name(self, tmp_path):
        path = write(tmp_path / "f.tsv", GLUE)
        raises(ValueError, f"{path}:1: no column 'sentence' (text1); the header has: index, sentence1, sentence2, "
                           "label", read_table, path, format="tsv", columns={"text1": "sentence", "label": 3})

    def test_name_without_header(self, tmp_path):
        path = write(tmp_path / "f.tsv", PAWS)
        raises(ValueError, f"data.columns.label: 'label' is a column name, but {path} has no header (header: false); "
                           "give its 0-based index", read_table, path, format="tsv",
               columns={"text1": 1, "label": "label"}, header=False)

    @pytest.mark.parametrize("columns, need", [({"text": 4}, 5), ({"text": -4}, 4), ({"a": 0, "b": 2}, 3)])
    def test_index_beyond_the_row(self, tmp_path, columns, need):
        path = write(tmp_path / "f.tsv", "a\tb\tc\tx\ty\nd\te\n")
        raises(ValueError, f"{path}:2: expected at least {need} fields, found 2", read_table, path, format="tsv",
               columns=columns, header=False)

    @pytest.mark.parametrize("value", ["high", "", "nan", "inf", "-Infinity", "1,5"])
    def test_numeric_role_not_a_number(self, tmp_path, value):
        path = write(tmp_path / "f.tsv", f"s1\ts2\tscore\na\tb\t4.5\nc\td\t{value}\n")
        raises(ValueError, f"{path}:3: column 'score' (score) must be a number, found {value!r}", read_table, path,
               format="tsv", columns={"text1": "s1", "text2": "s2", "score": "score"}, numeric=["score"])
        raises(ValueError, f"{path}:3: column -1 (label) must be a number, found {value!r}", read_table, path,
               format="tsv", columns={"label": -1}, numeric=["label"], header=True)

    @pytest.mark.parametrize("role", ["text", "text1", "text_b", "token"])
    @pytest.mark.parametrize("value", ["", "  "])
    def test_empty_text(self, tmp_path, role, value):
        path = write(tmp_path / "f.tsv", f"s\tlabel\nfine\t1\n{value}\t0\n")
        raises(ValueError, f"{path}:3: column 's' ({role}) is empty", read_table, path, format="tsv",
               columns={role: "s", "label": "label"})

    def test_empty_values_elsewhere_are_fine(self, tmp_path):
        path = write(tmp_path / "f.tsv", "s\tlabel\tnote\nfine\t\t\n")
        ds = read_table(path, format="tsv", columns={"text": "s", "label": "label", "note": "note"})
        assert rows(ds, "text", "label", "note") == [("fine", "", "")]

    @pytest.mark.parametrize("text, header", [("", "auto"), ("\n \n", "auto"), ("a\tb\n", True), ("\ufeff", False)])
    def test_no_rows(self, tmp_path, text, header):
        path = write(tmp_path / "f.tsv", text)
        raises(ValueError, f"{path}: no rows in the file", read_table, path, format="tsv", columns={"text": 0},
               header=header)

    def test_missing_file_and_folder(self, tmp_path):
        raises(FileNotFoundError, f"classification train: expected the file {tmp_path / 'no.tsv'}", read_table,
               tmp_path / "no.tsv", format="tsv", columns={"text": 0}, what="classification train")
        raises(ValueError, f"data file: {tmp_path} is a folder, expected a file", read_table, tmp_path,
               format="csv", columns={"text": 0})

    @pytest.mark.parametrize("kwargs, message", [
        ({"format": "xlsx"}, "format must be tsv, csv or jsonl, not 'xlsx'"),
        ({"columns": {}}, "columns: give at least one role and its column"),
        ({"columns": {"text": 1.5}}, "data.columns.text: expected a column name or a 0-based index, found 1.5"),
        ({"columns": {"text": True}}, "data.columns.text: expected a column name or a 0-based index, found True"),
        ({"header": "yes"}, "header must be true, false or auto, not 'yes'"),
        ({"quoting": "all"}, "quoting must be auto, csv or none, not 'all'"),
        ({"numeric": ["score", "label"]}, "numeric roles label, score are not in columns (text)"),
        ({"format": "jsonl", "columns": {"text": "t", "label": 2}},
         "data.columns.label: a JSONL file's columns are key names, not indices (2)"),
    ])
    def test_bad_arguments(self, tmp_path, kwargs, message):
        path = write(tmp_path / "f.tsv", "a\tb\n")
        raises(ValueError, message, read_table, path, **({"format": "tsv", "columns": {"text": 0}} | kwargs))


class TestJsonl:
    def test_values_and_types(self, tmp_path):
        text = ('{"premise": "A dog.", "hypothesis": "A cat.", "label": 1, "score": 3.5, "extra": [1]}\n'
                '\n   \n'
                '{"premise": "Él vino.", "hypothesis": "x", "label": "entailment", "score": "4"}\n'
                '{"premise": "p", "hypothesis": "h", "label": 1.0, "score": 2}\n'
                '{"premise": "p", "hypothesis": "h", "label": 1e5, "score": -1.5e1}\n')
        ds = read_table(write(tmp_path / "f.jsonl", "\ufeff" + text), format="jsonl",
                        columns={"text1": "premise", "text2": "hypothesis", "label": "label", "score": "score"},
                        numeric=["score"])
        assert ds["text1"] == ["A dog.", "Él vino.", "p", "p"]
        assert ds["label"] == ["1", "entailment", "1.0", "1e5"]  # numbers in their JSON text form
        assert ds["score"] == [3.5, 4.0, 2.0, -15.0] and all(type(x) is float for x in ds["score"])

    @pytest.mark.parametrize("header", ["auto", True, False])
    def test_header_does_not_apply(self, tmp_path, header):
        ds = read_table(write(tmp_path / "f.jsonl", '{"t": "a"}\n{"t": "b"}\n'), format="jsonl",
                        columns={"text": "t"}, header=header)
        assert ds["text"] == ["a", "b"]

    @pytest.mark.parametrize("line, message", [
        ('{"t": "a"', "not a JSON object (Expecting ',' delimiter at column 10)"),
        ("t: a", "not a JSON object (Expecting value at column 1)"),
        ('{"t": "a"} x', "not a JSON object (Extra data at column 12)"),
        ('["a"]', "not a JSON object (found an array)"),
        ('"a"', "not a JSON object (found a string)"),
        ("3", "not a JSON object (found a number)"),
        ("null", "not a JSON object (found null)"),
        ('{"x": "a"}', "no key 't' (text)"),
        ('{"t": null}', "key 't' (text) must be a string or a number, found null"),
        ('{"t": {"a": 1}}', "key 't' (text) must be a string or a number, found an object"),
        ('{"t": true}', "key 't' (text) must be a string or a number, found true"),
        ('{"t": " "}', "column 't' (text) is empty"),
        ('{"t": "a", "s": "high"}', "column 's' (score) must be a number, found 'high'"),
        ('{"t": "a", "s": NaN}', "column 's' (score) must be a number, found 'NaN'"),
    ])
    def test_errors(self, tmp_path, line, message):
        path = write(tmp_path / "f.jsonl", '{"t": "fine", "s": 1}\n\n' + line + "\n")
        columns = {"text": "t", "score": "s"} if '"s"' in line else {"text": "t"}
        raises(ValueError, f"{path}:3: {message}", read_table, path, format="jsonl", columns=columns,
               numeric=["score"] if "score" in columns else ())

    def test_latin1_and_no_rows(self, tmp_path):
        path = write(tmp_path / "f.jsonl", '{"t": "España"}\n', "latin-1")
        assert read_table(path, format="jsonl", columns={"text": "t"}, encoding="latin-1")["text"] == ["España"]
        raises(ValueError, f"{path}:1:12: byte 0xf1 is not valid utf-8{HINT}", read_table, path, format="jsonl",
               columns={"text": "t"})
        empty = write(tmp_path / "empty.jsonl", "\n  \n")
        raises(ValueError, f"{empty}: no rows in the file", read_table, empty, format="jsonl", columns={"text": "t"})
