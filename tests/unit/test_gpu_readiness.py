"""What a GPU run needs that a CPU can check: pinned batches, one GPU per torchrun process, DGL's
mode only where the installed DGL can hold graphs, and every model under bf16 autocast."""

import dataclasses

import numpy as np
import pytest
import torch
from conftest import CELLS, WORDS, forest_for
from torch import nn
from torch.utils.data._utils.pin_memory import pin_memory as dataloader_pin_memory

import treelstm
from treelstm import _dgl, trees
from treelstm.errors import UserError
from treelstm.models.batch import TreeBatch
from treelstm.models.tagger import SequenceTagger, TaggedBatch
from treelstm.nn.characters import CharLSTM
from treelstm.nn.crf import CRF
from treelstm.runner.distributed import Ranks
from treelstm.runner.text_tasks import PairBatch
from treelstm.text.embeddings import Vocabulary
from treelstm.trees.schedule import LevelSchedule

VOCAB = Vocabulary(WORDS[:6])
SENTENCES = [["Peter", "Blackburn"], ["EU", "rejects", "German", "call"], ["x"]]


def tree_batch() -> TreeBatch:
    forest = [trees.from_ptb("(3 (2 It) (4 (2 works) (2 well)))"), trees.from_ptb("(1 no)")]
    return TreeBatch.of(forest, VOCAB)


def batches():
    from treelstm_tasks.classification import TextBatch

    trees_batch = tree_batch()
    tagged = TaggedBatch.of(SENTENCES, VOCAB, [[0] * len(s) for s in SENTENCES])
    return {"TreeBatch": trees_batch,
            "PairBatch": PairBatch(TreeBatch.of([trees.chain(3), trees.chain(2)], VOCAB), torch.zeros(1)),
            "TextBatch": TextBatch(trees_batch, torch.zeros(trees_batch.graph.num_nodes(), dtype=torch.long),
                                   torch.zeros(trees_batch.num_trees, dtype=torch.long)),
            "TaggedBatch": tagged}


def tensors_in(value, host_fields=()):
    """Every tensor a batch holds, through nested batches and the level schedule, by field path."""
    found = {}
    for field in dataclasses.fields(value):
        item = getattr(value, field.name)
        if isinstance(item, torch.Tensor) and field.name not in host_fields:
            found[field.name] = item
        elif isinstance(item, LevelSchedule):
            found |= {f"{field.name}.{k}": getattr(item, k) for k in ("order", "position", "child", "parent", "slot")}
        elif dataclasses.is_dataclass(item):
            found |= {f"{field.name}.{k}": v for k, v in tensors_in(item, getattr(item, "HOST_FIELDS", ())).items()}
    return found


@pytest.mark.parametrize("kind", ["TreeBatch", "PairBatch", "TextBatch", "TaggedBatch"])
def test_a_dataloader_with_pin_memory_pins_every_tensor_of_every_batch_type(kind, monkeypatch):
    """``DataLoader(pin_memory=True)`` calls a batch's ``pin_memory()``; every tensor the device reads
    comes out pinned (here: a copy marked as pinned, since pinning needs CUDA)."""
    pinned = set()

    def pin(tensor, *args, **kwargs):
        copy = tensor.clone()
        pinned.add(copy.untyped_storage().data_ptr())
        return copy

    monkeypatch.setattr(torch.Tensor, "pin_memory", pin)
    batch = batches()[kind]
    out = dataloader_pin_memory(batch)
    assert type(out) is type(batch)
    host = getattr(batch, "HOST_FIELDS", ())
    moved = tensors_in(out, host)
    assert moved and all(t.untyped_storage().data_ptr() in pinned for t in moved.values()), [
        name for name, t in moved.items() if t.untyped_storage().data_ptr() not in pinned]
    for name in host:  # sizes read on the host stay as they were
        assert getattr(out, name) is getattr(batch, name)
    assert all(torch.equal(a, b) for a, b in zip(tensors_in(batch, host).values(), moved.values()))


@pytest.mark.parametrize("device, local_rank, size, expected", [
    ("cuda", 1, 2, "cuda:1"), ("cuda", 0, 4, "cuda:0"), ("cpu", 1, 2, "cpu"), ("cuda", 0, 1, "cuda"),
    ("cuda:1", 0, 1, "cuda:1"), ("mps", 1, 2, "mps")])
