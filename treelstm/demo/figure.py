"""The long-dependency figure: accuracy against distance, and the gradient reaching the first token."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure  # not pyplot: the user's backend is left alone

__all__ = ["plot"]


def plot(results: dict, out: Path) -> Path:
    """Two panels, one colour per model: accuracy (mean over seeds, each seed faint) with the
    training distances shaded; the gradient norm (log scale; per seed the mean over sentences, then
    the geometric mean over seeds) after training (solid) and at initialisation (dashed).
    Returns ``out``."""
    settings, models = results["settings"], results["models"]
    d = np.array(settings["test_distances"])
    fig = Figure(figsize=(11, 4.2))
    acc_ax, grad_ax = fig.subplots(1, 2)
    for ax in (acc_ax, grad_ax):
        ax.axvspan(settings["min_distance"], settings["max_distance"], color="0.92", zorder=0)
        ax.set_xlabel("distance d: words between the subject and its verb")
        ax.grid(alpha=0.3)
    for k, (name, record) in enumerate(models.items()):
        colour, marker = f"C{k}", "osD^v<>"[k % 7]
        width = 1.2 + 1.6 * (len(models) - 1 - k) / max(len(models) - 1, 1)  # first drawn widest: overlaps stay visible
        acc = np.array(record["accuracy"])
        for seed_acc in acc if len(acc) > 1 else ():
            acc_ax.plot(d, seed_acc, color=colour, alpha=0.25, lw=0.8)
        acc_ax.plot(d, acc.mean(axis=0), color=colour, lw=width, marker=marker, ms=2 + width, label=name)
        for key, style in (("gradient_trained", "-"), ("gradient_init", "--")):
            with np.errstate(divide="ignore"):  # a zero gradient (none in float64 so far) leaves a gap
                grad = np.exp(np.log(np.array(record[key])).mean(axis=0))  # geometric mean over seeds
            grad_ax.plot(d, np.where(grad > 0, grad, np.nan), color=colour, ls=style,
                         marker=marker if style == "-" else None, ms=3,
                         label=f"{name}, {'trained' if style == '-' else 'at init'}")
    acc_ax.axhline(0.5, color="0.5", ls=":", lw=1)
    acc_ax.set_ylim(0.25, 1.03)
    acc_ax.set_ylabel("accuracy (verb number)")
    seeds = len(settings["seeds"])
    acc_ax.set_title(f"accuracy; shaded: trained distances; {seeds} seed{'s' * (seeds > 1)}", fontsize=10)
    acc_ax.legend(fontsize="small", loc="lower left", ncol=2)
    grad_ax.set_yscale("log")
    grad_ax.set_ylabel(r"$\| u^\top \partial h_T / \partial x_1 \|$")
    grad_ax.set_title("gradient reaching the first token: trained (solid), at init (dashed)", fontsize=10)
    grad_ax.legend(fontsize="x-small", ncol=2, loc="lower left")
    fig.suptitle("Subject-verb agreement across d words (treelstm demo long-dependency)")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out
