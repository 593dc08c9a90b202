"""Mixed precision (``training.precision``) and collating workers (``training.workers``) in real runs."""

import json

import pytest

from treelstm import cli
from treelstm.runner.config import TrainingConfig

CONFIGS = ["sick", "sst", "ner"]


def train(configs, data_root, runs, name, *sets):
    argv = ["train", configs / f"{name}.yaml", "--data-dir", data_root, "--runs-dir", runs,
            "--set", "training.epochs=4", *[item for s in sets for item in ("--set", s)]]
    assert cli.main([str(a) for a in argv]) == 0
    folder = next(runs.glob("*/seed-1"))
    losses = [json.loads(line)["train_loss"] for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return losses, json.loads((folder / "test_metrics.json").read_text()), folder


@pytest.mark.parametrize("name", CONFIGS)
def test_bf16_trains_within_a_stated_tolerance_of_fp32(name, data_root, configs, tmp_path):
    """The stated tolerance on these 4-epoch runs: each epoch's training loss within 1% of fp32's, every
    test metric within 0.1 (the fixture's test splits are 12-15 examples: a correlation moves by
    several hundredths when one prediction does); and the loss falls. docs/performance.md compares
    bf16 and fp32 on a real run."""
    fp32_losses, fp32, _ = train(configs, data_root, tmp_path / "fp32", name)
    losses, bf16, folder = train(configs, data_root, tmp_path / "bf16", name, "training.precision=bf16")
    assert losses[-1] < losses[0]
    assert all(abs(a - b) <= 0.01 * abs(b) for a, b in zip(losses, fp32_losses, strict=True))
    assert bf16["test"].keys() == fp32["test"].keys()
    assert all(abs(bf16["test"][k] - fp32["test"][k]) <= 0.1 for k in fp32["test"]), (bf16["test"], fp32["test"])
    assert json.loads((folder / "checkpoint" / "meta.json").read_text())["precision"] == "bf16"


@pytest.mark.parametrize("name", CONFIGS)
def test_fp16_with_its_gradient_scaler_trains(name, data_root, configs, tmp_path):
    losses, result, _ = train(configs, data_root, tmp_path, name, "training.precision=fp16")
    assert losses[-1] < losses[0] and all(map(lambda v: v == v, result["test"].values()))  # no NaN


@pytest.mark.parametrize("name", CONFIGS)
def test_workers_collate_the_same_batches(name, data_root, configs, tmp_path):
    """Collating in a worker process changes nothing: the same numbers to the last digit."""
    alone, alone_result, _ = train(configs, data_root, tmp_path / "alone", name)
    helped, helped_result, _ = train(configs, data_root, tmp_path / "helped", name, "training.workers=2")
    assert helped == alone and helped_result["test"] == alone_result["test"] and helped_result["dev"] == alone_result["dev"]


def test_a_checkpoint_predicts_in_the_precision_it_was_trained_in(data_root, configs, tmp_path, monkeypatch):
    import treelstm
    from treelstm.runner import predict

    _, _, folder = train(configs, data_root, tmp_path, "sick", "training.precision=bf16")
    real, used = predict.autocast, []

    def recording(precision, device):
        used.append(precision)
        return real(precision, device)

    monkeypatch.setattr(predict, "autocast", recording)
    scores = treelstm.load(folder / "checkpoint", device="cpu").predict([("A dog runs.", "A dog is running.")])
    assert used == ["bf16"] and isinstance(scores[0]["score"], float)


@pytest.mark.parametrize("key", TrainingConfig.model_fields)
def test_a_bad_value_of_any_training_key_is_one_line_and_exit_2(key, configs, tmp_path, capsys):
    """Every ``training`` key (precision and workers among them), generated from the schema."""
    assert cli.main(["train", str(configs / "sick.yaml"), "--set", f"training.{key}=not-a-value",
                     "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"training.{key}: " in err and "Traceback" not in err
    assert not (tmp_path / "tiny-sick").exists()
