"""No hidden host syncs: every model the project ships runs forward and backward on the meta device.

A meta tensor has a shape, dtype and device but no data, so any op that reads a value back to the host
(``.item()``, ``.tolist()``, ``.cpu()``, ``nonzero()``, boolean-mask indexing, ``repeat_interleave``
without ``output_size``, a tensor in an ``if``) fails there, and so does any op mixing the meta device
with the CPU: what passes here issues no host sync on a GPU either. The data pipeline's side stays
on the CPU as it would in training (graphs, level schedules computed at collate time, token ids,
lengths); the parameters, the inputs and the schedule's index tensors (``LevelSchedule.to``) are on meta.
"""

import dataclasses

import pytest
import torch
from conftest import CELLS, WORDS, forest_for, random_parents_line, random_ptb
from torch import nn

import treelstm
from treelstm import trees
from treelstm.models.batch import TreeBatch
from treelstm.models.sentence import SentenceEncoder
from treelstm.models.tagger import SequenceTagger, TaggedBatch
from treelstm.nn.attentive import AttentiveChildSumTreeLSTMCell
from treelstm.nn.cells import LinearLeafNaryTreeLSTMCell
from treelstm.nn.characters import CharCNN, CharLSTM, char_ids
from treelstm.nn import fused_levels
from treelstm.nn.crf import CRF
from treelstm.nn.heads import Classifier, SimilarityHead
from treelstm.text.embeddings import Vocabulary
from treelstm.trees.schedule import LevelSchedule

META = torch.device("meta")
IN, HID = 6, 4
TREE_CELLS = {**CELLS, "chain": lambda i, h: treelstm.ChainLSTMCell(i, h),
              "n-ary-linear-leaf": lambda i, h: LinearLeafNaryTreeLSTMCell(i, h),
              "attentive": lambda i, h: AttentiveChildSumTreeLSTMCell(i - 2, h, key_size=2)}  # x_j and a 2-d key
# (cell, fused): the LSTM cells both with the hand-written backward and with autograd through the cells
UNFUSED = ("gru", "n-ary-linear-leaf", "attentive")
CASES = [(name, fused) for name in TREE_CELLS for fused in (True, False) if fused is False or name not in UNFUSED]


def tree_forest(name, mixed_trees, binary_trees):
    return [trees.chain(6), trees.chain(3), trees.chain(1)] if name == "chain" else forest_for(
        name, mixed_trees, binary_trees)


def backward(*outputs):
    """``sum of every output``.backward(): each output takes part in the backward."""
    sum(out.sum() for out in outputs if out is not None).backward()


def assert_grads_on_meta(module):
    trained = [p for p in module.parameters() if p.requires_grad]
    assert trained and all(p.grad is not None and p.grad.device == META for p in trained)


# --- TreeLSTM: every cell, fused and autograd ---

@pytest.mark.parametrize("name, fused", CASES)
def test_tree_lstm_forward_and_backward_on_meta(name, fused, mixed_trees, binary_trees):
    graph = trees.batch(tree_forest(name, mixed_trees, binary_trees))
    schedule = LevelSchedule.from_graph(graph).to(META)
    encoder = treelstm.TreeLSTM(TREE_CELLS[name](IN, HID).to(META), fused=fused)
    x = torch.empty(graph.num_nodes(), IN, device=META, requires_grad=True)
    out = encoder(graph, x, schedule)
    assert out.h.device == META and out.h.shape == (graph.num_nodes(), HID)
    backward(out.h, out.c)
    assert x.grad is not None and x.grad.shape == x.shape
    assert_grads_on_meta(encoder)


@pytest.mark.parametrize("name, fused", CASES)
def test_tree_lstm_with_inputs_for_some_nodes_on_meta(name, fused, mixed_trees, binary_trees):
    graph = trees.batch(tree_forest(name, mixed_trees, binary_trees))
    schedule = LevelSchedule.from_graph(graph)  # on the CPU: run_levels moves it, once
    x_nodes = torch.arange(0, graph.num_nodes(), 2)
    encoder = treelstm.TreeLSTM(TREE_CELLS[name](IN, HID).to(META), fused=fused)
    x = torch.empty(len(x_nodes), IN, device=META, requires_grad=True)
    out = encoder(graph, x, schedule, x_nodes=x_nodes)
    backward(out.h, out.c)
    assert x.grad is not None
    assert_grads_on_meta(encoder)


@pytest.mark.parametrize("name", TREE_CELLS)
def test_tree_lstm_gates_on_meta(name, mixed_trees, binary_trees):
    graph = trees.batch(tree_forest(name, mixed_trees, binary_trees))
    encoder = treelstm.TreeLSTM(TREE_CELLS[name](IN, HID).to(META))
    out = encoder(graph, torch.empty(graph.num_nodes(), IN, device=META), LevelSchedule.from_graph(graph).to(META),
                  return_gates=True)
    assert out.gates and all(g.device == META for g in out.gates.values())
    backward(out.h, out.c, *out.gates.values())
    assert_grads_on_meta(encoder)


