"""The model card's pieces (labels from a task state, the command line, a card before training ends) and
how the spaCy tagger merges its entities with a Doc's, as spaCy's entity ruler does."""

import pytest
import spacy

from treelstm.integrations.spacy import merged
from treelstm.runner.card import command_line, labels, render
from treelstm.runner.config import parse_config


@pytest.mark.parametrize("state, expected", [
    ({"entity_types": ["LOC", "PER"]}, ("LOC", "PER")),
    ({"labels": ["negative", "neutral", "positive"], "predicted": [0, 2]}, ("negative", "positive")),
    ({"labels": ["not_paraphrase", "paraphrase"]}, ("not_paraphrase", "paraphrase")),
    ({"score_range": [1, 5]}, ()),
])
def test_labels_of_every_task_state(state, expected):
    assert labels({"task_state": state}) == expected


@pytest.mark.parametrize("argv, expected", [
    (["/venv/bin/treelstm", "train", "my config.yaml"], "treelstm train 'my config.yaml'"),
    (["/src/treelstm/cli.py", "train", "c.yaml"], "treelstm train c.yaml"),  # torchrun -m treelstm.cli
])
def test_the_command_line_as_a_shell_takes_it(monkeypatch, argv, expected):
    monkeypatch.setattr("sys.argv", argv)
    assert command_line() == expected


def test_a_card_while_training():
    config = parse_config({"name": "tiny", "task": "pair-regression", "data": {"format": "sick"},
                           "model": {"cell": "childsum", "hidden_size": 8}}, "config")
    card = render(config, {"task_state": {"score_range": [1, 5]}, "epoch": 1, "embedding_dim": 300,
                           "dev": {"pearson": 0.5}, "treelstm_version": "0.2.0"})
    assert card.startswith("# tiny\n") and "| labels | none (a score) |" in card
    assert "| training time | training |" in card and "(still training)" in card
    assert "| split | pearson |\n|---|---|\n| dev | 0.5000 |" in card
    assert "```yaml\ncell: childsum\nhidden_size: 8\n```" in card


@pytest.mark.parametrize("overwrite, expected", [
    (True, [("Paris", "LOC"), ("Bob Smith", "PER"), ("Acme", "ORG")]),
    (False, [("Paris", "GPE"), ("Bob", "PERSON"), ("Acme", "ORG")]),
])
def test_found_entities_merge_as_the_entity_ruler_merges_matches(overwrite, expected):
    doc = spacy.blank("en")("Paris and Bob Smith at Acme")
    existing = [doc.char_span(0, 5, "GPE"), doc.char_span(10, 13, "PERSON")]
    found = [doc.char_span(0, 5, "LOC"), doc.char_span(10, 19, "PER"), doc.char_span(23, 27, "ORG")]
    doc.ents = merged(existing, found, overwrite)
    assert [(e.text, e.label_) for e in doc.ents] == expected
