"""Sparse gradients for the tuned word table: the same training, fewer rows touched."""

import pytest
import torch
from torch import nn

from treelstm.runner.config import Config, parse_config
from treelstm.runner.training import _optimizers, sparse_table


def config(**training) -> Config:
    embeddings = training.pop("embeddings", {"vectors": "random", "dim": 4, "freeze": False})
    return parse_config({"name": "t", "task": "classification", "data": {"format": "sst"},
                         "embeddings": embeddings, "model": {"cell": "childsum"}, "training": training}, "test")


@pytest.mark.parametrize("training, expected", [
    ({"optimizer": "adagrad"}, True),
    ({"optimizer": "sgd"}, True),
    ({"optimizer": "sgd", "momentum": 0.9}, False),
    ({"optimizer": "adam"}, False),
    ({"optimizer": "adagrad", "clip": 5.0}, False),
    ({"optimizer": "adam", "embeddings": {"vectors": "random", "freeze": False, "lr": 0.1}}, True),
    ({"optimizer": "adagrad", "embeddings": {"vectors": "random", "freeze": True}}, False),
])
def test_sparse_table_where_the_optimizer_takes_it(training, expected):
    assert sparse_table(config(**training)) is expected


class Model(nn.Module):
    def __init__(self, sparse: bool):
        super().__init__()
        torch.manual_seed(0)
        self.embedding = nn.Embedding(30, 4, padding_idx=0, sparse=sparse)
        self.out = nn.Linear(4, 1)

    def forward(self, ids):
        return self.out(self.embedding(ids)).pow(2).sum()


@pytest.mark.parametrize("training", [{"optimizer": "adagrad"}, {"optimizer": "sgd"},
                                      {"optimizer": "adam", "embeddings": {"vectors": "random", "freeze": False, "lr": 0.1}}])
def test_sparse_and_dense_tables_train_alike(training):
    c = config(**training)
    assert sparse_table(c)
    models = [Model(sparse) for sparse in (True, False)]
    optimizers = [_optimizers(m, c, table=m.embedding) for m in models]
    batches = [torch.randint(0, 30, (12,), generator=torch.Generator().manual_seed(k)) for k in range(5)]
    for ids in batches:
        for model, opts in zip(models, optimizers):
            for o in opts:
                o.zero_grad()
            model(ids).backward()
            for o in opts:
                o.step()
    assert models[0].embedding.weight.grad.is_sparse and not models[1].embedding.weight.grad.is_sparse
    for a, b in zip(models[0].parameters(), models[1].parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    untouched = sorted(set(range(30)) - {int(i) for ids in batches for i in ids})
    assert untouched and torch.equal(models[0].embedding.weight[untouched], Model(True).embedding.weight[untouched])
