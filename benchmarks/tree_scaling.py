"""How a Tree-LSTM training step scales with tree depth and with batch size, plotted to a PNG.

    python benchmarks/tree_scaling.py                       # writes docs/img/tree_scaling.png
    python benchmarks/tree_scaling.py --smoke --output /tmp/s.png

* Depth: batches of 25 binary trees with the same number of leaves ``L`` (``2L - 1`` nodes), either
  balanced (depth about log2 L) or chain-like (every internal node has a leaf child: depth L - 1).
  Level-by-level engines take one step per level, so the chain-like trees cost them more; the
  ``nn.LSTM`` reference reads sequences of ``2L - 1`` tokens either way.
* Batch size: random binary trees of 19 leaves (37 nodes, SST's mean) at batch sizes 1 to 1,024.

Contenders as in ``tree_speed.py`` (N-ary cell, x 300, h 150, softmax on every node, Adagrad),
``fast``, ``dgl`` and ``nn.LSTM`` (one-tree-at-a-time recursion is in ``tree_speed.py``; here it
would dominate the run time). Each point is the median time of ``--repeat`` training steps on the
same batch after a warm-up step, one thread.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tree_models import Contender, optimizer, train_step  # noqa: E402
from tree_speed import _slots, random_binary  # noqa: E402

from treelstm.text.embeddings import Vocabulary  # noqa: E402
from treelstm.trees import Tree  # noqa: E402

CONTENDERS = ("fast", "dgl", "nn.LSTM")
WORDS = [f"w{k}" for k in range(1000)]


def balanced(leaves: int) -> Tree:
    """Adjacent pairs merged round by round: depth ceil(log2 leaves)."""
    parents, tops, next_id = [-1] * (2 * leaves - 1), list(range(leaves)), leaves
    while len(tops) > 1:
        merged = []
        for k in range(0, len(tops) - 1, 2):
            parents[tops[k]] = parents[tops[k + 1]] = next_id
            merged.append(next_id)
            next_id += 1
        tops = merged + (tops[-1:] if len(tops) % 2 else [])
    return _tree(parents)


def chain_like(leaves: int) -> Tree:
    """Each internal node joins the next leaf to everything before it: depth leaves - 1."""
    parents, top = [-1] * (2 * leaves - 1), 0
    for k in range(1, leaves):
        parents[top] = parents[k] = leaves + k - 1
        top = leaves + k - 1
    return _tree(parents)


def _tree(parents: list[int]) -> Tree:
    parents = np.array(parents)
    leaves = (len(parents) + 1) // 2
    rng = np.random.default_rng(len(parents))
    return Tree.of(parents, _slots(parents), [WORDS[k] for k in rng.integers(0, len(WORDS), leaves)])


def step_ms(name: str, trees: list[Tree], vocab: Vocabulary, repeat: int) -> float:
    """Median milliseconds of one training step of ``name`` on a batch of ``trees``."""
    torch.manual_seed(0)
    model = Contender(name, vocab, "nary")
    step = train_step(model, optimizer(model))
    batch = model.collate(trees, [np.random.default_rng(0).integers(0, 5, t.num_nodes) for t in trees])
    step(batch)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step(batch)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="two small sizes of each, for the tests")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--output", default=str(Path(__file__).resolve().parents[1] / "docs" / "img" / "tree_scaling.png"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    vocab = Vocabulary.build([WORDS])
    leaves = [4, 8] if args.smoke else [4, 8, 16, 32, 64, 128]
    sizes = [1, 4] if args.smoke else [1, 5, 25, 100, 256, 1024]
    depth = {(name, shape): [step_ms(name, [build(L)] * 25, vocab, args.repeat) for L in leaves]
             for name in CONTENDERS for shape, build in (("balanced", balanced), ("chain-like", chain_like))}
    rng = np.random.default_rng(0)
    pool = [random_binary(19, rng, [WORDS[k] for k in rng.integers(0, len(WORDS), 19)]) for _ in range(max(sizes))]
    batch = {name: [size / step_ms(name, pool[:size], vocab, args.repeat) * 1000 for size in sizes] for name in CONTENDERS}

    print("| trees of L leaves, batch 25 | " + " | ".join(f"L={L}" for L in leaves) + " |")
    print("|---|" + "---:|" * len(leaves))
    for (name, shape), values in depth.items():
        print(f"| {name}, {shape} (ms/step) | " + " | ".join(f"{v:.0f}" for v in values) + " |")
    print("\n| batch size | " + " | ".join(str(s) for s in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for name, values in batch.items():
        print(f"| {name} (trees/s) | " + " | ".join(f"{v:,.0f}" for v in values) + " |")

    fig = Figure(figsize=(11, 4.2))
    left, right = fig.subplots(1, 2)
    colours = dict(zip(CONTENDERS, ["tab:blue", "tab:orange", "tab:green"]))
    for (name, shape), values in depth.items():
        left.plot(leaves, values, marker="o", color=colours[name], linestyle="-" if shape == "balanced" else "--",
                  label=f"{name}, {shape}")
    left.set(xscale="log", yscale="log", xlabel="leaves per tree (nodes = 2L - 1)", ylabel="ms per training step",
             title="Depth: balanced vs chain-like trees, batch 25")
    left.set_xticks(leaves, [str(L) for L in leaves])
    for name, values in batch.items():
        right.plot(sizes, values, marker="o", color=colours[name], label=name)
    right.set(xscale="log", xlabel="batch size (trees of 19 leaves)", ylabel="trees per second (training)",
              title="Batch size")
    right.set_xticks(sizes, [str(s) for s in sizes])
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=120)
    print(f"\nwrote {args.output}")
    return {"depth": depth, "batch": batch}


if __name__ == "__main__":
    main()
