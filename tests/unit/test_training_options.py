"""Options of issue 19: dropout on the pair model's sentence vectors and on word vectors, the NER
tagger's word dropout, variational dropout and cased lookup, and the Nadam optimizer."""

import pytest
import torch
from conftest import WORDS, random_parents_line
from torch import nn

from treelstm import trees
from treelstm.models.batch import TreeBatch
from treelstm.models.sentence import SentenceEncoder
from treelstm.models.tagger import SequenceTagger, TaggedBatch
from treelstm.nn.crf import CRF
from treelstm.nn.heads import SimilarityHead
from treelstm.runner.text_tasks import PairBatch, PairModel
from treelstm.text.embeddings import Vocabulary

VOCAB = Vocabulary(WORDS)
SENTENCES = [["Peter", "Blackburn", "runs", "in", "the", "park"], ["EU", "rejects", "German", "call"], ["1996"]]


def pair_batch(rng, pairs=4):
    forest = []
    for n in rng.integers(1, 8, 2 * pairs):
        tree = trees.from_parents(random_parents_line(int(n), rng))
        forest.append(trees.Tree.of(tree.parents, tree.slots, [WORDS[int(k)] for k in rng.integers(0, 14, int(n))]))
    return PairBatch(TreeBatch.of(forest, VOCAB), torch.zeros(pairs))


def pair_model(dropout=0.0, embedding_dropout=0.0):
    torch.manual_seed(0)
    encoder = SentenceEncoder(nn.Embedding(len(VOCAB), 6), "childsum", 5, embedding_dropout=embedding_dropout)
    return PairModel(encoder, SimilarityHead(5, 4, 3), dropout=dropout)


def test_no_dropout_draws_no_random_numbers_and_changes_nothing(rng):
    batch = pair_batch(rng)
    plain, zero = pair_model(), pair_model(0.0, 0.0)
    torch.manual_seed(3)
    a = plain(batch)
    after_a = torch.rand(1)
    torch.manual_seed(3)
    b = zero(batch)
    assert torch.equal(a, b) and torch.equal(torch.rand(1), after_a)


def test_sentence_dropout_shares_one_mask_per_pair_and_only_while_training(rng):
    batch = pair_batch(rng)
    model = pair_model(dropout=0.5)
    seen = {}
    model.head.register_forward_pre_hook(lambda module, args: seen.update(h_L=args[0], h_R=args[1]))
    model.eval()
    model(batch)
    _, sentences = model.encoder(batch.trees)
    assert torch.equal(seen["h_L"], sentences[:4]) and torch.equal(seen["h_R"], sentences[4:])
    model.train()
    model(batch)
    assert torch.equal(seen["h_L"] == 0, seen["h_R"] == 0)  # the same units dropped on both sides
    kept = seen["h_L"] != 0
    assert 0 < kept.float().mean() < 1
    assert torch.allclose(seen["h_L"][kept], 2 * sentences[:4][kept])  # scaled by 1 / (1 - p)


def test_embedding_dropout_only_while_training(rng):
    batch = pair_batch(rng)
    model = pair_model(embedding_dropout=0.5)
    model.eval()
    plain = pair_model()
    assert torch.equal(model(batch), plain(batch))
    model.train()
    assert not torch.equal(model(batch), plain(batch))


def tagger(**options):
    torch.manual_seed(0)
    vocab = Vocabulary(["peter", "blackburn", "Peter", "eu", "german", "runs"])
    return SequenceTagger(nn.Embedding(len(vocab), 6), 5, 4, crf=CRF(5), **options), vocab


def test_word_dropout_replaces_words_by_unk_while_training():
    model, vocab = tagger(word_dropout=0.5)
    batch = TaggedBatch.of(SENTENCES, vocab)
    ids = []
    model.embedding.register_forward_pre_hook(lambda module, args: ids.append(args[0]))
    model.eval()
    model(batch)
    assert torch.equal(ids[-1], batch.word_ids)
    model.train()
    model(batch)
    replaced = ids[-1] != batch.word_ids
    assert replaced.any() and (ids[-1][replaced] == 1).all()
    with pytest.raises(ValueError, match="word_dropout must be in \\[0, 1\\), got 1.0"):
        tagger(word_dropout=1.0)


def test_variational_dropout_uses_one_mask_per_sentence():
    model, vocab = tagger(dropout=0.5, variational=True)
    batch = TaggedBatch.of(SENTENCES, vocab)
    x = torch.ones(len(batch.word_ids), 7)
    model.train()
    dropped = model._drop(x, batch)
    for rows in dropped.split(batch.lengths.tolist()):
        assert (rows == rows[0]).all()  # every token of a sentence: the same mask
    assert set(dropped.unique().tolist()) <= {0.0, 2.0}
    model.eval()
    assert torch.equal(model._drop(x, batch), x)


def test_cased_lookup():
    _, vocab = tagger()
    lower, cased = TaggedBatch.of(SENTENCES, vocab), TaggedBatch.of(SENTENCES, vocab, lowercase=False)
    assert lower.word_ids[:2].tolist() == [vocab["peter"], vocab["blackburn"]]
    assert cased.word_ids[:2].tolist() == [vocab["Peter"], 1]  # "Blackburn" is not in the vocabulary as written


def test_nadam_is_torch_nadam(tmp_path):
    from treelstm.runner.config import TrainingConfig
    from treelstm.runner.training import _optimizers

    class Config:
        training = TrainingConfig(optimizer="nadam", lr=2e-3)
        embeddings = type("E", (), {"lr": None})()

    model = pair_model()
    (optimizer,) = _optimizers(model, Config, model.encoder.embedding)
    assert isinstance(optimizer, torch.optim.NAdam) and optimizer.param_groups[0]["lr"] == 2e-3


def config(task, model, data=None):
    from treelstm.runner.config import parse_config

    raw = {"name": "x", "task": task, "data": data or {"format": "tsv", "train": "t.tsv"},
           "embeddings": {"vectors": "random", "dim": 4}, "model": model}
    return parse_config(raw, "c.yaml")


def test_the_new_model_keys_are_read_only_where_they_apply():
    from treelstm.errors import UserError

    with pytest.raises(UserError, match="model.leaf: only the N-ary Tree-LSTM \\(cell: nary\\) reads it, not cell childsum"):
        config("classification", {"cell": "childsum", "leaf": "linear"})
    trees_ = {"format": "tsv", "train": "t.tsv", "tree": "constituency"}
    assert config("classification", {"cell": "nary", "leaf": "linear"}, trees_).model.leaf == "linear"
    with pytest.raises(UserError, match="childsum-attentive attends with the other text of a pair"):
        config("classification", {"cell": "childsum-attentive"})
    pairs = config("pair-classification", {"cell": "childsum-attentive", "dropout": 0.2, "embedding_dropout": 0.1})
    assert (pairs.model.dropout, pairs.model.embedding_dropout) == (0.2, 0.1)
    with pytest.raises(UserError, match="childsum-attentive needs a word at every node"):
        config("pair-regression", {"cell": "childsum-attentive"}, trees_)
    ner = config("ner", {"lowercase": False, "word_dropout": 0.1, "variational_dropout": True},
                 {"format": "conll", "train": "t.conll"})
    assert (ner.model.lowercase, ner.model.word_dropout, ner.model.variational_dropout) == (False, 0.1, True)
