"""Training curves of a run folder (or of every seed folder under it), drawn to a PNG."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

__all__ = ["plot_run"]


def _read_metrics(path: Path) -> list[dict]:
    records = []
    for k, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            raise ValueError(f"{path}:{k}: not a JSON line") from None
    return records


def plot_run(run_dir: Path) -> Path:
    """Train loss and dev metrics per epoch, one line per run found; returns the PNG's path."""
    run_dir = Path(run_dir)
    logs = sorted(run_dir.glob("metrics.jsonl")) or sorted(run_dir.glob("*/metrics.jsonl"))
    if not logs:
        raise FileNotFoundError(f"{run_dir}: no metrics.jsonl here or in its subfolders; is it a run folder?")
    runs = {(log.parent.name if log.parent != run_dir else run_dir.name): _read_metrics(log) for log in logs}
    dev_keys = sorted({k for records in runs.values() for r in records for k in r if k.startswith("dev_")})
    fig, axes = plt.subplots(1, 1 + len(dev_keys), figsize=(4.2 * (1 + len(dev_keys)), 3.4), squeeze=False)
    for name, records in runs.items():
        epochs = [r["epoch"] for r in records]
        axes[0, 0].plot(epochs, [r["train_loss"] for r in records], marker="o", label=name)
        for ax, key in zip(axes[0, 1:], dev_keys):
            ax.plot(epochs, [r.get(key) for r in records], marker="o", label=name)
    for ax, title in zip(axes[0], ["train loss", *(k.replace("dev_", "dev ") for k in dev_keys)]):
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0, -1].legend(fontsize="small")
    fig.suptitle(run_dir.name)
    fig.tight_layout()
    out = run_dir / "curves.png"
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
