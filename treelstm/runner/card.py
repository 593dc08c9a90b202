"""A checkpoint's model card: ``README.md`` in its folder, rendered from its ``config.yaml`` and
``meta.json``.

The card says what the model is and how it came to be: the task and its labels, the data source (the
config's ``data`` section), the word vectors, the metrics of every evaluated split, the command that
trained it, its seed, training time, device and treelstm version. It is written with every save
(:func:`treelstm.runner.checkpoint.save_checkpoint`: dev metrics of the best epoch so far), again when
training ends (test metrics, time, command) and by ``treelstm evaluate --update-card``
(:func:`treelstm.runner.checkpoint.update_card`).

What the card shows beyond the training loop's own ``meta.json`` keys lives in ``meta.json`` too:
``metrics`` (split -> metrics, as evaluated after training), ``command`` and ``training_seconds``.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import yaml

from treelstm.runner.config import Config

__all__ = ["render", "labels", "command_line"]


def labels(meta: dict) -> tuple[str, ...]:
    """The labels a checkpoint predicts, from its ``meta.json``'s ``task_state``: entity types (ner), the
    classes a text or pair is predicted as (classification: those seen at training roots, e.g. SST
    binary's negative and positive; pair-classification); none for tasks that predict a score."""
    state = meta.get("task_state") or {}
    if "entity_types" in state:
        return tuple(state["entity_types"])
    names = state.get("labels", [])
    return tuple(names[k] for k in state.get("predicted", range(len(names))))


def command_line() -> str:
    """This process's command line, as a shell would take it (``treelstm`` for the CLI's module)."""
    program = Path(sys.argv[0]).name
    return shlex.join(["treelstm" if program in ("cli.py", "__main__.py") else program, *sys.argv[1:]])


def render(config: Config, meta: dict) -> str:
    """The card of a checkpoint of ``config`` with ``meta.json``'s contents ``meta`` (Markdown)."""
    vectors = config.embeddings
    seconds = meta.get("training_seconds")
    facts = [
        ("task", config.task),
        ("labels", ", ".join(labels(meta)) or "none (a score)"),
        ("word vectors", f"{vectors.vectors} ({meta.get('embedding_dim')} dimensions, "
                         f"{'frozen' if vectors.freeze else 'tuned'})"),
        ("seed", config.training.seed),
        ("training data", "train and dev (`training.train_on_dev`: the last epoch kept, no dev selection)"
         if config.training.train_on_dev else "train (the best dev epoch kept)"),
        ("best epoch", f"{meta.get('epoch')} of {config.training.epochs}"),
        ("training time", "training" if seconds is None else f"{seconds:,.1f} s"),
        ("trained on", meta.get("device", "unknown")),
        ("treelstm", meta.get("treelstm_version", "unknown")),
    ]
    dev = "dev (trained on)" if config.training.train_on_dev else "dev"
    lines = [f"# {config.name}", "",
             f"A treelstm {config.task} model. Load it with `treelstm.load(FOLDER)` (`.predict(...)`, `.labels`), "
             "in spaCy with the `treelstm_ner` / `treelstm_textcat` pipeline components, or run "
             "`treelstm predict FOLDER`.", "",
             "| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in facts), "",
             "## Data", "", "```yaml", _yaml(config.data.model_dump(exclude_defaults=True)), "```", "",
             "## Model", "", "```yaml", _yaml(config.model.model_dump(exclude_defaults=True)), "```", "",
             "## Metrics", "", *_metrics_table({dev: meta.get("dev"), **meta.get("metrics", {})}), "",
             "## How it was trained", "",
             "```", meta.get("command", "(still training)"), "```", "",
             "To train it again: `treelstm train config.yaml` (this folder's config, seed included).", ""]
    return "\n".join(lines)


def _yaml(section: dict) -> str:
    return yaml.safe_dump(section, sort_keys=False, allow_unicode=True).rstrip() if section else "{}"


def _metrics_table(splits: dict[str, dict | None]) -> list[str]:
    """A Markdown table: one row per evaluated split, one column per metric (their union, in order)."""
    splits = {name: metrics for name, metrics in splits.items() if metrics}
    if not splits:
        return ["None yet."]
    names = list(dict.fromkeys(key for metrics in splits.values() for key in metrics))
    rows = [f"| {split} | " + " | ".join(_number(metrics.get(key)) for key in names) + " |"
            for split, metrics in splits.items()]
    return ["| split | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|", *rows]


def _number(value) -> str:
    return "" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)