# --- ChainLSTM: torch's fused kernel and the cells ---

@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_chain_lstm_forward_and_backward_on_meta(fused, bidirectional):
    graph = trees.chains([5, 3, 1, 4])
    schedule = LevelSchedule.from_graph(graph).to(META)
    chain = treelstm.ChainLSTM(IN, HID, num_layers=2, bidirectional=bidirectional, dropout=0.5, fused=fused).to(META)
    x = torch.empty(graph.num_nodes(), IN, device=META, requires_grad=True)
    output, (h_n, c_n) = chain(graph, x, schedule)
    D = 2 if bidirectional else 1
    assert output.device == META and output.shape == (13, D * HID) and h_n.shape == (2 * D, 4, HID)
    backward(output, h_n, c_n)
    assert x.grad is not None
    assert_grads_on_meta(chain)


# --- the CRF and the character encoders ---

def crf_inputs(grad=True):
    emissions = torch.empty(3, 5, 4, device=META, requires_grad=grad)
    tags = torch.empty(3, 5, dtype=torch.long, device=META)
    mask = torch.empty(3, 5, dtype=torch.bool, device=META)
    return emissions, tags, mask


def test_crf_forward_and_backward_on_meta_without_the_value_checks():
    crf = CRF(4, torch.rand(4, 4) > 0.3, validate=False).to(META)
    emissions, tags, mask = crf_inputs()
    backward(crf(emissions, tags, mask))
    assert emissions.grad is not None
    assert_grads_on_meta(crf)
    with torch.no_grad():
        path, score = crf.decode(emissions, mask)
    assert path.device == score.device == META and path.shape == (3, 5)


@pytest.mark.xfail(strict=True, raises=RuntimeError, reason=(
    "CRF(validate=True), the default: the written-down host syncs of its value checks "
    "(mask[:, 0].all() in an if, tags.min().item()); validate=False skips them"))
def test_crf_value_checks_read_values():
    crf = CRF(4).to(META)
    crf(*crf_inputs())


@pytest.mark.parametrize("encoder", [CharLSTM, CharCNN])
def test_character_encoders_forward_and_backward_on_meta(encoder):
    model = encoder(8, 5).to(META)
    ids, lengths = char_ids(["Peter", "U.N.", "a", "Blackburn"])
    words = model(ids.to(META), lengths)  # lengths stay on the CPU, as the batch has them
    assert words.device == META and words.shape == (4, model.out_size)
    backward(words)
    assert_grads_on_meta(model)


# --- the models over text batches ---

SENTENCES = [["Peter", "Blackburn", "runs"], ["EU", "rejects", "German", "call", "to", "boycott"], ["1996"]]


@pytest.mark.parametrize("chars", ["lstm", "cnn", "none"])
@pytest.mark.parametrize("crf", [True, False])
@pytest.mark.parametrize("fused", [True, False])
def test_tagger_loss_backward_and_decode_on_meta(chars, crf, fused):
    vocab = Vocabulary(["peter", "blackburn", "eu", "german"])
    encoder = {"lstm": lambda: CharLSTM(5, 3), "cnn": lambda: CharCNN(5, 4), "none": lambda: None}[chars]()
    tagger = SequenceTagger(nn.Embedding(len(vocab), IN), 5, HID, num_layers=2, chars=encoder, casing_dim=3,
                            crf=CRF(5, validate=False) if crf else None, fused=fused).to(META)
    tags = [[k % 5 for k in range(len(s))] for s in SENTENCES]
    batch = TaggedBatch.of(SENTENCES, vocab, tags)
    batch = dataclasses.replace(batch, schedule=batch.schedule.to(META))
    loss = tagger.loss(batch)
    assert loss.device == META and loss.shape == ()
    loss.backward()
    assert_grads_on_meta(tagger)
    predicted = tagger.decode(batch)
    assert predicted.device == META and predicted.shape == (sum(map(len, SENTENCES)),)


def test_tagger_with_word_and_variational_dropout_on_meta():
    vocab = Vocabulary(["peter", "blackburn", "eu", "german"])
    tagger = SequenceTagger(nn.Embedding(len(vocab), IN), 5, HID, num_layers=2, chars=CharCNN(5, 4), dropout=0.5,
                            crf=CRF(5, validate=False), word_dropout=0.3, variational=True).to(META)
    batch = TaggedBatch.of(SENTENCES, vocab, [[k % 5 for k in range(len(s))] for s in SENTENCES], lowercase=False)
    loss = tagger.loss(dataclasses.replace(batch, schedule=batch.schedule.to(META)))
    loss.backward()
    assert_grads_on_meta(tagger)


