"""The GPU check: one script to run on a CUDA machine, under 5 minutes on one GPU.

    python benchmarks/gpu_check.py                         # cuda; writes runs/gpu-check/gpu_check.{json,md}
    python benchmarks/gpu_check.py --device cuda:1 --out /tmp/check
    python benchmarks/gpu_check.py --device cpu --quick    # the dry run the test suite does on CPU

Five parts, each written into the JSON and the markdown table:

1. **tests**: ``pytest -m gpu tests/gpu`` with ``TREELSTM_GPU_TEST_DEVICE`` set to ``--device``
   (the ``gpu``-marked tests: the runner end to end on the device, checkpoints across devices,
   mixed precision, pinned batches, ``mode="dgl"`` where DGL has CUDA).
2. **agreement**: every model the project ships (TreeLSTM with each cell, fused and through autograd;
   ChainLSTM fused and by cells; the character encoders; the CRF; the tagger; each task's model on a
   collated batch) run on the CPU and on the device from the same weights and inputs: the largest
   difference of the outputs and of every gradient, in float32 (tolerance 1e-5; TF32 is turned off)
   and float64 (1e-10).
3. **training**: ``treelstm train --device`` on tiny synthetic data of each task kind for 10 epochs
   (60-80 optimizer steps; 2 with ``--quick``); the training loss must fall.
4. **speed**: ``fast`` mode, ``mode="dgl"`` (only where the installed DGL can hold graphs on the
   device) and ``torch.nn.LSTM`` over the same trees' tokens (``benchmarks/tree_models.py``), training
   and inference at batch 25, 256 and 1,024: trees/s with ``torch.cuda.synchronize()`` around the timed
   passes, and peak memory (``torch.cuda.max_memory_allocated``).
5. the report: ``gpu_check.json`` and ``gpu_check.md`` in ``--out``.

Exit status 0 when parts 1-3 pass, 1 when any fails, 2 when the device is missing.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))

import tree_models  # noqa: E402
import tree_speed  # noqa: E402

import treelstm  # noqa: E402
from treelstm import _dgl, trees  # noqa: E402
from treelstm.models.batch import TreeBatch  # noqa: E402
from treelstm.models.sentence import SentenceEncoder  # noqa: E402
from treelstm.models.tagger import SequenceTagger, TaggedBatch  # noqa: E402
from treelstm.nn.characters import CharCNN, CharLSTM, char_ids  # noqa: E402
from treelstm.nn.crf import CRF  # noqa: E402
from treelstm.nn.heads import Classifier, SimilarityHead  # noqa: E402
from treelstm.runner.device import to_device  # noqa: E402
from treelstm.text.embeddings import Vocabulary  # noqa: E402

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}
SENTENCES = [["Peter", "Blackburn", "flew"], ["EU", "rejects", "German", "call", "to", "boycott"], ["x"]]
WORDS = sorted({w.lower() for s in SENTENCES for w in s})


# --- 2. agreement: every model on the CPU and on the device ---

def _forest(kind: str, rng: np.random.Generator) -> list:
    if kind == "chain":
        return [trees.chain(n) for n in (5, 1, 3)]
    if kind == "binary":
        return [tree_speed.random_binary(n, rng, [WORDS[k % len(WORDS)] for k in range(n)]) for n in (1, 3, 6)]
    return [trees.Tree.of(p, tree_speed._slots(p), [WORDS[k % len(WORDS)] for k in range(len(p))])
            for p in (np.array([-1]), np.array([-1, 0, 0, 1]), np.array([2, 2, -1, 2, 3, 3]))]


def _tree_lstm(cell: str, fused):
    make = {"childsum": lambda: treelstm.ChildSumTreeLSTMCell(6, 5), "nary": lambda: treelstm.NaryTreeLSTMCell(6, 5),
            "gru": lambda: treelstm.ChildSumTreeGRUCell(6, 5)}[cell]
    kind = "binary" if cell == "nary" else "dependency"
    return treelstm.TreeLSTM(make(), fused=fused), kind


def models(rng: np.random.Generator) -> dict:
    """``name: (module, inputs, run)``: ``run(module, inputs)`` gives the outputs to compare."""
    vocab = Vocabulary(WORDS)
    out = {}
    for cell, fused in [("childsum", None), ("childsum", False), ("nary", None), ("nary", False), ("gru", False)]:
        module, kind = _tree_lstm(cell, fused)
        graph = trees.batch(_forest(kind, rng))
        out[f"TreeLSTM {cell}{' fused' if fused is None else ''}"] = (
            module, (graph, torch.randn(graph.num_nodes(), 6)), lambda m, i: tuple(m(*i)[:2]))
    chains = trees.chains([5, 1, 3])
    for fused in (True, False):
        out[f"ChainLSTM {'fused' if fused else 'by cells'}"] = (
            treelstm.ChainLSTM(6, 5, num_layers=2, bidirectional=True, fused=fused), (chains, torch.randn(9, 6)),
            lambda m, i: (lambda output, states: (output, *states))(*m(*i)))
    ids, lengths = char_ids(WORDS)
    for name, chars in (("CharLSTM", CharLSTM(5, 3)), ("CharCNN", CharCNN(5, 4))):
        out[name] = (chars, (ids, lengths), lambda m, i: (m(*i),))
    tags = torch.randint(0, 5, (2, 4))
    mask = torch.tensor([[True] * 4, [True, True, False, False]])
    out["CRF"] = (CRF(5), (torch.randn(2, 4, 5), tags, mask), lambda m, i: (m(*i), m.decode(i[0], i[2])[1]))
    tagged = TaggedBatch.of(SENTENCES, vocab, [[k % 5 for k in range(len(s))] for s in SENTENCES])
    out["SequenceTagger"] = (SequenceTagger(nn.Embedding(len(vocab), 6), 5, 4, chars=CharLSTM(5, 3), casing_dim=3,
                                            crf=CRF(5)), (tagged,), lambda m, i: (m.loss(i[0]),))
    from treelstm.runner.text_tasks import PairBatch, PairModel
    from treelstm_tasks.classification import ClassificationModel, TextBatch

    for cell, kind in (("childsum", "dependency"), ("nary", "binary"), ("lstm", "chain")):
        encoder = lambda: SentenceEncoder(nn.Embedding(len(vocab), 6), cell, 5)  # noqa: E731
        pair = TreeBatch.of(_forest(kind, rng) + _forest(kind, rng), vocab)
        out[f"PairModel {cell}"] = (PairModel(e := encoder(), SimilarityHead(e.out_size, 5, 5)),
                                    (PairBatch(pair, torch.zeros(3)),), lambda m, i: (m(i[0]),))
        texts = TreeBatch.of(_forest(kind, rng), vocab)
        batch = TextBatch(texts, torch.zeros(texts.graph.num_nodes(), dtype=torch.long), torch.zeros(3, dtype=torch.long))
        out[f"ClassificationModel {cell}"] = (ClassificationModel(e := encoder(), Classifier(e.out_size, 3)), (batch,),
                                              lambda m, i: tuple(o for o in m(i[0]) if o is not None))
    return out


def _moved(value, device: torch.device, dtype: torch.dtype):
    if isinstance(value, torch.Tensor):
        value = value.to(device)
        return value.to(dtype) if value.is_floating_point() else value
    return to_device(value, device)


def _run(module: nn.Module, inputs: tuple, run, device: torch.device, dtype: torch.dtype):
    module = copy.deepcopy(module).to(device=device, dtype=dtype).eval()  # eval: no dropout draws to match
    inputs = tuple(_moved(i, device, dtype) for i in inputs)
    for i in inputs:
        if isinstance(i, torch.Tensor) and i.is_floating_point():
            i.requires_grad_(True)
    outputs = [o for o in run(module, inputs) if o is not None]  # a GRU has no c
    sum(o.sum() for o in outputs if o.is_floating_point()).backward()
    grads = {name: p.grad for name, p in module.named_parameters() if p.grad is not None}
    grads |= {f"input {k}": i.grad for k, i in enumerate(inputs) if isinstance(i, torch.Tensor) and i.grad is not None}
    return [o.detach().cpu() for o in outputs], {k: g.cpu() for k, g in grads.items()}


def agreement(device: torch.device) -> list[dict]:
    """The largest |CPU - device| over each model's outputs and gradients, in float32 and float64."""
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    rows = []
    for dtype in TOLERANCE:
        torch.manual_seed(0)
        for name, (module, inputs, run) in models(np.random.default_rng(0)).items():
            cpu, cpu_grads = _run(module, inputs, run, torch.device("cpu"), dtype)
            dev, dev_grads = _run(module, inputs, run, device, dtype)
            outputs = max(float((a.double() - b.double()).abs().max()) for a, b in zip(cpu, dev, strict=True))
            grads = max(float((cpu_grads[k].double() - dev_grads[k].double()).abs().max()) for k in cpu_grads)
            assert cpu_grads.keys() == dev_grads.keys(), name
            worst = max(outputs, grads)
            rows.append({"model": name, "dtype": str(dtype).removeprefix("torch."), "outputs": outputs,
                         "gradients": grads, "ok": worst <= TOLERANCE[dtype]})
    return rows


