"""Reliability of training runs: a diverging loss stops the run, checkpoints never run code,
saves survive being killed, and a killed run resumes to the same numbers."""

import pytest

from treelstm import cli


def run(*argv):
    return cli.main([str(a) for a in argv])


@pytest.mark.parametrize("bad, shown", [(float("nan"), "nan"), (float("inf"), "inf")])
def test_a_nan_or_inf_loss_stops_the_run_naming_the_step(data_root, configs, tmp_path, capsys, monkeypatch, bad, shown):
    from tasks.sentiment import Sentiment

    calls, loss = [], Sentiment.loss

    def diverging(self, model, batch):  # the 11th batch: epoch 2 (8 batches an epoch), step 3
        calls.append(1)
        return loss(self, model, batch) * (bad if len(calls) == 11 else 1.0)

    monkeypatch.setattr(Sentiment, "loss", diverging)
    assert run("train", configs / "sst.yaml", "--set", "training.epochs=3", "--data-dir", data_root,
               "--runs-dir", tmp_path) == 2
    assert capsys.readouterr().err.strip() == (
        f"treelstm: error: epoch 2, step 3: the loss is {shown}; lower training.lr or set training.clip")
    assert not (tmp_path / "tiny-sst" / "seed-1" / "test_metrics.json").exists()
    calls.clear()
    assert run("train", configs / "sst.yaml", "--set", "training.clip=1", "--data-dir", data_root,
               "--runs-dir", tmp_path) == 2
    assert capsys.readouterr().err.strip().endswith(f"the loss is {shown}; lower training.lr")