def forest_of(cell, rng):
    """Chains for "lstm", constituency trees (words at the leaves only: word_nodes) for "nary",
    dependency trees for the others; every token a word of WORDS."""
    if cell == "lstm":
        forest = [trees.chain(n) for n in (4, 1, 7)]
    elif cell.startswith("nary"):
        forest = [trees.from_ptb(random_ptb(n, rng)) for n in (1, 3, 6)]
    else:
        forest = [trees.from_parents(random_parents_line(n, rng)) for n in (1, 4, 7)]
    words = [tuple(None if token is None and cell.startswith("nary") else WORDS[k % len(WORDS)]
                   for k, token in enumerate(t.tokens or [None] * t.num_nodes)) for t in forest]
    return [dataclasses.replace(t, tokens=w) for t, w in zip(forest, words)]


VOCAB = Vocabulary(WORDS[:6])


def on_meta_schedule(batch: TreeBatch) -> TreeBatch:
    return dataclasses.replace(batch, schedule=batch.schedule.to(META))


def encoder_for(cell):
    lstm = cell == "lstm"
    if cell == "nary-linear-leaf":
        return SentenceEncoder(nn.Embedding(len(VOCAB), IN), "nary", HID, leaf="linear", embedding_dropout=0.5)
    return SentenceEncoder(nn.Embedding(len(VOCAB), IN), cell, HID, num_layers=2 if lstm else 1, bidirectional=lstm)


ENCODER_CELLS = ["childsum", "nary", "childsum-gru", "lstm", "nary-linear-leaf", "childsum-attentive"]
PAIR_ONLY = ("childsum-attentive",)


@pytest.mark.parametrize("cell", ENCODER_CELLS)
def test_sentence_encoder_forward_and_backward_on_meta(cell, rng):
    forest = forest_of(cell, rng) + (forest_of(cell, rng) if cell in PAIR_ONLY else [])  # pairs: an even number
    batch = TreeBatch.of(forest, VOCAB)
    assert (batch.word_nodes is not None) == cell.startswith("nary")
    encoder = encoder_for(cell).to(META)
    nodes, sentences = encoder(on_meta_schedule(batch))
    assert nodes.device == sentences.device == META and sentences.shape == (batch.num_trees, encoder.out_size)
    backward(nodes, sentences)
    assert_grads_on_meta(encoder)


# --- each task's full model on a collated batch ---

@pytest.mark.parametrize("cell", ENCODER_CELLS)
def test_pair_model_forward_and_backward_on_meta(cell, rng):
    from treelstm.runner.text_tasks import PairBatch, PairModel

    first, second = forest_of(cell, rng), forest_of(cell, rng)
    batch = PairBatch(on_meta_schedule(TreeBatch.of(first + second, VOCAB)), torch.zeros(len(first)))
    encoder = encoder_for(cell)
    model = PairModel(encoder, SimilarityHead(encoder.out_size, 5, 5), dropout=0.5).to(META)
    log_p = model(batch)
    assert log_p.device == META and log_p.shape == (len(first), 5)
    backward(log_p, model.head.score(log_p))
    assert_grads_on_meta(model)


@pytest.mark.parametrize("cell", [cell for cell in ENCODER_CELLS if cell not in PAIR_ONLY])
def test_classification_model_forward_and_backward_on_meta(cell, rng):
    from treelstm_tasks.classification import ClassificationModel, TextBatch

    forest = forest_of(cell, rng)
    trees_batch = TreeBatch.of(forest, VOCAB)
    batch = TextBatch(on_meta_schedule(trees_batch), torch.zeros(trees_batch.graph.num_nodes(), dtype=torch.long),
                      torch.zeros(len(forest), dtype=torch.long))
    encoder = encoder_for(cell)
    model = ClassificationModel(encoder, Classifier(encoder.out_size, 3)).to(META)
    node_logits, text_logits = model(batch)
    assert text_logits.device == META and text_logits.shape == (len(forest), 3)
    backward(node_logits, text_logits)
    assert_grads_on_meta(model)


@pytest.mark.parametrize("cell", ["nary", "childsum"])
def test_the_leaf_projection_is_decided_at_collate_time_not_read_from_the_device(cell, rng, monkeypatch):
    """Constituency words sit at leaves only: the batch says so when it is collated on the CPU, so the
    N-ary encoder projects them with the node gates' rows even when the whole batch (``word_nodes``
    included) is on the device, where reading ``word_nodes`` would be a host sync."""
    batch = TreeBatch.of(forest_of(cell, rng), VOCAB)
    assert batch.words_at_leaves == (cell == "nary")
    calls = []
    original = fused_levels._LeafInputs.apply
    monkeypatch.setattr(fused_levels._LeafInputs, "apply", lambda *a: calls.append(1) or original(*a))
    encoder = encoder_for(cell).to(META)
    nodes, sentences = encoder(batch.to(META))
    backward(nodes, sentences)
    assert_grads_on_meta(encoder)
    assert len(calls) == (1 if cell == "nary" else 0)
