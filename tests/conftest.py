"""Shared helpers: small random trees built from synthetic data (never the licensed datasets)."""

import numpy as np
import pytest

import treelstm
from treelstm import trees


def random_parents_line(n: int, rng: np.random.Generator) -> str:
    """A random dependency tree over n tokens as a 1-based ``.parents`` line."""
    order = rng.permutation(n)  # order[0] is the root; others attach to an earlier node
    head = np.zeros(n, dtype=int)
    for k in range(1, n):
        head[order[k]] = order[rng.integers(0, k)] + 1
    return " ".join(map(str, head))


def random_ptb(n: int, rng: np.random.Generator, labels: int = 5) -> str:
    """A random binary PTB tree over n leaves, e.g. ``(3 (1 w0) (4 w1))``."""

    def build(lo: int, hi: int) -> str:
        label = rng.integers(0, labels)
        if hi - lo == 1:
            return f"({label} w{lo})"
        mid = int(rng.integers(lo + 1, hi))
        return f"({label} {build(lo, mid)} {build(mid, hi)})"

    return build(0, n)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def mixed_trees(rng):
    """Dependency trees, binary constituency trees and a chain, of assorted sizes."""
    return (
        [trees.from_parents(random_parents_line(n, rng)) for n in (1, 2, 5, 9, 14)]
        + [trees.from_ptb(random_ptb(n, rng)) for n in (1, 2, 3, 7, 12)]
        + [trees.chain(6)]
    )


@pytest.fixture
def binary_trees(rng):
    return [trees.from_ptb(random_ptb(n, rng)) for n in (1, 2, 4, 6, 9, 13)]


WORDS = ["a", "dog", "cat", "man", "runs", "sleeps", "the", "big", "small", "happy", "sad", "park", "plays", "in"]


def _sentence(rng, n):
    return [WORDS[i] for i in rng.integers(0, len(WORDS), n)]


def _cparents_line(n, rng):
    tree = trees.from_ptb(random_ptb(n, rng))
    return " ".join(str(p + 1) for p in tree.parents)


