"""Tree-LSTM training and inference speed: our fast mode against the usual ways of running Tree-LSTMs.

    python benchmarks/tree_speed.py                  # SST (N-ary) and SICK (Child-Sum) from $TREELSTM_DATA
    python benchmarks/tree_speed.py --smoke          # 40 tiny synthetic trees, x 16, h 8, for the tests
    python benchmarks/tree_speed.py --growth 1000    # also: memory across 1,000 batch-256 SST steps (fast mode)
    python benchmarks/tree_speed.py --compare        # the ratios of issue 17 in one run (5 alternating rounds)

Contenders (see ``tree_models.py``): ``fast`` (ours), ``dgl`` (DGL message passing, as DGL's
Tree-LSTM example runs), ``recursion`` (one tree at a time, as the common PyTorch ports run)
and ``nn.LSTM`` (torch's fused LSTM over sequences as long as the trees have nodes); on SST also
``dynet`` (DyNet's automatic operation batching) when ``dynet`` is importable (``pip install
dyNET38==2.2``: optional, skipped otherwise).
Sizes: x = 300, h = 150, a 5-way softmax on every node, Adagrad (lr 0.05; torch's fused kernel for
the dense weights), sparse gradients for the word table in every contender.

``--compare`` prints only the ratios of issue 17, each as the median (min-max) of per-round ratios
over ``--rounds`` alternating rounds, by wall-clock time and by the process's CPU time (on a shared
machine the CPU time is what a pass costs; the wall clock also counts the time other processes held
the core): a whole SST training epoch at batch 25 against DyNet; inference and training at batch 256
against ``nn.LSTM`` on SST and SICK; the NER tagger against the same tagger on ``nn.LSTM``
(``ner_speed.py``); and the GFLOP/s of the SST epoch's matrix products (``FlopCounterMode``) per CPU
second against one large ``torch.mm``.

* SST: the training trees of ../shared/data/sst (binary constituency trees, N-ary cell), with
  their node labels; SICK: the dependency trees of both sentences of the training pairs
  (Child-Sum cell), with seeded random node labels (relatedness has no node labels; the loss
  only has to touch every node).
* Training step: forward, backward and the optimizer step, at batch 25 and 256; inference:
  forward without gradients and an argmax per node, at batch 256.
* Every contender runs on the same trees: the first ``--trees`` trees of a seeded shuffle
  (``recursion`` on the first ``--recursion-trees`` of them: it is slow). Batches are collated
  once; the time to collate a batch is reported apart (``collate ms``).
* Each rate is the median over ``--repeat`` passes after a warm-up step, with its ratio to
  ``fast`` measured in the same process; the passes go in rounds, one of each contender per round,
  so that a change in the machine's load falls on all contenders alike. One torch thread unless
  ``--threads``.
* Peak memory: each contender's batch-256 training steps run in a child process that loads the data,
  builds the model, collates the batches, then resets the kernel's peak-RSS mark
  (``/proc/self/clear_refs``); the table gives the peak resident memory of 5 steps above the
  resident memory before them (activations, gradients, optimizer state, allocator caches).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tree_models import CONTENDERS, OPTIONAL, available, make  # noqa: E402
from tree_models import steps as step_of  # noqa: E402

from treelstm.text.embeddings import Vocabulary  # noqa: E402
from treelstm.trees import Tree  # noqa: E402

CELLS = {"sst": "nary", "sick": "childsum"}


def synthetic(dataset: str, count: int = 120, seed: int = 0) -> list[tuple[Tree, np.ndarray]]:
    """Random binary constituency trees (``sst``) or random dependency trees (``sick``) of 2-30 words."""
    rng = np.random.default_rng(seed)
    words = ["a", "dog", "runs", "on", "the", "grass", "not", "very", "good", "."]
    out = []
    for _ in range(count):
        n = int(rng.integers(2, 31))
        tokens = [words[k] for k in rng.integers(0, len(words), n)]
        if dataset == "sst":
            tree = random_binary(n, rng, tokens)
        else:
            parents = np.r_[-1, [rng.integers(0, k) for k in range(1, n)]]
            tree = Tree.of(parents, _slots(parents), tokens)
        out.append((tree, rng.integers(0, 5, tree.num_nodes)))
    return out


def random_binary(n: int, rng: np.random.Generator, tokens=None) -> Tree:
    """A random binary tree over ``n`` leaves: adjacent subtrees merged at random, leaves first."""
    parents = [-1] * (2 * n - 1)
    tops, next_id = list(range(n)), n
    while len(tops) > 1:
        k = int(rng.integers(0, len(tops) - 1))
        parents[tops[k]] = parents[tops[k + 1]] = next_id
        tops[k : k + 2] = [next_id]
        next_id += 1
    parents = np.array(parents)
    return Tree.of(parents, _slots(parents), tokens or ["w"] * n)


def _slots(parents: np.ndarray) -> np.ndarray:
    slots = np.zeros(len(parents), dtype=np.int64)
    seen: dict[int, int] = {}
    for k, p in enumerate(parents):
        if p >= 0:
            slots[k] = seen.get(int(p), 0)
            seen[int(p)] = slots[k] + 1
    return slots


def real(dataset: str, root: Path) -> list[tuple[Tree, np.ndarray]]:
    if dataset == "sst":
        from treelstm.data.sst import read_sst

        rows = read_sst(root, "train").to_list()
        trees = [Tree.of(r["parents"], r["slots"], r["tokens"], r["labels"]) for r in rows]
        return [(t, np.array([int(label) for label in t.labels])) for t in trees]
    from treelstm.data.sick import read_sick

    rows = read_sick(root, "train").to_list()
    rng = np.random.default_rng(0)
    trees = [Tree.of(r[f"{s}_dep_parents"], r[f"{s}_dep_slots"], r[f"{s}_tokens"]) for r in rows for s in "ab"]
    return [(t, rng.integers(0, 5, t.num_nodes)) for t in trees]


def load(dataset: str, args) -> tuple[list[tuple[Tree, np.ndarray]], Vocabulary]:
    data = synthetic(dataset) if args.smoke else real(dataset, Path(os.environ.get("TREELSTM_DATA", "../shared/data")))
    vocab = Vocabulary.build([t for t in tree.tokens if t is not None] for tree, _ in data)
    order = np.random.default_rng(1).permutation(len(data))[: args.trees]
    return [data[k] for k in order], vocab


def measure(names, cell: str, data, vocab, size: int, train: bool, args) -> dict[str, dict]:
    """Median trees/s of ``args.repeat`` passes of each contender over ``data`` in batches of ``size``.
    The passes are taken in rounds (one pass of every contender per round), so that a change in
    the machine's load falls on all of them alike; ``rates`` keeps each round's trees/s, ``cpu_rates``
    the same per second of this process's CPU time (``time.process_time``: what a pass costs when
    other processes share the cores)."""
    runs = {}
    for name in names:
        trees = data[: args.recursion_trees] if name == "recursion" else data
        torch.manual_seed(0)
        model = make(name, vocab, cell, *dims(args))
        step = step_of(model, train)
        start = time.perf_counter()
        batches = [model.collate(*zip(*trees[k : k + size])) for k in range(0, len(trees), size)]
        collate_ms = (time.perf_counter() - start) / len(batches) * 1000
        step(batches[0])
        runs[name] = (trees, step, batches, collate_ms, [], [])
    for _ in range(args.repeat):
        for name, (trees, step, batches, _, rates, cpu_rates) in runs.items():
            start, cpu = time.perf_counter(), time.process_time()
            for batch in batches:
                step(batch)
            rates.append(len(trees) / (time.perf_counter() - start))
            cpu_rates.append(len(trees) / (time.process_time() - cpu))
    results = {}
    for name, (trees, _, _, collate_ms, rates, cpu_rates) in runs.items():
        rate, nodes = statistics.median(rates), sum(tree.num_nodes for tree, _ in trees) / len(trees)
        results[name] = {"trees_per_s": rate, "nodes_per_s": rate * nodes, "collate_ms": collate_ms, "rates": rates,
                         "cpu_rates": cpu_rates}
    return results


def runs(name: str, dataset: str) -> bool:
    """Whether contender ``name`` runs on ``dataset`` here: DyNet when importable, on SST (N-ary) only."""
    return available(name) and (name != "dynet" or CELLS[dataset] == "nary")


def spread(values: list[float]) -> str:
    """``(min-max)`` of per-round ratios."""
    return f"({min(values):.2f}-{max(values):.2f})"


def matmul_flops(model, batches, train: bool) -> float:
    """Floating-point operations (2 per multiply-add) of the matrix products of one pass of ``model``
    over ``batches`` (forward, and backward when training), counted by torch's ``FlopCounterMode``."""
    from torch.utils.flop_counter import FlopCounterMode

    step = step_of(model, train)
    with FlopCounterMode(display=False) as counter:
        for batch in batches:
            step(batch)
    return float(counter.get_total_flops())