# --- 3. training: each task kind for 50 steps on the device ---

def training(device: torch.device, epochs: int, folder: Path) -> list[dict]:
    """``treelstm train --device`` on the test suite's synthetic data (6-8 steps an epoch)."""
    import conftest

    from treelstm import cli

    rng = np.random.default_rng(7)
    root = folder / "data"
    for write in (conftest.write_sick, conftest.write_sst, conftest.write_msrp, conftest.write_conll,
                  conftest.write_vectors):
        write(root, rng)
    rows = []
    for name, text in (("pair-regression", conftest.SICK_CONFIG), ("classification", conftest.SST_CONFIG),
                       ("pair-classification", conftest.MSRP_CONFIG), ("ner", conftest.NER_CONFIG)):
        config = folder / f"{name}.yaml"
        config.write_text(text, encoding="utf-8")
        start = time.perf_counter()
        status = cli.main(["train", str(config), "--device", str(device), "--data-dir", str(root),
                           "--runs-dir", str(folder / "runs"), "--set", f"training.epochs={epochs}", "--overwrite"])
        run_dir = folder / "runs" / yaml.safe_load(text)["name"] / "seed-1" if status == 0 else None
        records = ([json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
                   if run_dir else [])
        losses = [r["train_loss"] for r in records]
        rows.append({"task": name, "exit": status, "epochs": len(losses), "first_loss": losses[0] if losses else None,
                     "last_loss": losses[-1] if losses else None, "seconds": round(time.perf_counter() - start, 1),
                     "ok": status == 0 and len(losses) == epochs and losses[-1] < losses[0]})
    return rows


# --- 4. speed: fast vs DGL mode vs nn.LSTM ---

def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def speed(device: torch.device, sizes: list[int], repeat: int, x: int, h: int) -> list[dict]:
    data = tree_speed.synthetic("sst", count=max(sizes) * 2)
    vocab = Vocabulary.build([t for t in tree.tokens if t is not None] for tree, _ in data)
    names = ["fast", "nn.LSTM"] + (["dgl"] if _dgl.runs_on(device) else [])
    rows = []
    for size in sizes:
        for train in (True, False):
            groups = [data[k : k + size] for k in range(0, len(data) - size + 1, size)]
            times: dict[str, list[float]] = {name: [] for name in names}
            memory = {}
            contenders = {}
            for name in names:
                torch.manual_seed(0)
                model = tree_models.Contender(name, vocab, "nary", x, h).to(device)
                batches = [_on(model.collate([t for t, _ in g], [l for _, l in g]), device) for g in groups]
                contenders[name] = (tree_models.steps(model, train), batches)
            for _ in range(repeat):  # rounds: one pass of each contender per round
                for name, (step, batches) in contenders.items():
                    step(batches[0])  # warm-up (kernels, the allocator)
                    if device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats(device)
                    _sync(device)
                    start = time.perf_counter()
                    for batch in batches:
                        step(batch)
                    _sync(device)
                    times[name].append(time.perf_counter() - start)
                    if device.type == "cuda":
                        memory[name] = torch.cuda.max_memory_allocated(device) / 2**20
            count = len(groups) * size
            base = statistics.median(times["fast"])
            for name in names:
                rows.append({"contender": name, "what": f"{'train' if train else 'inference'}, batch {size}",
                             "trees_per_s": round(count / statistics.median(times[name]), 1),
                             "speed_vs_fast": round(base / statistics.median(times[name]), 2),
                             "peak_mib": round(memory[name], 1) if name in memory else None})
    return rows


def _on(batch: tree_models.Labelled, device: torch.device) -> tree_models.Labelled:
    inputs = batch.inputs.to(device) if hasattr(batch.inputs, "to") else batch.inputs
    return tree_models.Labelled(inputs, batch.labels.to(device), batch.num_trees)


# --- 1. the gpu-marked tests, and the report ---

def gpu_tests(device: torch.device) -> dict:
    env = {**os.environ, "TREELSTM_GPU_TEST_DEVICE": str(device), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider",
                           str(REPO / "tests" / "gpu")], cwd=REPO, env=env, capture_output=True, text=True)
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    return {"exit": done.returncode, "summary": summary, "ok": done.returncode == 0}


