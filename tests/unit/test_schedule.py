"""The level schedule: levels, child lists, errors, device copies."""

import numpy as np
import pytest
import torch

from treelstm import LevelSchedule, trees


def test_levels_are_heights_and_children_come_before_parents():
    tree = trees.from_ptb("(3 (2 It) (4 (2 's) (4 great)))")  # leaves 0-2, node 3 = ('s great), root 4
    s = LevelSchedule.from_graph(tree.graph)
    assert s.level.tolist() == [0, 0, 0, 1, 2]
    assert s.offsets == (0, 3, 4, 5)
    assert s.edge_offsets == (0, 0, 2, 4)
    assert s.order.tolist() == [0, 1, 2, 3, 4]
    # level 2 (the root) has children: node 0 in slot 0, node 3 in slot 1
    assert s.child[2:4].tolist() == [0, 3] and s.slot[2:4].tolist() == [0, 1] and s.parent[2:4].tolist() == [0, 0]
    assert s.max_children == 2 and s.root_of.tolist() == [4] * 5


def test_schedule_matches_dgl_topological_frontiers(rng):
    from conftest import random_parents_line

    from treelstm._dgl import dgl

    graph = trees.batch([trees.from_parents(random_parents_line(n, rng)) for n in (4, 9, 1, 16)])
    s = LevelSchedule.from_graph(graph)
    frontiers = dgl.topological_nodes_generator(graph)
    assert [sorted(f.tolist()) for f in frontiers] == [
        s.order[a:b].tolist() for a, b in zip(s.offsets[:-1], s.offsets[1:])
    ]


def test_without_slots_children_rank_by_node_id():
    s = LevelSchedule.from_edges(4, np.array([3, 1, 2]), np.array([0, 0, 0]))
    assert s.slot.tolist() == [0, 1, 2] and s.child.tolist() == [0, 1, 2]  # rows of nodes 1, 2, 3


@pytest.mark.parametrize(
    "n, child, parent, message",
    [
        (0, [], [], "empty graph"),
        (3, [0, 0], [1, 2], "node 0 has 2 parents"),
        (3, [0, 1, 2], [1, 2, 0], "node 0 is on a cycle"),
    ],
)
def test_schedule_rejects_non_forests(n, child, parent, message):
    with pytest.raises(ValueError, match=message):
        LevelSchedule.from_edges(n, np.array(child, dtype=np.int64), np.array(parent, dtype=np.int64))


def test_reverse_reads_chains_backwards():
    s = LevelSchedule.from_graph(trees.chain(3).graph).reverse()
    assert s.level.tolist() == [2, 1, 0]
    assert s.reverse() is s.reverse()  # cached


def test_to_device_moves_index_tensors_once():
    s = LevelSchedule.from_graph(trees.chain(3).graph)
    assert s.to("cpu") is s
    meta = s.to("meta")
    assert meta.child.device.type == "meta" and meta.offsets == s.offsets
    assert s.to(torch.device("meta")) is meta
