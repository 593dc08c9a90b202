"""Training curves drawn to a PNG: a run folder's seeds, or several run folders overlaid to compare configs.

Figures are built with matplotlib's object-oriented API (:class:`matplotlib.figure.Figure`), never through
pyplot: importing this module leaves the user's backend (a notebook's, say) alone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import matplotlib
from matplotlib.figure import Figure

from treelstm.errors import UserError

__all__ = ["plot_runs", "curves"]


def _read_metrics(path: Path) -> list[dict]:
    records = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise UserError(f"{path}:{k}: not a JSON line") from None
    return records


def _seeds(run_dir: Path) -> dict[str, list[dict]]:
    """The epochs of each seed in a run folder (``runs/NAME``, or one seed's ``runs/NAME/seed-K``), by seed folder."""
    logs = sorted(run_dir.glob("metrics.jsonl")) or sorted(run_dir.glob("*/metrics.jsonl"))
    if not logs:
        raise FileNotFoundError(f"{run_dir}: no metrics.jsonl here or in its subfolders; is it a run folder?")
    return {(log.parent.name if log.parent != run_dir else run_dir.name): _read_metrics(log) for log in logs}


def _names(run_dirs: list[Path]) -> list[str]:
    """Each folder's name, with its parent's where two names are the same (``runs-a/x``, ``runs-b/x``)."""
    names = [d.resolve().name for d in run_dirs]
    return [f"{d.resolve().parent.name}/{n}" if names.count(n) > 1 else n for d, n in zip(run_dirs, names)]


def plot_runs(run_dirs: Sequence[Path], output: Path | None = None, metrics: Sequence[str] = ()) -> Path:
    """Draw :func:`curves` to a PNG; returns its path: ``output``, else ``RUN_DIR/curves.png`` for one
    run folder and ``curves.png`` in the current folder for several."""
    run_dirs = [Path(d) for d in run_dirs]
    fig = curves(run_dirs, metrics)
    out = Path(output) if output else run_dirs[0] / "curves.png" if len(run_dirs) == 1 else Path("curves.png")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def curves(run_dirs: Sequence[Path], metrics: Sequence[str] = ()) -> Figure:
    """A panel per metric, its value per epoch. One run folder: a line (and colour) per seed in it.
    Several: a colour per run folder, labelled by its name, with a line per seed in it.

    Args:
        metrics: the panels, as named in ``metrics.jsonl`` (``train_loss``, ``dev_accuracy``, ...);
            default: ``train_loss`` and every ``dev_`` metric of the runs.

    Raises:
        FileNotFoundError: a folder without ``metrics.jsonl`` (nor in its subfolders).
        ValueError: a metric no run has, or a log line that is not JSON.
    """
    run_dirs = [Path(d) for d in run_dirs]
    runs = [_seeds(d) for d in run_dirs]
    found = {key for seeds in runs for records in seeds.values() for r in records for key in r} - {"epoch"}
    keys = list(metrics) or ["train_loss", *sorted(k for k in found if k.startswith("dev_"))]
    for key in keys:
        if key not in found:
            raise UserError(f"no run has the metric {key!r}; they have {', '.join(sorted(found))}")
    fig = Figure(figsize=(4.2 * len(keys), 3.4))
    axes = fig.subplots(1, len(keys), squeeze=False)
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    names = _names(run_dirs)
    for k, (name, seeds) in enumerate(zip(names, runs)):
        for s, (seed, records) in enumerate(seeds.items()):
            if len(runs) == 1:
                style = {"label": seed}
            else:
                label = f"{name} ({len(seeds)} seeds)" if len(seeds) > 1 else name
                style = {"color": colours[k % len(colours)], "label": label if s == 0 else None}
            epochs = [r["epoch"] for r in records]
            for ax, key in zip(axes[0], keys):
                ax.plot(epochs, [r.get(key) for r in records], marker="o", **style)
    for ax, key in zip(axes[0], keys):
        ax.set_title(key.replace("_", " ", 1))
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize="small")
    fig.suptitle(run_dirs[0].name if len(runs) == 1 else " vs ".join(names))
    fig.tight_layout()
    return fig
