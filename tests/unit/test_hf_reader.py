"""read_hf: datasets saved with save_to_disk, local csv/json through load_dataset, offline, one-line errors."""

import time

import datasets
import pytest

from treelstm.data.hf import read_hf

FEATURES = datasets.Features(
    {
        "sentence": datasets.Value("string"),
        "label": datasets.ClassLabel(names=["negative", "positive"]),
        "idx": datasets.Value("int32"),
    }
)


@pytest.fixture(autouse=True)
def offline_cache(tmp_path, monkeypatch):
    """Everything datasets writes goes under tmp_path, and the Hub is off even outside read_hf."""
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)  # read once, at import
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def tiny(n: int = 3) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        {"sentence": [f"s{i}" for i in range(n)], "label": [i % 2 for i in range(n)], "idx": list(range(n))},
        features=FEATURES,
    )


def test_saved_dataset_is_train(tmp_path):
    tiny().save_to_disk(tmp_path / "one")
    splits = read_hf(path=str(tmp_path / "one"))
    assert list(splits) == ["train"] and splits["train"].column_names == ["sentence", "label", "idx"]


def test_saved_dataset_dict_splits_class_labels_and_columns(tmp_path):
    datasets.DatasetDict(train=tiny(4), validation=tiny(2), test=tiny(1)).save_to_disk(tmp_path / "dd")
    splits = read_hf(path=tmp_path / "dd", columns={"text": "sentence", "label": "label"})
    assert sorted(splits) == ["dev", "test", "train"] and len(splits["dev"]) == 2
    train = splits["train"]
    assert train.column_names == ["text", "label"]
    assert train["label"][:] == ["negative", "positive", "negative", "positive"]  # names, not ids
    assert train.features["label"] == datasets.Value("string")
    assert train[0] == {"text": "s0", "label": "negative"}


def test_other_labels_become_text_and_a_score_a_float(tmp_path):
    ds = datasets.Dataset.from_dict({"a": ["x", "y"], "gold": [1, 0], "sim": [3, 4], "tags": [[0, 1], [1]]})
    ds.save_to_disk(tmp_path / "plain")
    splits = read_hf(path=tmp_path / "plain", columns={"text": "a", "label": "gold", "score": "sim"})
    train = splits["train"]
    assert train["label"][:] == ["1", "0"] and train["score"][:] == [3.0, 4.0]
    assert train.features["score"] == datasets.Value("float64")
    bad = datasets.Dataset.from_dict({"a": ["x"], "sim": ["high"]})
    bad.save_to_disk(tmp_path / "bad")
    message = r"^data split 'train': column 'sim' \(score\) holds 'high', expected a number$"
    with pytest.raises(ValueError, match=message):
        read_hf(path=tmp_path / "bad", columns={"score": "sim"})


def test_renaming_onto_names_in_use(tmp_path):
    tiny(2).save_to_disk(tmp_path / "one")
    train = read_hf(path=tmp_path / "one", columns={"label": "sentence", "sentence": "idx", "id": "idx"})["train"]
    assert train.column_names == ["label", "sentence", "id"]
    assert train["label"][:] == ["s0", "s1"] and train["id"][:] == [0, 1]


def test_local_csv_and_json_through_load_dataset(tmp_path):
    (tmp_path / "train.csv").write_text("sentence,label\ngood,1\nbad,0\n", encoding="utf-8")
    (tmp_path / "dev.csv").write_text("sentence,label\nfine,1\n", encoding="utf-8")
    splits = read_hf(
        name="csv",
        data_files={"train": str(tmp_path / "train.csv"), "validation": str(tmp_path / "dev.csv")},
        columns={"text": "sentence", "label": "label"},
    )
    assert sorted(splits) == ["dev", "train"]
    assert splits["train"][:] == {"text": ["good", "bad"], "label": ["1", "0"]}
    (tmp_path / "all.jsonl").write_text('{"t": "a", "s": 2.5}\n{"t": "b", "s": 1}\n', encoding="utf-8")
    json = read_hf(name="json", data_files=str(tmp_path / "all.jsonl"), columns={"text": "t", "score": "s"})
    assert json["train"][:] == {"text": ["a", "b"], "score": [2.5, 1.0]}
    assert list((tmp_path / "hf-cache").iterdir())  # the cache went where the test put it


def test_missing_data_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^data.data_files: .*nope\.csv"):
        read_hf(name="csv", data_files=str(tmp_path / "nope.csv"))


@pytest.mark.parametrize("name", ["glue", "stanfordnlp/sst2"])
def test_hub_name_fails_fast_offline(name):
    start = time.perf_counter()
    with pytest.raises(ValueError) as caught:
        read_hf(name=name)
    assert time.perf_counter() - start < 5
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"data.name: {name!r} is not a local dataset builder (csv, json, parquet, text)")
    assert "not downloaded here (offline)" in message and "save_to_disk and give data.path" in message


def test_offline_flags_are_restored():
    import huggingface_hub.constants as hub

    before = (hub.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE)
    with pytest.raises(ValueError):
        read_hf(name="glue")
    assert (hub.HF_HUB_OFFLINE, datasets.config.HF_HUB_OFFLINE) == before


def test_missing_column(tmp_path):
    tiny().save_to_disk(tmp_path / "one")
    message = r"^data split 'train': no column 'text' \(text\); it has: sentence, label, idx$"
    with pytest.raises(ValueError, match=message):
        read_hf(path=tmp_path / "one", columns={"text": "text", "label": "label"})
    with pytest.raises(ValueError, match=r"^sst2 split 'train': no column 'y' \(label\)"):
        read_hf(path=tmp_path / "one", columns={"label": "y"}, what="sst2")


def test_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^data\.path: no such folder .*nowhere$"):
        read_hf(path=tmp_path / "nowhere")


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_not_a_saved_dataset(tmp_path, kind):
    target = tmp_path / "plain"
    if kind == "folder":
        target.mkdir()
        (target / "train.csv").write_text("a,b\n1,2\n", encoding="utf-8")
        reason = "no state.json or dataset_dict.json in it"
    else:
        target.write_text("hello\n", encoding="utf-8")
        reason = "a file, not a folder"
    with pytest.raises(ValueError) as caught:
        read_hf(path=target)
    assert str(caught.value) == (
        f"data.path: {target} is not a folder written by Dataset.save_to_disk or DatasetDict.save_to_disk ({reason})"
    )


@pytest.mark.parametrize("kwargs", [{}, {"path": "a", "name": "csv"}])
def test_give_path_or_name(kwargs):
    with pytest.raises(ValueError, match="give one of data.path .* or data.name"):
        read_hf(**kwargs)
