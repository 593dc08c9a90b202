"""The ``treelstm`` command: train, evaluate, predict, explain, plot, reproduce, demo.

    treelstm train CONFIG [--set key=value ...] [--seeds N] [--jobs J] [--overwrite]
    treelstm train --resume RUN_DIR
    treelstm prepare CONFIG [--set key=value ...]
    torchrun --nproc_per_node N -m treelstm.cli train CONFIG [...]   (one run on N processes, DDP)
    treelstm evaluate CHECKPOINT [--split test] [--update-card]
    treelstm predict CHECKPOINT (--pair S1 S2 | --text TEXT | --input FILE) [--format F] [--output FILE]
    treelstm explain CHECKPOINT (--text TEXT | --tree PTB | --pair S1 S2) [--gates] [--output PATH]
    treelstm plot RUN_DIR [RUN_DIR ...] [--metric NAME ...] [--output FILE]
    treelstm reproduce TABLE [--quick] [--seeds N] [--jobs J] [--finished-only] [--rerun] [--overwrite]
    treelstm demo long-dependency [--output PNG] [--seed S] [--seeds N] [--quick]

User errors (a bad config, a missing or malformed data file, a command-line value of the wrong kind:
see :class:`IntArg`, :class:`PathArg`) print one line and exit with status 2; ``--debug`` shows the
traceback instead. The library's warnings (e.g. a checkpoint
saved by another treelstm version) print as one ``treelstm: warning:`` line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Sequence

import yaml

from treelstm.errors import UserError
from treelstm.files import atomic_text
from treelstm.runner.config import ConfigError, load_config
from treelstm.runner.seeds import run_seeds, short_metrics, stored_config
from treelstm.runner.tables import render_table, summarize

# configs/papers.yaml and the configs it names: package data of ``treelstm_configs`` (the folder
# configs/, mapped in pyproject.toml), so found the same way from a wheel and from an editable checkout.
PAPERS = Path(str(resources.files("treelstm_configs").joinpath("papers.yaml")))


def _data_root(args) -> Path | None:
    """``--data-dir`` or ``$TREELSTM_DATA``: where the built-in benchmarks and relative data paths are
    looked up (None when neither is set: a config's own files need no data root)."""
    root = args.data_dir or os.environ.get("TREELSTM_DATA")
    if not root:
        return None
    if not Path(root).is_dir():  # --data-dir is checked as it is read (PathArg)
        raise UserError(f"$TREELSTM_DATA: {root} is {'a file' if Path(root).exists() else 'missing'}, "
                        "expected the data root folder")
    return Path(root)


def _cmd_train(args) -> None:
    if args.resume:
        return _resume(args)
    if args.config is None:
        raise ConfigError("train: give a CONFIG file, or --resume RUN_DIR to continue a run")
    _device(args)  # a device this machine lacks: said before the config's data is read
    config = load_config(args.config, args.set)
    data_root = _data_root(args)
    with _trainers(args.jobs) as ranks:
        (results,) = run_seeds([config], args.seeds, data_root, Path(args.runs_dir), args.jobs, reuse=False,
                                overwrite=args.overwrite, device=args.device)
    if not ranks.main:
        return
    part = "test" if results[0]["test"] is not None else "dev"  # without a test split: the best epochs' dev metrics
    summary = summarize(results, part)
    out = Path(args.runs_dir) / config.name
    atomic_text(out / "summary.json", json.dumps({"runs": results, "mean_std": summary, "split": part}, indent=2))
    print(f"{config.name}: {part} " + ", ".join(f"{k} {m:.4f}" + ("" if s is None else f" ({s:.4f})")
                                                for k, (m, s) in summary.items())
          + (f" over {len(results)} seed(s)" if len(results) > 1 else " (one seed, no std)") + f"; runs in {out}")


@contextmanager
def _trainers(jobs: int):
    """The ranks of this process, in one process group for all the command's runs under torchrun
    (:mod:`treelstm.runner.distributed`), where every run is trained by all the processes together."""
    from treelstm.runner.distributed import Ranks, session

    if jobs > 1 and Ranks.from_env().size > 1:
        raise ConfigError(f"--jobs {jobs}: under torchrun the {Ranks.from_env().size} processes train each run "
                          "together; leave --jobs at 1")
    with session() as ranks:
        yield ranks


def _resume(args) -> None:
    """Continue the run in ``--resume RUN_DIR`` with its own config, from its last finished epoch."""
    from treelstm.runner.training import train

    if args.config or args.set or args.seeds != 1:
        raise ConfigError("--resume RUN_DIR trains the run's own config: give no CONFIG, --set or --seeds with it")
    run_dir = Path(args.resume)
    if not (run_dir / "config.yaml").exists():
        raise FileNotFoundError(f"{run_dir}: not a run folder (runs/NAME/seed-K), config.yaml is missing")
    config = stored_config(run_dir)
    with _trainers(1) as ranks:
        result = train(config, _data_root(args), run_dir, resume=True, device=args.device)
    if ranks.main:
        print(f"{config.name} seed {config.training.seed}: test {short_metrics(result['test'])}; run in {run_dir}")


def _cmd_prepare(args) -> None:
    """Read a config's data and build its trees (spaCy parses) into the cache, with a progress bar."""
    from treelstm.data.parsed import cache_folder
    from treelstm.runner.task import get_task

    config = load_config(args.config, args.set)
    task = get_task(config)
    sizes = task.prepare(_data_root(args))
    print(f"{config.name}: " + ", ".join(f"{name} {n:,} examples" for name, n in sizes.items())
          + (f"; trees cached in {cache_folder()}" if task.caches else "; nothing to cache (no parsing)"))


def _cmd_evaluate(args) -> None:
    from treelstm.runner.checkpoint import load_checkpoint, update_card
    from treelstm.runner.training import batches, evaluate

    device = _device(args, say=True)
    task, model, vocab, meta = load_checkpoint(Path(args.checkpoint), map_location=device)
    split = task.examples(task.read(_data_root(args), [args.split])[args.split], args.split)
    start = time.perf_counter()
    metrics = evaluate(task, model, [task.collate(b, vocab) for b in batches(split, 256)], split,
                       task.config.training.precision)
    seconds = time.perf_counter() - start  # collating, predicting (batches of 256) and scoring
    print(json.dumps({"split": args.split, "epoch": meta.get("epoch"), **metrics,
                      "examples_per_second": round(len(split) / seconds, 1)}, indent=2))
    if args.update_card:
        update_card(Path(args.checkpoint), {args.split: metrics})


def _device(args, say: bool = False):
    """The device of ``--device`` (default: auto, or for training the config's ``training.device``); a
    device this machine lacks is a UserError. ``say``: note it (training notes the device it resolves)."""
    from treelstm.notes import note
    from treelstm.runner.device import resolve_device

    device = resolve_device(args.device or "auto")
    if say:
        note(f"device {device}")
    return device


def _check_pair(where: str, pair: Sequence[str]) -> tuple[str, str]:
    for side, text in enumerate(pair, 1):
        if not text.strip():
            raise UserError(f"{where}: text {side} is empty")
    return pair[0], pair[1]


def _read_pairs(path: Path) -> list[tuple[str, str]]:
    """``text1 <tab> text2`` per line; a malformed or empty line is an error naming it."""
    from treelstm.files import read_lines

    pairs = []
    for k, line in enumerate(read_lines(Path(path), "--input"), 1):
        parts = line.split("\t")
        if len(parts) != 2:
            raise UserError(f"{path}:{k}: expected two tab-separated texts, found {len(parts)} field(s)")
        pairs.append(_check_pair(f"{path}:{k}", parts))
    if not pairs:
        raise UserError(f"{path}: no text pairs in the file")
    return pairs


def _cmd_predict(args) -> None:
    from treelstm.runner.predict import load

    if args.output and args.input and _same_file(Path(args.input), Path(args.output)):
        raise UserError(f"--output {args.output}: that is the --input file; write the predictions to another file")
    predictor = load(args.checkpoint, _device(args, say=True))
    tagger = predictor.task.config.task == "ner"
    if args.format == "conll" and not tagger:
        raise ConfigError(f"--format conll is for taggers; this {predictor.task.config.task} checkpoint writes "
                          "text or json")
    inputs, where = (_pairs_given if predictor.task.raw_input == "pairs" else _texts_given)(args, tagger)
    results = predictor(inputs)
    _warn(results, where)
    lines = _tagged_lines(results, args) if tagger else [_result_line(r, args.format) for r in results]
    text = "".join(line + "\n" for line in lines)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        print(text, end="")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two spellings name one file (``./F``, ``F``, a symlink to it, a hard link)."""
    if a.resolve() == b.resolve():
        return True
    return a.exists() and b.exists() and os.path.samefile(a, b)


def _pairs_given(args, tagger: bool):
    """The pairs of ``--pair`` or ``--input`` (``text1 <tab> text2`` lines), and where each came from."""
    if (args.pair is None) == (args.input is None) or args.text is not None:
        raise ConfigError("this checkpoint takes text pairs: give either --pair TEXT1 TEXT2 or --input FILE")
    pairs = [_check_pair("--pair", args.pair)] if args.pair else _read_pairs(Path(args.input))
    return pairs, (lambda k: f"{args.input}:{k + 1}") if args.input else (lambda k: "--pair")


def _texts_given(args, tagger: bool):
    """The texts of ``--text`` or ``--input`` (one a line; for taggers an empty line is an empty text,
    for classifiers an error), and where each came from."""
    if (args.text is None) == (args.input is None) or args.pair is not None:
        raise ConfigError("this checkpoint takes texts: give either --text TEXT or --input FILE (one text per line)")
    if args.text is not None:
        if not args.text.strip():
            raise UserError("--text: the text is empty")
        return [args.text], lambda k: "--text"
    texts = _read_lines(Path(args.input))
    if not tagger:
        for k, text in enumerate(texts, 1):
            if not text.strip():
                raise UserError(f"{args.input}:{k}: the line is empty, expected a text")
    return texts, lambda k: f"{args.input}:{k + 1}"


def _result_line(result: dict, form: str | None) -> str:
    """A classifier's ``label <tab> probability``, a regressor's ``score``, or the JSON object."""
    if form == "json":
        return json.dumps(result, ensure_ascii=False)
    if "score" in result:
        return f"{result['score']:.4f}"
    return f"{result['label']}\t{result['probability']:.4f}"


def _tagged_lines(results: list[dict], args) -> list[str]:
    """Tagging: entities as ``[LINE <tab>] start <tab> end <tab> TYPE <tab> text`` lines, one JSON
    object per text (``--format json``), or CoNLL columns ``token <tab> IOB2 tag`` (``--format conll``)."""
    lines = []
    for k, result in enumerate(results):
        if args.format == "json":
            lines.append(json.dumps(result, ensure_ascii=False))
        elif args.format == "conll":
            if not result["sentences"]:  # an empty line of --input: a comment keeps the blocks mapped to lines
                lines += [f"# line {k + 1}: empty", ""]
            for sentence in result["sentences"]:
                lines += [f"{token['text']}\t{token['tag']}" for token in sentence] + [""]
        else:
            prefix = f"{k + 1}\t" if args.input else ""
            lines += [f"{prefix}{e['start']}\t{e['end']}\t{e['type']}\t{e['text']}" for e in result["entities"]]
    return lines


def _read_lines(path: Path) -> list[str]:
    from treelstm.files import read_lines

    lines = read_lines(path, "--input")
    if not any(line.strip() for line in lines):
        raise UserError(f"{path}: the file has no text")
    return lines


def _warn(results: list[dict], where) -> None:
    for k, result in enumerate(results):
        for warning in result["warnings"]:
            print(f"treelstm: warning: {where(k)}: {_shorten(warning)}", file=sys.stderr)


def _shorten(text: str, limit: int = 200) -> str:
    """``text``, or its start and end around ``...`` when it is longer than ``limit`` characters (a warning
    quoting a 5,000-word input stays one readable line)."""
    if len(text) <= limit:
        return text
    tail = min(60, limit // 3)
    return text[: limit - tail - 3] + "..." + text[-tail:]


def _cmd_explain(args) -> None:
    """Draw the input's tree(s) with every node's prediction to ``OUTPUT.svg`` and ``OUTPUT.png``."""
    from treelstm.runner.predict import explain
    from treelstm.viz.drawing import draw

    pair = tuple(args.pair) if args.pair else None
    explanation = explain(args.checkpoint, args.text, tree=args.tree, pair=pair, gates=args.gates,
                          device=_device(args, say=True))
    prediction = ", ".join(f"{name} {p:.4f}" for name, p in zip(explanation.classes, explanation.probabilities))
    print(f"{explanation.label}\t{prediction}")
    for path in draw(explanation, args.output):
        print(path)


def _cmd_plot(args) -> None:
    from treelstm.viz.plots import plot_runs

    print(plot_runs([Path(d) for d in args.run_dirs], args.output, args.metric))


def _cmd_reproduce(args) -> None:
    _device(args)
    tables = yaml.safe_load(PAPERS.read_text(encoding="utf-8"))
    if args.table not in tables:
        raise ConfigError(f"unknown table {args.table!r}; known: {', '.join(tables)}")
    table = tables[args.table]
    rows = [r for r in table["rows"] if not args.quick or r.get("headline")]
    seeds = 1 if args.quick else args.seeds
    ours = [row for row in rows if "config" in row]  # rows without a config are published figures only
    configs = [load_config(PAPERS.parent / row["config"], args.set) for row in ours]
    counts = [min(seeds, row.get("seeds", seeds)) for row in ours]  # a row may cap its seeds (costly ablations)
    with _trainers(args.jobs) as ranks:
        trained = run_seeds(configs, counts, _data_root(args), Path(args.runs_dir), args.jobs, args.rerun,
                            args.finished_only, overwrite=args.overwrite, device=args.device)
    if not ranks.main:
        return
    results = [trained[ours.index(row)] if "config" in row else [] for row in rows]
    markdown = render_table(table, rows, results, seeds)
    out = Path(args.runs_dir) / "reproduce" / f"{args.table}{'-quick' if args.quick else ''}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_text(out, markdown)
    print(markdown + f"\n(saved to {out})")


def _cmd_demo_long_dependency(args) -> None:
    import torch

    from treelstm.demo.figure import plot
    from treelstm.demo.long_dependency import Settings, run, table

    settings = Settings(steps=args.steps, min_distance=args.min_distance, max_distance=args.max_distance,
                        seeds=tuple(range(args.seed, args.seed + args.seeds)))
    settings = settings.quick() if args.quick else settings
    out = Path(args.output)
    if out.suffix.lower() != ".png":
        raise UserError(f"--output {out}: the figure is written as PNG, give a .png path")
    torch.set_num_threads(args.threads)
    results = run(settings)
    plot(results, out)
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(table(results) + f"\n{results['seconds']:.0f} s; figure {out}, numbers {out.with_suffix('.json')}")


# The command line's values. Every number and path argument has one of the kinds below as its argparse
# ``type``, so it is checked as the line is read: a bad value is one line, ``treelstm: error: argument
# --NAME: ...``, and exit status 2 (:class:`_Parser`), before anything runs.


class IntArg:
    """A whole number of at least ``minimum`` (counts: 1, distances and seeds: 0)."""

    def __init__(self, minimum: int):
        self.minimum = minimum
        self.__name__ = f"whole number >= {minimum}"

    def __call__(self, text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < self.minimum:
            raise argparse.ArgumentTypeError(f"must be at least {self.minimum}, got {value}")
        return value


class PathArg:
    """A path of one kind, checked before the command runs:

    * ``file``: an existing file the command reads (not a folder; readable);
    * ``folder``: an existing folder the command reads (not a file; readable);
    * ``output``: a file the command writes: not a folder, in an existing folder it may write in (an
      existing file there is overwritten, the user named it); ``suffixes``: the files written are
      ``PATH + suffix`` for each (explain's ``.svg`` and ``.png``, a given ``.svg``/``.png`` dropped);
    * ``runs``: a folder the command writes into, created with its parents when missing; where it or
      an ancestor exists, a folder it may write in.
    """

    def __init__(self, kind: str, suffixes: tuple[str, ...] = ()):
        assert kind in ("file", "folder", "output", "runs")
        self.kind, self.suffixes = kind, suffixes
        self.__name__ = f"{kind} path"

    def __call__(self, text: str) -> str:
        if not text:
            raise argparse.ArgumentTypeError(f"expected a {'folder' if self.kind in ('folder', 'runs') else 'file'} "
                                             "path, got an empty one")
        path = Path(text)
        if self.kind in ("file", "folder"):
            self._existing(path, self.kind)
        elif self.kind == "output":
            for file in self._written(path):
                self._writable(file)
        else:
            self._runs(path)
        return text

    @staticmethod
    def _existing(path: Path, kind: str) -> None:
        if not path.exists():
            raise argparse.ArgumentTypeError(f"{path} does not exist, expected a {kind}")
        if kind == "file" and path.is_dir():
            raise argparse.ArgumentTypeError(f"{path} is a folder, expected a file")
        if kind == "folder" and not path.is_dir():
            raise argparse.ArgumentTypeError(f"{path} is a file, expected a folder")
        if not os.access(path, os.R_OK | (os.X_OK if kind == "folder" else 0)):
            raise argparse.ArgumentTypeError(f"{path}: permission denied, cannot read it")

    def _written(self, path: Path) -> list[Path]:
        if not self.suffixes:
            return [path]
        if path.suffix.lower() in self.suffixes:
            path = path.with_suffix("")
        return [path.with_name(path.name + suffix) for suffix in self.suffixes]

    @staticmethod
    def _writable(path: Path) -> None:
        parent = path.parent
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{path} is a folder, expected a file to write")
        if not parent.exists():
            raise argparse.ArgumentTypeError(f"{path}: the folder {parent} does not exist; create it first")
        if not parent.is_dir():
            raise argparse.ArgumentTypeError(f"{path}: {parent} is a file, expected a folder")
        if not os.access(path if path.exists() else parent, os.W_OK | (0 if path.exists() else os.X_OK)):
            raise argparse.ArgumentTypeError(f"{path}: permission denied, cannot write it")

    @staticmethod
    def _runs(path: Path) -> None:
        existing = next(p for p in (path, *path.parents) if p.exists())  # '.' or '/' at the latest
        if existing.exists() and not existing.is_dir():
            raise argparse.ArgumentTypeError(f"{existing} is a file, expected a folder" + ("" if existing == path
                                             else f" (to hold {path})"))
        if existing.exists() and not os.access(existing, os.W_OK | os.X_OK):
            raise argparse.ArgumentTypeError(f"{existing}: permission denied, cannot write in it")


class _Parser(argparse.ArgumentParser):
    """argparse's parser, its errors (a bad value, a missing or unknown argument) printed as the command's
    other errors are: one line ``treelstm: error: ...`` and exit status 2 (no usage block)."""

    def error(self, message: str):
        self.exit(2, f"treelstm: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="treelstm", description="Tree-LSTM training, evaluation and paper tables.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    debug = _Parser(add_help=False)  # --debug also after the sub-command
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks for errors")
    commands = parser.add_subparsers(dest="command", required=True)

    def device(p):
        p.add_argument("--device", default=None, metavar="DEVICE",  # named text, checked as the command starts
                       help="auto (CUDA when available, else cpu), cpu, cuda, cuda:N or mps "
                            "(train, reproduce: overrides training.device; default: auto)")

    def common(p, runs=True):
        p.add_argument("--data-dir", type=PathArg("folder"), help="data root (default: $TREELSTM_DATA)")
        device(p)
        if runs:
            p.add_argument("--runs-dir", type=PathArg("runs"), default="runs", help="where run folders go (default: runs)")
            p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                           help="override a config value, e.g. model.hidden_size=168 (repeatable)")
            p.add_argument("--jobs", type=IntArg(1), default=1, help="runs in parallel, one process each (default 1)")

    p = commands.add_parser("train", parents=[debug], help="train a config; best epoch on dev, evaluated on test")
    p.add_argument("config", nargs="?", type=PathArg("file"), metavar="CONFIG",
                   help="the config file (none with --resume)")
    p.add_argument("--resume", metavar="RUN_DIR", type=PathArg("folder"),
                   help="continue a killed or interrupted run (runs/NAME/seed-K) from its last finished epoch")
    p.add_argument("--seeds", type=IntArg(1), default=1, help="number of seeds; reports mean (std)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier run in runs/NAME/seed-K (without it, such a run is kept and nothing trains)")
    common(p)
    p.set_defaults(func=_cmd_train)

    p = commands.add_parser("prepare", parents=[debug], help="read a config's data and parse it into the cache (progress bar)")
    p.add_argument("config", type=PathArg("file"), metavar="CONFIG", help="the config file")
    p.add_argument("--data-dir", type=PathArg("folder"), help="data root (default: $TREELSTM_DATA)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config value")
    p.set_defaults(func=_cmd_prepare)

    p = commands.add_parser("evaluate", parents=[debug], help="evaluate a checkpoint folder on a split")
    p.add_argument("checkpoint", type=PathArg("folder"), metavar="CHECKPOINT", help="a checkpoint folder")
    p.add_argument("--split", default="test",
                   help="train, dev, test, or a source's extra split (msrp: paws-dev, paws-test)")
    p.add_argument("--update-card", action="store_true",
                   help="also write the metrics into the checkpoint's model card (README.md, meta.json)")
    common(p, runs=False)
    p.set_defaults(func=_cmd_evaluate)

    p = commands.add_parser("predict", parents=[debug], help="run a checkpoint on raw text (pair tasks: text pairs; ner, "
                                            "classification: texts)")
    p.add_argument("checkpoint", type=PathArg("folder"), metavar="CHECKPOINT", help="a checkpoint folder")
    p.add_argument("--pair", nargs=2, metavar=("TEXT1", "TEXT2"), help="pair tasks: one text pair")
    p.add_argument("--text", help="ner, classification: one text (ner: a sentence or a paragraph)")
    p.add_argument("--input", type=PathArg("file"),
                   help="a file: text1<TAB>text2 lines (pair tasks), one text per line (ner, classification)")
    p.add_argument("--format", choices=["text", "json", "conll"],
                   help="text (default): label<TAB>probability, a score, or ner's entity lines; json: one object "
                        "per input; conll (ner): token<TAB>tag columns")
    p.add_argument("--output", type=PathArg("output"),
                   help="write the predictions here (default: stdout; never the --input file)")
    device(p)
    p.set_defaults(func=_cmd_predict)

    p = commands.add_parser("explain", parents=[debug], help="draw a sentence's tree with each node's prediction (and gates)")
    p.add_argument("checkpoint", type=PathArg("folder"), metavar="CHECKPOINT",
                   help="a checkpoint of a tree model of a text task (classification or pair tasks)")
    p.add_argument("--text", help="classification: a text (parsed by spaCy)")
    p.add_argument("--tree", help="classification: a PTB tree as in SST, e.g. \"(3 (2 It) (4 works))\"")
    p.add_argument("--pair", nargs=2, metavar=("TEXT1", "TEXT2"), help="pair tasks: a text pair")
    p.add_argument("--gates", action="store_true", help="also draw the gates (i, o under each node; f on the edges)")
    p.add_argument("--output", type=PathArg("output", (".svg", ".png")), default="explanation",
                   help="writes OUTPUT.svg and OUTPUT.png (a .svg/.png suffix is dropped; default: explanation)")
    device(p)
    p.set_defaults(func=_cmd_explain)

    p = commands.add_parser("plot", parents=[debug], help="draw training curves to a PNG; several runs overlaid to compare configs")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", type=PathArg("folder"), help="a run folder (runs/NAME or runs/NAME/seed-K)")
    p.add_argument("--metric", action="append", default=[], metavar="NAME",
                   help="a panel per metric, e.g. dev_accuracy (repeatable; default: train_loss and every dev_ metric)")
    p.add_argument("--output", type=PathArg("output"),
                   help="the PNG (default: RUN_DIR/curves.png for one run, curves.png for several)")
    p.set_defaults(func=_cmd_plot)

    p = commands.add_parser("reproduce", parents=[debug], help="run a paper table's configs and print ours beside the paper's")
    p.add_argument("table", help="e.g. tai2015-sick, tai2015-sst")
    p.add_argument("--quick", action="store_true", help="the headline row only, one seed")
    p.add_argument("--rerun", action="store_true",
                   help="train again, replacing them, the runs of the same configs that would be reused or resumed")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a run folder holding another config's run (without it, nothing trains)")
    p.add_argument("--finished-only", action="store_true",
                   help="train nothing: the table of the runs finished so far (while the rest still train)")
    p.add_argument("--seeds", type=IntArg(1), default=5, help="seeds per row (default 5)")
    common(p)
    p.set_defaults(func=_cmd_reproduce)

    p = commands.add_parser("demo", parents=[debug], help="demonstrations on data the library generates itself")
    demos = p.add_subparsers(dest="demo", required=True)
    p = demos.add_parser("long-dependency", parents=[debug], help="tanh RNN, LSTM, GRU and Tree-LSTM on subject-verb agreement "
                                                 "across growing distances: accuracy and first-token gradient")
    p.add_argument("--output", type=PathArg("output", (".png", ".json")), default="long_dependency.png",
                   help="the PNG (default: long_dependency.png); "
                   "the numbers go beside it as .json")
    p.add_argument("--seed", type=IntArg(0), default=1, help="first seed (default 1)")
    p.add_argument("--seeds", type=IntArg(1), default=3, help="seeds per model (default 3)")
    p.add_argument("--steps", type=IntArg(1), default=600, help="training batches per model (default 600)")
    p.add_argument("--min-distance", type=IntArg(0), default=4, help="shortest training distance (default 4)")
    p.add_argument("--max-distance", type=IntArg(0), default=24, help="longest training distance (default 24)")
    p.add_argument("--threads", type=IntArg(1), default=1, help="torch threads (default 1: the models are tiny)")
    p.add_argument("--quick", action="store_true", help="a few seconds, one seed, tiny models: checks, shows nothing")
    p.set_defaults(func=_cmd_demo_long_dependency)
    return parser


def _one_line_warnings(show):
    """A ``warnings.showwarning`` printing the library's warnings as one line, others through ``show``."""

    def showwarning(message, category, filename, lineno, file=None, line=None) -> None:
        if category.__module__.startswith("treelstm"):
            print(f"treelstm: warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return showwarning


def _os_error(error: OSError) -> str:
    """An operating system's refusal as one line naming the path, without Python's ``[Errno N]``."""
    if error.errno is None or error.filename is None:
        return str(error)
    reason = {IsADirectoryError: "is a folder, expected a file", NotADirectoryError: "a part of the path is a file, "
              "expected a folder", PermissionError: "permission denied", FileNotFoundError: "no such file or folder"}
    return f"{error.filename}: {reason.get(type(error), error.strerror)}"


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, or a bad argument (one line printed by _Parser.error)
        return done.code if isinstance(done.code, int) else 2
    with warnings.catch_warnings():
        warnings.showwarning = _one_line_warnings(warnings.showwarning)
        try:
            args.func(args)
        except (UserError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as error:
            # anything else is a bug: its traceback shows. A path the system refuses that the arguments'
            # checks (PathArg) could not see, e.g. a file inside a folder given, is the user's to fix.
            if args.debug:
                raise
            message = str(error) if isinstance(error, UserError) else _os_error(error)
            print(f"treelstm: error: {message}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as interrupt:
            print(f"treelstm: {str(interrupt) or 'interrupted'}", file=sys.stderr)
            return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
