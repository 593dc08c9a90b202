"""Readers: datasets from the published layouts, and file:line errors for malformed input."""

import pytest
import torch

from treelstm.data.sick import read_sick
from treelstm.data.sst import read_sst, unescape_ptb
from treelstm_tasks.pair_regression import target_distribution


def test_read_sick(data_root):
    ds = read_sick(data_root, "train")
    assert len(ds) == 40
    row = ds[0]
    assert len(row["a_dep_parents"]) == len(row["a_tokens"]) and len(row["a_con_parents"]) == 2 * len(row["a_tokens"]) - 1
    assert 1 <= row["score"] <= 5


def test_read_sst(data_root):
    ds = read_sst(data_root, "dev")
    row = ds[0]
    assert len(ds) == 12 and len(row["labels"]) == len(row["parents"]) == 2 * len(row["tokens"]) - 1
    assert row["label"] == row["labels"][-1]  # the root is the last node


def corrupt(path, line, text):
    lines = path.read_text().splitlines()
    lines[line - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "file, line, text, message",
    [
        ("sim.txt", 3, "6.5", "sim.txt:3: expected a relatedness score in \\[1, 5\\], got '6.5'"),
        ("sim.txt", 2, "high", "sim.txt:2: expected a relatedness score"),
        ("a.parents", 4, "0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0", "a.parents:4: expected \\d+ parents"),
        ("b.cparents", 2, "x", "b.cparents:2: expected \\d+ parents"),
    ],
)
def test_sick_errors_name_file_and_line(data_root, file, line, text, message):
    corrupt(data_root / "sick" / "treelstm" / "dev" / file, line, text)
    with pytest.raises(ValueError, match=message):
        read_sick(data_root, "dev")


def test_sick_bad_tree_and_line_counts(data_root):
    folder = data_root / "sick" / "treelstm" / "dev"
    n = len((folder / "a.toks").read_text().splitlines()[0].split())
    corrupt(folder / "a.parents", 1, " ".join(["0"] * n) if n > 1 else "2")
    with pytest.raises(ValueError, match="a.parents:1: (several roots|position 1 has parent 2)"):
        read_sick(data_root, "dev")
    (folder / "id.txt").write_text("1\n")
    with pytest.raises(ValueError, match="sim.txt: 12 lines, but .*id.txt has 1"):
        read_sick(data_root, "dev")


def test_sst_errors(data_root):
    path = data_root / "sst" / "trees" / "test.txt"
    corrupt(path, 5, "(3 (2 a) (2 b)")
    with pytest.raises(ValueError, match="test.txt:5: offset 0: '\\(' is never closed"):
        read_sst(data_root, "test")
    corrupt(path, 5, "(7 (2 a) (2 b))")
    with pytest.raises(ValueError, match="test.txt:5: sentiment labels must be 0-4"):
        read_sst(data_root, "test")
    path.write_bytes(b"(2 \xff)\n")
    with pytest.raises(ValueError, match="test.txt:1:4: byte 0xff is not valid utf-8; if the file"):
        read_sst(data_root, "test")
    path.write_text("")
    with pytest.raises(ValueError, match="test.txt: no trees in the file"):
        read_sst(data_root, "test")


def test_unescape_ptb():
    assert [unescape_ptb(w) for w in ["-LRB-", "-RRB-", "1\\/2", "\\*", "word"]] == ["(", ")", "1/2", "*", "word"]


def test_relatedness_target_distribution():
    p = target_distribution(torch.tensor([3.6, 5.0, 1.0, 2.0]))
    assert torch.allclose(p[0], torch.tensor([0, 0, 0.4, 0.6, 0]))
    assert torch.allclose(p[1], torch.tensor([0, 0, 0, 0, 1.0]))
    assert torch.allclose(p[2], torch.tensor([1.0, 0, 0, 0, 0]))
    assert torch.allclose(p[3], torch.tensor([0, 1.0, 0, 0, 0]))
    assert torch.allclose(p @ torch.arange(1, 6.0), torch.tensor([3.6, 5.0, 1.0, 2.0]))
