"""Results over seeds: mean and standard deviation, and a paper's table with ours beside its numbers."""

from __future__ import annotations

import statistics

__all__ = ["summarize", "render_table"]


def summarize(results: list[dict], part: str = "test") -> dict[str, tuple[float, float | None]]:
    """Mean and sample standard deviation of each ``part`` (test or dev) metric over seeds; the standard
    deviation is None for a single seed (there is none, rather than a misleading 0)."""
    names = results[0][part].keys()
    values = {name: [r[part][name] for r in results] for name in names}
    return {n: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else None) for n, v in values.items()}


def render_table(table: dict, rows: list[dict], results: list[list[dict]], seeds: int) -> str:
    """A markdown table: each row's mean (std) over seeds beside the paper's."""
    metrics = table["metrics"]
    head = "| row | " + " | ".join(f"{m} (ours) | {m} (paper)" for m in metrics) + " | s/epoch | s/run |"
    lines = [f"### {table['title']}", "", head, "|---|" + "---:|" * (2 * len(metrics) + 2)]
    for row, runs in zip(rows, results):
        ours = summarize(runs) if runs else {}
        cells = []
        for m in metrics:
            paper = row.get("paper", {}).get(m)  # [mean, std], or a number where no std was published
            paper = _fmt(*paper, table) if isinstance(paper, list) else "—" if paper is None else _fmt(paper, None, table)
            mine = _fmt(*ours[m], table) if runs else "—"  # one seed: the mean alone
            cells += [mine, paper]
        times = [f"{statistics.fmean(r[key] for r in runs):.{d}f}" if runs else "—"
                 for key, d in (("epoch_seconds", 1), ("wall_seconds", 0))]
        name = row["name"] + (f" ({len(runs)} seed{'s' * (len(runs) > 1)})" if runs and len(runs) != seeds else "")
        lines.append(f"| {name} | " + " | ".join(cells + times) + " |")
    ours_are = (f"mean (std) over {seeds} seed(s) unless the row says otherwise" if seeds > 1
                else "one seed per row (no std)")
    on_dev = any(r.get("train_on_dev") for runs in results for r in runs)
    which = "best dev epoch each" + (" (the last epoch where the row trains on train + dev)" if on_dev else "")
    lines += ["", f"Ours: {ours_are}, {which}; s/epoch (training and dev "
              f"evaluation) and s/run are means per run, one CPU thread per run; "
              f"{sum(r['wall_seconds'] for runs in results for r in runs) / 60:.1f} CPU-thread minutes in all.",
              f"Paper: {table['source']}"]
    return "\n".join(lines) + "\n"


def _fmt(mean: float, std: float | None, table: dict) -> str:
    scale, digits = table.get("scale", 1), table.get("digits", 4)
    return f"{mean * scale:.{digits}f}" + ("" if std is None else f" ({std * scale:.{digits}f})")