def test_under_torchrun_each_process_takes_the_gpu_of_its_local_rank(device, local_rank, size, expected):
    assert Ranks(local_rank, size, local_rank).device(torch.device(device)) == torch.device(expected)


def test_a_numbered_gpu_for_several_processes_is_refused():
    with pytest.raises(UserError, match="under torchrun each process takes the GPU of its LOCAL_RANK"):
        Ranks(0, 2, 0).device(torch.device("cuda:0"))


def test_ranks_read_local_rank_from_the_environment(monkeypatch):
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert Ranks.from_env() == Ranks(3, 4, 1)


@pytest.mark.skipif(_dgl.runs_on(torch.device("cuda", 0)), reason="this DGL was built with CUDA")
def test_dgl_mode_checks_the_dgl_build_not_the_device_type(monkeypatch, mixed_trees):
    assert _dgl.runs_on(torch.device("cpu")) and not _dgl.runs_on(torch.device("cuda", 0))
    assert not _dgl.runs_on(torch.device("meta"))
    graph = trees.batch(mixed_trees)
    encoder = treelstm.TreeLSTM(treelstm.ChildSumTreeLSTMCell(4, 3), mode="dgl").to("meta")
    with pytest.raises(ValueError, match=r"mode='dgl' on meta needs a DGL built for it.*use mode='fast'"):
        encoder(graph, torch.empty(graph.num_nodes(), 4, device="meta"))

    class Present:
        exist = 1

    monkeypatch.setattr(_dgl.dgl.ndarray, "gpu", lambda index: Present())
    assert _dgl.runs_on(torch.device("cuda", 0)) and _dgl.runs_on(torch.device("cuda"))


TREE_CASES = [(name, fused) for name in CELLS for fused in (None, False) if fused is False or name != "gru"]


@pytest.mark.parametrize("name, fused", TREE_CASES)
@pytest.mark.parametrize("inputs", ["every node", "some nodes"])
def test_tree_lstm_under_bf16_autocast_is_close_to_float32(name, fused, inputs, mixed_trees, binary_trees):
    """The fused level loop keeps its states in float32 under autocast; the autograd path runs in bf16.
    Both stay within bf16's precision of the float32 states, and gradients reach every weight."""
    torch.manual_seed(0)
    graph = trees.batch(forest_for(name, mixed_trees, binary_trees))
    encoder = treelstm.TreeLSTM(CELLS[name](6, 5), fused=fused)
    x_nodes = None if inputs == "every node" else torch.arange(0, graph.num_nodes(), 2)
    x = torch.randn(graph.num_nodes() if x_nodes is None else len(x_nodes), 6)
    reference = encoder(graph, x, x_nodes=x_nodes).h
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = encoder(graph, x, x_nodes=x_nodes)
    assert out.h.dtype == (torch.float32 if fused is None else torch.bfloat16)
    torch.testing.assert_close(out.h.float(), reference, atol=3e-2, rtol=0)
    out.h.float().sum().backward()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 and torch.isfinite(p.grad).all()
               for p in encoder.parameters())


@pytest.mark.parametrize("fused", [True, False])
def test_the_tagger_scores_paths_in_float32_under_bf16_autocast(fused):
    torch.manual_seed(0)
    vocab = Vocabulary([w.lower() for s in SENTENCES for w in s])
    tagger = SequenceTagger(nn.Embedding(len(vocab), 6), 5, 4, chars=CharLSTM(5, 3), casing_dim=3, crf=CRF(5),
                            fused=fused)
    batch = TaggedBatch.of(SENTENCES, vocab, [[k % 5 for k in range(len(s))] for s in SENTENCES])
    reference = tagger.loss(batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert tagger(batch).dtype == torch.float32
        loss = tagger.loss(batch)
        decoded = tagger.decode(batch)
    assert loss.dtype == torch.float32 and abs(loss.item() - reference.item()) < 0.05 * abs(reference.item())
    loss.backward()
    assert decoded.shape == (sum(map(len, SENTENCES)),)
    assert all(torch.isfinite(p.grad).all() for p in tagger.parameters() if p.grad is not None)
    assert np.isfinite(loss.item())
