"""``treelstm demo long-dependency``: four models on subject-verb agreement across growing distances.

For each seed, one stream of training batches (distances drawn uniformly from
``min_distance..max_distance``) and one test set (``test_size`` sentences at each of
``test_distances``, most of them outside the training range) are generated, and every model of
:data:`~treelstm.demo.models.MODELS` is trained on the same batches with the same budget
(Adam, gradient norm clipped), then measured:

* accuracy at each test distance;
* the gradient reaching the first token (:func:`~treelstm.demo.gradients.first_token_gradient`,
  in float64 so that tiny values do not round to zero), at initialisation and after training, on
  the first ``gradient_size`` test sentences of each distance, with the same random directions.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from treelstm.demo.agreement import generate
from treelstm.demo.gradients import first_token_gradient
from treelstm.demo.models import MODELS, AgreementBatch, AgreementModel
from treelstm.errors import UserError

__all__ = ["Settings", "run", "buckets", "table"]


@dataclass(frozen=True)
class Settings:
    """Everything the demonstration depends on; the defaults are what ``docs/long_dependency.md`` shows."""

    embedding_size: int = 16
    hidden_size: int = 32
    steps: int = 600
    batch_size: int = 64
    lr: float = 0.01
    clip: float = 1.0
    min_distance: int = 4
    max_distance: int = 24
    test_distances: tuple[int, ...] = tuple(range(0, 73, 4))
    test_size: int = 200
    gradient_size: int = 64
    seeds: tuple[int, ...] = (1, 2, 3)
    models: tuple[str, ...] = field(default=tuple(MODELS))

    def __post_init__(self):
        if not 0 <= self.min_distance <= self.max_distance:
            raise UserError(f"need 0 <= min distance <= max distance, got {self.min_distance}, {self.max_distance}")
        if min(self.steps, self.batch_size, self.test_size, self.gradient_size, len(self.seeds)) < 1:
            raise UserError("steps, batch size, test size, gradient size and the number of seeds must be positive")
        if self.gradient_size > self.test_size:
            raise UserError(f"gradient size {self.gradient_size} exceeds the test size {self.test_size}")
        unknown = set(self.models) - set(MODELS)
        if unknown:
            raise UserError(f"unknown model(s) {', '.join(sorted(unknown))}; known: {', '.join(MODELS)}")

    def quick(self) -> "Settings":
        """A few seconds' version (one seed, tiny sizes): checks the pipeline, shows nothing."""
        return replace(self, hidden_size=8, embedding_size=4, steps=5, batch_size=8, min_distance=min(self.min_distance, 2),
                       max_distance=min(self.max_distance, 4), test_distances=(0, 4, 8), test_size=8,
                       gradient_size=4, seeds=self.seeds[:1])


def _train(model: AgreementModel, batches: list[AgreementBatch], settings: Settings, bar: tqdm) -> float:
    """Adam on the cross-entropy, gradient norm clipped; returns the seconds it took."""
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    start = time.perf_counter()
    model.train()
    for batch in batches:
        loss = F.cross_entropy(model(batch), batch.labels)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), settings.clip)
        optimizer.step()
        bar.update()
    return time.perf_counter() - start


@torch.no_grad()
def _accuracy(model: AgreementModel, tests: dict[int, AgreementBatch]) -> list[float]:
    model.eval()
    return [float((model(batch).argmax(1) == batch.labels).double().mean()) for batch in tests.values()]


def _gradients(model: AgreementModel, probes: dict[int, AgreementBatch], seed: int) -> list[float]:
    """Mean first-token gradient norm at each distance, in float64; the directions depend only on
    (seed, distance), so a model is probed the same way before and after training."""
    model = copy.deepcopy(model).double()
    means = []
    for d, batch in probes.items():
        norms = first_token_gradient(lambda x: model.encode(x, batch), model.embedding(batch.ids), batch.first,
                                     torch.Generator().manual_seed(seed * 100_003 + d))
        means.append(float(norms.mean()))
    return means


def run(settings: Settings, progress: bool = True) -> dict:
    """Train and measure every model for every seed.

    Returns:
        ``{"settings": ..., "models": {name: {"accuracy", "gradient_init", "gradient_trained":
        (seeds, distances) lists, "train_seconds": (seeds,)}}, "seconds": total}``.
    """
    start = time.perf_counter()
    out = {name: {"accuracy": [], "gradient_init": [], "gradient_trained": [], "train_seconds": []}
           for name in settings.models}
    total = settings.steps * len(settings.models) * len(settings.seeds)
    with tqdm(total=total, desc="long-dependency", unit="step", disable=not progress) as bar:
        for seed in settings.seeds:
            rng = np.random.default_rng(seed)
            bar.set_postfix_str(f"seed {seed}: data")
            train = [AgreementBatch.of(generate(rng.integers(settings.min_distance, settings.max_distance + 1,
                                                             settings.batch_size), rng))
                     for _ in range(settings.steps)]
            tests = {d: AgreementBatch.of(generate([d] * settings.test_size, rng)) for d in settings.test_distances}
            probes = {d: AgreementBatch.of(list(batch.examples[: settings.gradient_size])) for d, batch in tests.items()}
            for name in settings.models:
                bar.set_postfix_str(f"seed {seed}: {name}")
                torch.manual_seed(seed)
                model = AgreementModel(name, settings.embedding_size, settings.hidden_size)
                record = out[name]
                record["gradient_init"].append(_gradients(model, probes, seed))
                record["train_seconds"].append(round(_train(model, train, settings, bar), 2))
                record["accuracy"].append(_accuracy(model, tests))
                record["gradient_trained"].append(_gradients(model, probes, seed))
    return {"settings": asdict(settings), "models": out, "seconds": round(time.perf_counter() - start, 1)}


def buckets(settings: dict) -> list[tuple[str, list[int]]]:
    """Test distances grouped: shorter than trained, trained, up to twice the longest trained, beyond."""
    lo, hi = settings["min_distance"], settings["max_distance"]
    groups = [("shorter than trained", lambda d: d < lo), ("trained", lambda d: lo <= d <= hi),
              ("beyond, up to 2x", lambda d: hi < d <= 2 * hi), ("beyond 2x", lambda d: d > 2 * hi)]
    out = []
    for label, inside in groups:
        ds = [d for d in settings["test_distances"] if inside(d)]
        if ds:
            out.append((f"{label} ({ds[0]}-{ds[-1]})" if len(ds) > 1 else f"{label} ({ds[0]})", ds))
    return out


def table(results: dict) -> str:
    """Markdown: each model's accuracy per bucket of test distances, mean (min-max) over seeds."""
    settings = results["settings"]
    groups = buckets(settings)
    lines = ["| model | " + " | ".join(label for label, _ in groups) + " | train s/seed |",
             "|---|" + "---:|" * (len(groups) + 1)]
    for name, record in results["models"].items():
        acc = np.array(record["accuracy"])  # (seeds, distances)
        cells = []
        for _, ds in groups:
            per_seed = acc[:, [settings["test_distances"].index(d) for d in ds]].mean(axis=1)
            spread = f" ({per_seed.min():.2f}-{per_seed.max():.2f})" if len(per_seed) > 1 else ""
            cells.append(f"{per_seed.mean():.2f}{spread}")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {np.mean(record['train_seconds']):.0f} |")
    return "\n".join(lines) + "\n"