def markdown(report: dict) -> str:
    lines = [f"# GPU check: {report['device']} ({report['device_name']}), torch {report['torch']}, "
             f"treelstm {report['treelstm']}", "", f"Command: `{report['command']}`", "",
             f"## 1. gpu-marked tests: {report['tests']['summary']}", "", "## 2. CPU vs device", "",
             "| model | dtype | outputs max abs diff | gradients max abs diff | ok |", "|---|---|---:|---:|---|"]
    lines += [f"| {r['model']} | {r['dtype']} | {r['outputs']:.2e} | {r['gradients']:.2e} | {r['ok']} |"
              for r in report["agreement"]]
    lines += ["", "## 3. Training on the device", "", "| task | exit | epochs | first loss | last loss | s | ok |",
              "|---|---:|---:|---:|---:|---:|---|"]
    lines += [f"| {r['task']} | {r['exit']} | {r['epochs']} | {r['first_loss']} | {r['last_loss']} | {r['seconds']} "
              f"| {r['ok']} |" for r in report["training"]]
    lines += ["", "## 4. Speed (median of rounds; speed_vs_fast > 1 is faster than fast mode)", "",
              "| contender | what | trees/s | vs fast | peak MiB |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r['contender']} | {r['what']} | {r['trees_per_s']} | {r['speed_vs_fast']} | {r['peak_mib']} |"
              for r in report["speed"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu for a dry run (default cuda)")
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 2 epochs: the test suite's dry run")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "gpu-check", help="where the JSON and table go")
    parser.add_argument("--skip-tests", action="store_true", help="leave out part 1")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not (torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()):
        print(f"gpu_check: {device} is not available on this machine (torch.cuda.is_available() is "
              f"{torch.cuda.is_available()}); run it on a CUDA machine, or --device cpu for a dry run", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    report = {"device": str(device), "torch": torch.__version__, "treelstm": treelstm.__version__,
              "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
              "command": " ".join(["python", "benchmarks/gpu_check.py", *(argv if argv is not None else sys.argv[1:])])}
    report["tests"] = {"exit": None, "summary": "skipped (--skip-tests)", "ok": True} if args.skip_tests \
        else gpu_tests(device)
    report["agreement"] = agreement(device)
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(sys.stderr):
        report["training"] = training(device, 2 if args.quick else 10, Path(folder))
    sizes, repeat, dims = ([4, 8], 1, (16, 8)) if args.quick else ([25, 256, 1024], 3, (300, 150))
    report["speed"] = speed(device, sizes, repeat, *dims)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    (args.out / "gpu_check.md").write_text(markdown(report), encoding="utf-8")
    print(markdown(report))
    failed = [part for part in ("tests", "agreement", "training")
              if not (report[part]["ok"] if part == "tests" else all(r["ok"] for r in report[part]))]
    print(f"gpu_check: {'FAILED: ' + ', '.join(failed) if failed else 'passed'}; wrote {args.out}/gpu_check.json and .md")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
