"""Many runs: a config over several seeds, several configs, in parallel processes; finished runs reused,
interrupted ones resumed (what ``treelstm train --seeds`` and ``treelstm reproduce`` do), and nothing a
user trained replaced without being asked (``overwrite``)."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from treelstm.errors import UserError
from treelstm.runner.config import Config, load_config

__all__ = ["run_seeds", "stored_config", "short_metrics"]

REUSE, RESUME, TRAIN, REPLACE = "reuse", "resume", "train", "replace"
"""What is done with a run's folder (:func:`_action`)."""


def _run_one(config: Config, data_root: Path, run_dir: Path, progress: bool, action: str = TRAIN,
             device: str | None = None) -> dict:
    """Do ``action`` (:func:`_action`) for one run: reuse the finished run in ``run_dir``, resume the
    unfinished one, train in an empty folder, or replace what is there."""
    from treelstm.runner.training import train

    if action == REUSE and (result := _finished(config, run_dir)):
        return result
    resume = action == RESUME
    return train(config, data_root, run_dir, progress=progress, resume=resume,
                 overwrite=action == REPLACE, device=device) | {"run_dir": str(run_dir)}


def _action(config: Config, run_dir: Path, rerun: bool, overwrite: bool, reuse: bool, keep: str) -> str:
    """What to do with ``run_dir`` for ``config``: nothing there (or a run stopped in its first epoch):
    train. A run of the same config, with ``reuse``: reuse it when finished, resume it when it can be,
    replace it otherwise (what is there is a part of its first epoch) or with ``rerun``. Any other
    run (another config's; any run, without ``reuse``): replace it with ``overwrite``, else a UserError
    saying how to keep it (``keep``), continue it or replace it. Another process training in the
    folder, first of all: :class:`treelstm.files.FolderLocked`."""
    from treelstm.files import check_unlocked
    from treelstm.runner.distributed import Ranks
    from treelstm.runner.training import earlier_run, refusal, same_config

    if Ranks.from_env().size == 1:  # another process training there comes first (under torchrun, train()
        check_unlocked(run_dir, "this run folder")  # says it on every process)
    state = earlier_run(run_dir)
    if state is None:
        return TRAIN
    if reuse and same_config(config, run_dir):
        if rerun:
            return REPLACE
        if state == "finished":
            return REUSE
        return RESUME if _resumable(config, run_dir) else REPLACE
    if overwrite:
        return REPLACE
    raise UserError(refusal(run_dir, config, state, keep))


def _finished(config: Config, run_dir: Path) -> dict | None:
    """The results of a finished run of ``config`` in ``run_dir``, if there is one."""
    done = run_dir / "test_metrics.json"
    if done.exists() and stored_config(run_dir) == config:
        return json.loads(done.read_text(encoding="utf-8")) | {"run_dir": str(run_dir), "reused": True}
    return None


def _resumable(config: Config, run_dir: Path) -> bool:
    """Whether ``run_dir`` holds the resumable state of an unfinished run of ``config``."""
    from treelstm.files import settled
    from treelstm.runner import resume

    return settled(resume.folder(run_dir)).is_dir() and stored_config(run_dir) == config


def stored_config(run_dir: Path) -> Config:
    """The config a run folder was trained with (keys added since then take their defaults)."""
    return load_config(run_dir / "config.yaml")


def run_seeds(
    configs: list[Config], seeds: int | Sequence[int], data_root: Path, runs_dir: Path, jobs: int, rerun: bool = False,
    finished_only: bool = False, *, overwrite: bool = False, reuse: bool = True, device: str | None = None,
) -> list[list[dict]]:
    """Train every config with ``seeds`` seeds (seed, seed+1, ...; one count for all or one per
    config), ``jobs`` runs at a time, each in ``runs_dir/NAME/seed-K``.

    A folder holding a run of the same config: with ``reuse`` (``reproduce``), a finished run is reused
    and an unfinished one resumed, unless ``rerun``: trained again in its place. Anything else there
    (another config's run; without ``reuse`` (``train``), any run) is replaced only with ``overwrite``;
    otherwise a UserError says how to keep it, before anything trains. Planned runs of the same
    config in one folder train once; of different configs, they are refused. With ``finished_only``,
    nothing is trained and only the finished runs of the same config are returned."""
    counts = [seeds] * len(configs) if isinstance(seeds, int) else list(seeds)
    plan = [(i, _with_seed(c, c.training.seed + k)) for i, c in enumerate(configs) for k in range(counts[i])]
    results: list[list[dict]] = [[] for _ in configs]
    runs_dir = Path(runs_dir)

    def folder(c: Config) -> Path:
        return runs_dir / c.name / f"seed-{c.training.seed}"

    if finished_only:
        for i, c in plan:
            if result := _finished(c, folder(c)):
                results[i].append(result)
        return results
    keep = "train under a new name (--set name=...)" if len(configs) == 1 else "give another --runs-dir"
    runs: dict[Path, tuple[Config, str, list[int]]] = {}  # folder -> its config, action, the plan's rows
    for i, c in plan:
        if folder(c) in runs:
            if runs[folder(c)][0] != c:
                raise UserError(f"two different configs named {c.name!r} would both train in {folder(c)}: give "
                                "them different names")
            runs[folder(c)][2].append(i)
            continue
        runs[folder(c)] = (c, _action(c, folder(c), rerun, overwrite, reuse, keep), [i])

    def collect(result: dict, rows: list[int]) -> None:
        for i in rows:
            results[i].append(result)

    if jobs == 1 or len(runs) == 1:
        for run_dir, (c, action, rows) in runs.items():
            collect(_run_one(c, data_root, run_dir, True, action, device), rows)
    else:
        with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_run_one, c, data_root, run_dir, False, action, device): rows
                       for run_dir, (c, action, rows) in runs.items()}
            with tqdm(total=len(futures), desc="runs", unit="run") as bar:
                for future in as_completed(futures):
                    result = future.result()
                    collect(result, futures[future])
                    bar.set_postfix_str(f"{result['name']} seed {result['seed']}: {short_metrics(result['test'])}")
                    bar.update()
    for rows in results:
        rows.sort(key=lambda r: r["seed"])
    return results


def _with_seed(config: Config, seed: int) -> Config:
    return config.model_copy(update={"training": config.training.model_copy(update={"seed": seed})})


def short_metrics(metrics: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
