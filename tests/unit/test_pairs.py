"""MSRP and PAWS-Wiki readers on synthetic files in the published layouts."""

import pytest

from treelstm.data.pairs import read_msrp, read_paws
from treelstm.data.sources import hold_out

HEADER = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"


def write_msrp(root, n_train=20, n_test=5):
    folder = root / "msrp"
    folder.mkdir(parents=True)
    for name, n in (("train", n_train), ("test", n_test)):
        rows = [f"{k % 2}\t{100 + k}\t{200 + k}\tHe said \"yes\" {k}.\tShe said \"no\" {k}." for k in range(n)]
        (folder / f"msr_paraphrase_{name}.txt").write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return folder


def test_msrp_files_bom_quotes_and_a_fixed_dev_split(tmp_path):
    write_msrp(tmp_path)
    whole, test = (read_msrp(tmp_path, s) for s in ("train", "test"))
    train, dev = hold_out(whole, 0.1, 0)
    assert (len(whole), len(train), len(dev), len(test)) == (20, 18, 2, 5)
    assert not set(train["id"]) & set(dev["id"])
    assert dev["id"] == hold_out(read_msrp(tmp_path, "train"), 0.1, 0)[1]["id"]  # the same held-out pairs every time
    assert train["id"] == sorted(train["id"], key=whole["id"].index)  # in file order
    assert test[0] == {"id": "100-200", "sentence1": 'He said "yes" 0.', "sentence2": 'She said "no" 0.', "label": 0}


@pytest.mark.parametrize(
    "line, message",
    [
        ("1\t1\t2\tonly three", "msr_paraphrase_test.txt:3: expected 5 tab-separated fields, found 4"),
        ("yes\t1\t2\ta\tb", "msr_paraphrase_test.txt:3: the label must be 0 or 1, got 'yes'"),
    ],
)
def test_msrp_errors_name_file_and_line(tmp_path, line, message):
    folder = write_msrp(tmp_path, n_test=2)
    path = folder / "msr_paraphrase_test.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[2] = line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_msrp(tmp_path, "test")


def test_msrp_header_and_missing_file(tmp_path):
    folder = write_msrp(tmp_path)
    (folder / "msr_paraphrase_test.txt").write_text("1\t1\t2\ta\tb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="msr_paraphrase_test.txt:1: expected the header"):
        read_msrp(tmp_path, "test")
    (folder / "msr_paraphrase_train.txt").unlink()
    with pytest.raises(FileNotFoundError, match="MSRP train: expected the file .*msr_paraphrase_train.txt"):
        read_msrp(tmp_path, "train")
    with pytest.raises(ValueError, match="MSRP files are train and test, not 'dev'"):
        read_msrp(tmp_path, "dev")


def test_paws(tmp_path):
    folder = tmp_path / "paws_wiki"
    folder.mkdir()
    (folder / "dev.tsv").write_text("1\tA b .\tB a .\t0\n2\tC d .\tC d !\t1\n", encoding="utf-8")
    dev = read_paws(tmp_path, "dev")
    assert dev["label"] == [0, 1] and dev["sentence2"] == ["B a .", "C d !"]
    (folder / "test.tsv").write_text("1\tA b .\tB a .\n", encoding="utf-8")
    with pytest.raises(ValueError, match="test.tsv:1: expected 4 tab-separated fields, found 3"):
        read_paws(tmp_path, "test")