def write_sick(root, rng, sizes=(40, 12, 12)):
    for split, size in zip(("train", "dev", "test"), sizes):
        folder = root / "sick" / "treelstm" / split
        folder.mkdir(parents=True)
        files = {name: [] for name in ("id.txt", "sim.txt", "a.toks", "b.toks", "a.parents", "b.parents",
                                       "a.cparents", "b.cparents")}
        for k in range(size):
            files["id.txt"].append(str(k + 1))
            files["sim.txt"].append(f"{rng.uniform(1, 5):.1f}")
            for side in "ab":
                n = int(rng.integers(1, 9))
                files[f"{side}.toks"].append(" ".join(_sentence(rng, n)))
                files[f"{side}.parents"].append(random_parents_line(n, rng))
                files[f"{side}.cparents"].append(_cparents_line(n, rng))
        for name, lines in files.items():
            (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_sst(root, rng, sizes=(40, 12, 12)):
    folder = root / "sst" / "trees"
    folder.mkdir(parents=True)
    for split, size in zip(("train", "dev", "test"), sizes):
        lines = []
        for _ in range(size):
            line = random_ptb(int(rng.integers(1, 9)), rng)
            for k in range(8):  # give the leaves real words
                line = line.replace(f" w{k})", f" {WORDS[int(rng.integers(0, len(WORDS)))]})")
            lines.append(line)
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_vectors(root, rng, dim=6):
    folder = root / "embeddings"
    folder.mkdir(parents=True)
    rows = [w + " " + " ".join(f"{v:.4f}" for v in rng.standard_normal(dim)) for w in WORDS[:-2]]
    (folder / "tiny.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")


def write_msrp(root, rng, sizes=(30, 10)):
    folder = root / "msrp"
    folder.mkdir(parents=True)
    header = "\ufeffQuality\t#1 ID\t#2 ID\t#1 String\t#2 String"
    for name, size in zip(("train", "test"), sizes):
        rows = []
        for k in range(size):
            a, b = (" ".join(_sentence(rng, int(rng.integers(2, 8)))).capitalize() + "." for _ in range(2))
            rows.append(f"{k % 2}\t{100 + k}\t{200 + k}\t{a}\t{b}")
        (folder / f"msr_paraphrase_{name}.txt").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")


ENTITIES = {"PER": ["Alice", "Bob Smith"], "LOC": ["Paris", "New York"], "ORG": ["Acme Corp", "UN"],
            "MISC": ["German", "French"]}


def write_conll(root, rng, sizes=(60, 15, 15)):
    """CoNLL-2003-style files: 4 columns, IOB1 tags (B- only between touching entities of a type)."""
    folder = root / "conll2003"
    folder.mkdir(parents=True)
    types = sorted(ENTITIES)
    for name, size in zip(("eng.train", "eng.testa", "eng.testb"), sizes):
        lines = ["-DOCSTART- -X- -X- O", ""]
        for _ in range(size):
            last = None
            for _ in range(int(rng.integers(1, 4))):
                words = _sentence(rng, int(rng.integers(0, 3)))
                kind = types[int(rng.integers(0, len(types)))]
                entity = ENTITIES[kind][int(rng.integers(0, 2))].split()
                lines += [f"{w} NN I-NP O" for w in words]
                first = "B" if last == kind and not words else "I"
                lines += [f"{w} NNP I-NP {first if k == 0 else 'I'}-{kind}" for k, w in enumerate(entity)]
                last = kind
            lines += [". . O O", ""]
        (folder / name).write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture
def data_root(tmp_path):
    """A tiny synthetic data root in the published layouts: SICK, SST, MSRP, PAWS-Wiki, CoNLL-2003 and a GloVe file."""
    rng = np.random.default_rng(7)
    root = tmp_path / "data"
    write_sick(root, rng)
    write_sst(root, rng)
    write_msrp(root, rng)
    (root / "paws_wiki").mkdir()
    for split in ("dev", "test"):
        rows = [f"{k}\t{' '.join(_sentence(rng, 4))} .\t{' '.join(_sentence(rng, 4))} .\t{k % 2}" for k in range(8)]
        (root / "paws_wiki" / f"{split}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    write_conll(root, rng)
    write_vectors(root, rng)
    return root


SICK_CONFIG = """
name: tiny-sick
task: pair-regression
data: {format: sick, tree: dependency}
embeddings: {vectors: tiny.txt, freeze: true}
model: {cell: childsum, hidden_size: 8, output_gate: false, head_hidden: 5}
training: {epochs: 2, batch_size: 5, lr: 0.05, seed: 1}
"""

SST_CONFIG = """
name: tiny-sst
task: classification
data: {format: sst, tree: constituency, subtask: fine}
embeddings: {vectors: tiny.txt, freeze: false, lr: 0.1}
model: {cell: nary, hidden_size: 8, dropout: 0.5}
training: {epochs: 2, batch_size: 5, lr: 0.05, seed: 1}
"""


MSRP_CONFIG = """
name: tiny-msrp
task: pair-classification
data: {format: msrp, tree: dependency}
embeddings: {vectors: tiny.txt, freeze: false}
model: {cell: childsum, hidden_size: 8, head_hidden: 5}
training: {epochs: 2, batch_size: 5, lr: 0.05, seed: 1}
"""

NER_CONFIG = """
name: tiny-ner
task: ner
data: {format: conll2003}
embeddings: {vectors: tiny.txt, freeze: false}
model: {cell: lstm, tag_scheme: iobes, hidden_size: 8, chars: lstm, char_dim: 4, char_hidden: 4, casing_dim: 2, dropout: 0.1}
training: {epochs: 2, batch_size: 8, optimizer: adam, lr: 0.01, weight_decay: 0, clip: 5.0, seed: 1}
"""


@pytest.fixture
def configs(tmp_path):
    (tmp_path / "ner.yaml").write_text(NER_CONFIG, encoding="utf-8")
    (tmp_path / "sick.yaml").write_text(SICK_CONFIG, encoding="utf-8")
    (tmp_path / "sst.yaml").write_text(SST_CONFIG, encoding="utf-8")
    return tmp_path


CELLS = {
    "child-sum": lambda i, h: treelstm.ChildSumTreeLSTMCell(i, h),
    "child-sum-no-o": lambda i, h: treelstm.ChildSumTreeLSTMCell(i, h, output_gate=False),
    "n-ary": lambda i, h: treelstm.NaryTreeLSTMCell(i, h, n_ary=2),
    "n-ary-3-no-o": lambda i, h: treelstm.NaryTreeLSTMCell(i, h, n_ary=3, output_gate=False),
    "gru": lambda i, h: treelstm.ChildSumTreeGRUCell(i, h),
}
"""Every tree cell variant the tests run, by name."""


def forest_for(name, mixed_trees, binary_trees):
    """The fixture forest a cell takes: binary trees for the N-ary cells, any trees for the others."""
    return binary_trees if name.startswith("n-ary") else mixed_trees


def interrupt_at(monkeypatch, task_class, call, error=KeyboardInterrupt):
    """Make ``task_class.loss`` raise ``error`` on its ``call``-th call (8 batches an epoch: 11 is epoch 2, step 3)."""
    calls, loss = [], task_class.loss

    def loss_until(self, model, batch):
        calls.append(1)
        if len(calls) == call:
            raise error
        return loss(self, model, batch)

    monkeypatch.setattr(task_class, "loss", loss_until)


TINY_PAIR = "name: {0}\ntask: {1}\ndata: {{format: {0}, tree: dependency}}\nembeddings: {{vectors: tiny.txt}}\n" \
    "model: {{cell: childsum, hidden_size: 8{2}}}\ntraining: {{epochs: 1, batch_size: 5}}\n"
TINY_CHECKPOINTS = {  # name: (config, overrides), one epoch unless overridden
    "ner": ("ner.yaml", "training.epochs=6", "training.lr=0.03"),
    "sst": ("sst.yaml",),
    "sst-binary": ("sst.yaml", "data.subtask=binary"),
    "sst-dependency": ("sst.yaml", "data.tree=dependency", "model.cell=childsum"),
    "sst-chain": ("sst.yaml", "data.tree=chain", "model.cell=lstm"),
    "msrp": ("msrp.yaml",),
    "sick": ("sick.yaml",),
}


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory):
    """Checkpoints trained once per test session on synthetic data: a tagger, sentiment classifiers over
    every tree kind, a paraphrase classifier and a pair regressor; ``{"root": data root, name: folder}``.
    Tests may read them, or change them and put them back."""
    from treelstm import cli

    tmp = tmp_path_factory.mktemp("checkpoints")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TREELSTM_CACHE", str(tmp / "cache"))
        rng = np.random.default_rng(7)
        root = tmp / "data"
        for write in (write_conll, write_sst, write_msrp, write_sick, write_vectors):
            write(root, rng)
        (tmp / "ner.yaml").write_text(NER_CONFIG, encoding="utf-8")
        (tmp / "sst.yaml").write_text(SST_CONFIG, encoding="utf-8")
        (tmp / "msrp.yaml").write_text(TINY_PAIR.format("msrp", "pair-classification", ", head_hidden: 5"), encoding="utf-8")
        (tmp / "sick.yaml").write_text(TINY_PAIR.format("sick", "pair-regression", ""), encoding="utf-8")
        for name, (config, *overrides) in TINY_CHECKPOINTS.items():
            sets = [x for o in ["training.epochs=1", *overrides, f"name={name}"] for x in ("--set", o)]
            argv = ["train", tmp / config, *sets, "--data-dir", root, "--runs-dir", tmp / "runs"]
            assert cli.main([str(a) for a in argv]) == 0
        yield {"root": root} | {name: tmp / "runs" / name / "seed-1" / "checkpoint" for name in TINY_CHECKPOINTS}