def roofline_gflops(n: int = 2048, repeat: int = 5) -> float:
    """GFLOP/s of one large float32 ``torch.mm`` (``n x n`` by ``n x n``) on this machine per second of
    CPU time, best of ``repeat``."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = min(_cpu_timed(lambda: torch.mm(a, b)) for _ in range(repeat))
    return 2 * n**3 / best / 1e9


def _cpu_timed(run) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def compare(args) -> list[dict]:
    """The ratios of issue 17, each from rounds of alternating passes in this one process.

    1. SST training epoch at batch 25 (x 300, h 150): fast against DyNet's autobatching (when importable);
    2. batch 256, SST and SICK: fast against ``torch.nn.LSTM`` over the same sentences' tokens,
       inference and training;
    3. the NER tagger against the same tagger on ``torch.nn.LSTM`` (``ner_speed.py``), training and decoding;
    4. the GFLOP/s of the fast SST training epoch (matrix products' multiply-adds x 2 over its time)
       against one large ``torch.mm``.
    """
    args.repeat, rows = args.rounds, []
    epoch = argparse.Namespace(**{**vars(args), "trees": args.epoch_trees or (40 if args.smoke else 10**9)})
    sst, sst_vocab = load("sst", epoch)
    names = ["fast"] + (["dynet"] if runs("dynet", "sst") else [])
    results = measure(names, "nary", sst, sst_vocab, 25, True, args)
    rows.append(_ratio(f"SST epoch ({len(sst):,} trees), train, batch 25", results, "fast", "dynet"))
    torch.manual_seed(0)
    model = make("fast", sst_vocab, "nary", *dims(args))
    batches = [model.collate(*zip(*sst[k : k + 25])) for k in range(0, len(sst), 25)]
    flops = matmul_flops(model, batches, True)
    seconds = len(sst) / statistics.median(results["fast"]["cpu_rates"])  # CPU seconds, as the roofline's
    peak = roofline_gflops(256 if args.smoke else 2048)
    rows.append({"what": "SST epoch, fast: matrix-product GFLOP/s / one large torch.mm's",
                 "ratio": flops / seconds / 1e9 / peak, "cpu_ratio": float("nan"), "spread": "", "cpu_spread": "",
                 "detail": f"{flops / 2 / 1e9:.1f} G multiply-adds in {seconds:.1f} CPU s: {flops / seconds / 1e9:.1f} "
                           f"GFLOP/s of {peak:.1f}"})
    for dataset in args.datasets:
        data, vocab = load(dataset, args)
        for what, train in [("inference", False), ("train", True)]:
            results = measure(["fast", "nn.LSTM"], CELLS[dataset], data, vocab, 256, train, args)
            rows.append(_ratio(f"{dataset.upper()}, {what}, batch 256", results, "fast", "nn.LSTM"))
    import ner_speed

    rows.extend(ner_speed.compare(repeat=args.rounds, smoke=args.smoke))
    print(f"\n{args.rounds} rounds, {args.threads} thread(s); ratio = the first contender's rate over the second's "
          "(above 1: the first is faster), median (min-max) over the rounds; by wall-clock time and by this "
          "process's CPU time\n")
    print("| what | first / second | ratio (wall) | ratio (CPU time) | detail (wall) |\n|---|---|---:|---:|---|")
    for r in rows:
        cpu = "" if r["cpu_ratio"] != r["cpu_ratio"] else f"{r['cpu_ratio']:.2f} {r['cpu_spread']}"
        print(f"| {r['what']} | {r.get('pair', '')} | {r['ratio']:.2f} {r['spread']} | {cpu} | {r['detail']} |")
    return rows


def _ratio(what: str, results: dict, first: str, second: str) -> dict:
    """Per-round ratio of ``first``'s rate over ``second``'s (NaN when ``second`` did not run)."""
    if second not in results:
        return {"what": what, "pair": f"{first} / {second}", "ratio": float("nan"), "spread": "",
                "cpu_ratio": float("nan"), "cpu_spread": "", "detail": f"{second} not importable: skipped"}
    ratios = [a / b for a, b in zip(results[first]["rates"], results[second]["rates"])]
    cpu = [a / b for a, b in zip(results[first]["cpu_rates"], results[second]["cpu_rates"])]
    return {"what": what, "pair": f"{first} / {second}", "ratio": statistics.median(ratios), "spread": spread(ratios),
            "ratios": ratios, "cpu_ratio": statistics.median(cpu), "cpu_spread": spread(cpu), "cpu_ratios": cpu,
            "detail": f"{results[first]['trees_per_s']:,.0f} vs {results[second]['trees_per_s']:,.0f} trees/s"}


def dims(args) -> tuple[int, int]:
    """(x, h): 300 and 150, or 16 and 8 for --smoke."""
    return (16, 8) if args.smoke else (300, 150)


def _kib(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def peak_memory(name: str, dataset: str, args, steps: int) -> dict:
    """In this (child) process: peak RSS of ``steps`` batch-256 training steps above the RSS before
    them, and the RSS after each tenth of them (for growth)."""
    data, vocab = load(dataset, args)
    torch.manual_seed(0)
    model = make(name, vocab, CELLS[dataset], *dims(args))
    step = step_of(model, True)
    batches = [model.collate(*zip(*data[k : k + 256])) for k in range(0, len(data), 256)]
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS mark: what the steps need from here
    before = _kib("VmRSS")
    rss = []
    for k in range(steps):
        step(batches[k % len(batches)])
        if (k + 1) % max(1, steps // 10) == 0:
            rss.append(_kib("VmRSS") / 1024)
    return {"peak_mib": (_kib("VmHWM") - before) / 1024, "rss_mib": rss, "steps": steps}


def child_memory(name: str, dataset: str, args, steps: int) -> dict:
    command = [sys.executable, __file__, "--child-memory", name, dataset, str(steps), "--trees", str(args.trees),
               "--threads", str(args.threads)] + (["--smoke"] if args.smoke else [])
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict]) -> str:
    lines = ["| data (cell) | contender | what | trees/s | nodes/s | x fast | collate ms/batch | peak MiB |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        peak = f"{r['peak_mib']:.0f}" if "peak_mib" in r else ""
        lines.append(f"| {r['data']} | {r['contender']} | {r['what']} | {r['trees_per_s']:,.0f} | "
                     f"{r['nodes_per_s']:,.0f} | {r['ratio']:.2f} | {r['collate_ms']:.1f} | {peak} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny synthetic trees (for the tests)")
    parser.add_argument("--datasets", nargs="+", default=["sst", "sick"], choices=list(CELLS))
    parser.add_argument("--contenders", nargs="+", default=None, choices=CONTENDERS + OPTIONAL,
                        help="default: all four, and dynet on SST when it is importable")
    parser.add_argument("--compare", action="store_true",
                        help="only the ratios of issue 17 (DyNet, nn.LSTM, the NER tagger on nn.LSTM, the "
                             "roofline), each measured in --rounds alternating rounds, with their spread")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --compare (default 5)")
    parser.add_argument("--epoch-trees", type=int, default=0,
                        help="--compare: SST training trees of the DyNet epoch (default 0: all of them)")
    parser.add_argument("--trees", type=int, default=2048, help="trees per pass (default 2048)")
    parser.add_argument("--recursion-trees", type=int, default=256, help="trees per pass for recursion (default 256)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    parser.add_argument("--growth", type=int, default=0, metavar="STEPS",
                        help="also run STEPS batch-256 SST training steps (fast mode) and print the RSS every tenth")
    parser.add_argument("--child-memory", nargs=3, metavar=("CONTENDER", "DATASET", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.child_memory:
        name, dataset, steps = args.child_memory
        print(json.dumps(peak_memory(name, dataset, args, int(steps))))
        return []
    if args.smoke:
        args.trees, args.recursion_trees = min(args.trees, 40), min(args.recursion_trees, 10)
    if args.compare:
        return compare(args)
    rows = []
    for dataset in args.datasets:
        data, vocab = load(dataset, args)
        label = f"{'SST' if dataset == 'sst' else 'SICK'} ({CELLS[dataset]})"
        names = args.contenders or [name for name in CONTENDERS + OPTIONAL if runs(name, dataset)]
        for what, size, train in [("train, batch 25", 25, True), ("train, batch 256", 256, True),
                                  ("inference, batch 256", 256, False)]:
            results = measure(names, CELLS[dataset], data, vocab, size, train, args)
            base = results["fast"]["trees_per_s"] if "fast" in results else float("nan")
            for name, result in results.items():
                row = {"data": label, "contender": name, "what": what, **result, "ratio": result["trees_per_s"] / base}
                if size == 256 and train and not args.no_memory and (name == "fast" or not args.smoke):
                    row.update(peak_mib=child_memory(name, dataset, args, 1 if args.smoke else 5)["peak_mib"])
                rows.append(row)
                print(f"{label} {name} {what}: {result['trees_per_s']:,.0f} trees/s", file=sys.stderr, flush=True)
    print(table(rows))
    if args.growth:
        growth = child_memory("fast", "sst", args, args.growth)
        print(f"\nRSS (MiB) after each tenth of {growth['steps']} batch-256 SST training steps (fast): "
              + ", ".join(f"{v:.0f}" for v in growth["rss_mib"]) + f"; peak above the start {growth['peak_mib']:.0f}")
    return rows


if __name__ == "__main__":
    main()
