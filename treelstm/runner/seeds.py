"""Many runs: a config over several seeds, several configs, in parallel processes; finished runs reused,
interrupted ones resumed (what ``treelstm train --seeds`` and ``treelstm reproduce`` do)."""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

from tqdm import tqdm

from treelstm.runner.config import Config, load_config

__all__ = ["run_seeds", "stored_config", "short_metrics"]


def _run_one(config: Config, data_root: Path, run_dir: Path, progress: bool, rerun: bool = False) -> dict:
    """Train one run, or reuse its results when ``run_dir`` holds a finished run of the same config
    (unless ``rerun``); a killed or interrupted run of the same config is resumed."""
    from treelstm.runner.training import train

    result = None if rerun else _finished(config, run_dir)
    resume = not rerun and _resumable(config, run_dir)
    return result or train(config, data_root, run_dir, progress=progress, resume=resume) | {"run_dir": str(run_dir)}


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
    finished_only: bool = False,
) -> list[list[dict]]:
    """Train every config with ``seeds`` seeds (seed, seed+1, ...; one count for all or one per
    config), ``jobs`` runs at a time.

    A run whose folder already holds a finished run of the same config is reused, unless ``rerun``;
    with ``finished_only``, nothing is trained and only such runs are returned."""
    counts = [seeds] * len(configs) if isinstance(seeds, int) else list(seeds)
    plan = [(i, _with_seed(c, c.training.seed + k)) for i, c in enumerate(configs) for k in range(counts[i])]
    results: list[list[dict]] = [[] for _ in configs]
    def folder(c: Config) -> Path:
        return runs_dir / c.name / f"seed-{c.training.seed}"

    if finished_only:
        for i, c in plan:
            if result := _finished(c, folder(c)):
                results[i].append(result)
        return results
    if jobs == 1 or len(plan) == 1:
        for i, c in plan:
            results[i].append(_run_one(c, data_root, folder(c), True, rerun))
        return results
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(_run_one, c, data_root, folder(c), False, rerun): i for i, c in plan}
        with tqdm(total=len(futures), desc="runs", unit="run") as bar:
            for future in as_completed(futures):
                result = future.result()
                results[futures[future]].append(result)
                bar.set_postfix_str(f"{result['name']} seed {result['seed']}: {short_metrics(result['test'])}")
                bar.update()
    for rows in results:
        rows.sort(key=lambda r: r["seed"])
    return results


def _with_seed(config: Config, seed: int) -> Config:
    return config.model_copy(update={"training": config.training.model_copy(update={"seed": seed})})


def short_metrics(metrics: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
