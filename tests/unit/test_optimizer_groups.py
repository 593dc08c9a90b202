"""The optimizer finds the word table by identity (the table the model was built with), not by
parameter name: a character table, whose name also ends in ``embedding.weight``, is an ordinary weight."""

import pytest
import torch
from torch import nn

from treelstm.runner.config import Config, parse_config
from treelstm.runner.training import _optimizers


def config(embeddings=None, **training) -> Config:
    embeddings = embeddings or {"vectors": "random", "dim": 4, "freeze": False}
    return parse_config({"name": "t", "task": "ner", "data": {"format": "conll2003"},
                         "embeddings": embeddings, "model": {"cell": "lstm"}, "training": training}, "test")


class Chars(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Embedding(20, 3, padding_idx=0)


class Tagger(nn.Module):
    """A word table, a character table named ``chars.embedding.weight`` and a casing table."""

    def __init__(self, words: nn.Embedding):
        super().__init__()
        torch.manual_seed(0)
        self.words, self.chars, self.casing = words, Chars(), nn.Embedding(5, 2)
        self.out = nn.Linear(4 + 3 + 2, 1)

    def forward(self, ids):
        x = torch.cat([self.words(ids), self.chars.embedding(ids % 20), self.casing(ids % 5)], dim=1)
        return self.out(x).pow(2).sum()


def group_of(optimizers, param):
    """(optimizer index, its group's weight decay, its lr) of ``param``."""
    found = [(k, g["weight_decay"], g["lr"]) for k, o in enumerate(optimizers) for g in o.param_groups
             if any(p is param for p in g["params"])]
    assert len(found) == 1
    return found[0]


@pytest.mark.parametrize("optimizer", ["adagrad", "sgd", "adam"])
def test_only_the_word_table_goes_without_l2(optimizer):
    words = nn.Embedding(30, 4, padding_idx=0)
    model = Tagger(words)
    optimizers = _optimizers(model, config(optimizer=optimizer, lr=0.5, weight_decay=0.01), table=words)
    assert len(optimizers) == 1
    assert group_of(optimizers, words.weight) == (0, 0.0, 0.5)
    for param in [model.chars.embedding.weight, model.casing.weight, model.out.weight]:
        assert group_of(optimizers, param) == (0, 0.01, 0.5)


def test_only_the_word_table_gets_the_embeddings_learning_rate():
    words = nn.Embedding(30, 4, padding_idx=0)
    model = Tagger(words)
    c = config(embeddings={"vectors": "random", "dim": 4, "freeze": False, "lr": 0.1},
               optimizer="adam", lr=1e-3, weight_decay=0.01)
    optimizers = _optimizers(model, c, table=words)
    assert len(optimizers) == 2 and [p for g in optimizers[1].param_groups for p in g["params"]] == [words.weight]
    assert group_of(optimizers, words.weight) == (1, 0, 0.1)
    assert group_of(optimizers, model.chars.embedding.weight) == (0, 0.01, 1e-3)


def test_the_character_table_trains_as_an_ordinary_weight():
    """One SGD step: the word table moves by lr * grad, the character table by lr * (grad + L2)."""
    words = nn.Embedding(30, 4, padding_idx=0)
    model = Tagger(words)
    optimizers = _optimizers(model, config(optimizer="sgd", lr=0.5, weight_decay=0.01), table=words)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    model(torch.arange(1, 30)).backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters()}
    optimizers[0].step()
    for name, p in model.named_parameters():
        decay = 0.0 if name == "words.weight" else 0.01
        assert torch.allclose(p, before[name] - 0.5 * (grads[name] + decay * before[name])), name


def test_a_frozen_word_table_is_in_no_group_and_the_other_tables_still_train():
    words = nn.Embedding.from_pretrained(torch.randn(30, 4), freeze=True)
    model = Tagger(words)
    optimizers = _optimizers(model, config(optimizer="adagrad", lr=0.05, weight_decay=1e-4), table=words)
    assert not any(p is words.weight for o in optimizers for g in o.param_groups for p in g["params"])
    assert group_of(optimizers, model.chars.embedding.weight) == (0, 1e-4, 0.05)
    assert [len(g["params"]) for g in optimizers[0].param_groups] == [4]  # chars, casing, out.weight, out.bias


def test_a_table_that_is_not_the_model_s_is_refused():
    model = Tagger(nn.Embedding(30, 4))
    with pytest.raises(ValueError, match="word table is not a part of the model"):
        _optimizers(model, config(optimizer="adam", lr=1e-3), table=nn.Embedding(30, 4))
