"""The NER pieces (chains, characters, casing, the tagger) and the ner task end to end on tiny synthetic CoNLL data."""

import json

import pytest
import torch
from torch import nn

from treelstm import cli, trees
from treelstm.models.tagger import SequenceTagger, TaggedBatch
from treelstm.nn.characters import CharCNN, CharLSTM, char_ids
from treelstm.nn.crf import CRF
from treelstm.runner.config import load_config
from treelstm.runner.task import get_task
from treelstm.text.embeddings import Vocabulary


def run(*argv):
    return cli.main([str(a) for a in argv])


def test_chains_equal_batched_chain_trees():
    lengths = [3, 1, 4, 2]
    expected = trees.batch([trees.chain(n) for n in lengths])
    graph = trees.chains(lengths)
    assert [t.tolist() for t in graph.edges()] == [t.tolist() for t in expected.edges()]
    assert graph.batch_num_nodes().tolist() == lengths and graph.edata["slot"].tolist() == [0] * 6
    with pytest.raises(ValueError, match="chain 1 has length 0"):
        trees.chains([2, 0])


def test_characters_any_script_and_each_word_alone():
    ids, lengths = char_ids(["a", "", "日本", "é😀"])
    assert lengths.tolist() == [1, 1, 2, 2] and ids[2].tolist() == [1, 1] and ids[3].tolist() == [235, 1]
    words = ["Peter", "Blackburn", "U.N.", "a"]
    torch.manual_seed(0)
    for encoder in (CharLSTM(6, 5), CharCNN(6, 7)):
        together = encoder(*char_ids(words))
        alone = torch.cat([encoder(*char_ids([w])) for w in words])
        torch.testing.assert_close(together, alone)
        assert together.shape == (4, encoder.out_size)


def tagger(crf=True, fused=True, chars="lstm"):
    torch.manual_seed(0)
    encoder = {"lstm": CharLSTM(4, 3), "cnn": CharCNN(4, 3), None: None}[chars]
    model = SequenceTagger(nn.Embedding(10, 6), 5, hidden_size=4, chars=encoder, casing_dim=2, dropout=0.0,
                           crf=CRF(5) if crf else None, fused=fused)
    return model


SENTENCES = [["Peter", "Blackburn", "lives"], ["BRUSSELS"], ["The", "EU", "rejects", "German", "call"]]
TAGS = [[1, 2, 0], [3], [0, 4, 0, 3, 0]]


def test_tagger_batch_equals_each_sentence_alone_and_fused_equals_cells():
    vocab = Vocabulary(["peter", "the", "eu"])
    for crf in (True, False):
        model, by_cells = tagger(crf), tagger(crf, fused=False)
        batch = TaggedBatch.of(SENTENCES, vocab, TAGS)
        scores = model(batch)
        torch.testing.assert_close(scores, by_cells(batch))
        alone = [model(TaggedBatch.of([s], vocab, [t])) for s, t in zip(SENTENCES, TAGS)]
        torch.testing.assert_close(scores, torch.cat(alone))
        losses = [model.loss(TaggedBatch.of([s], vocab, [t])) for s, t in zip(SENTENCES, TAGS)]
        torch.testing.assert_close(model.loss(batch), torch.stack(losses).mean())
        decoded = model.decode(batch)
        assert decoded.shape == (9,)
        assert decoded.tolist() == torch.cat([model.decode(TaggedBatch.of([s], vocab)) for s in SENTENCES]).tolist()


def test_tagger_learns_the_tags():
    vocab = Vocabulary(["peter", "the", "eu"])
    for crf, chars in ((True, "lstm"), (False, "cnn"), (True, None)):
        model = tagger(crf, chars=chars)
        batch = TaggedBatch.of(SENTENCES, vocab, TAGS)
        assert model.decode(batch).tolist() != sum(TAGS, [])
        optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(150):
            optimizer.zero_grad()
            model.loss(batch).backward()
            optimizer.step()
        assert model.decode(batch).tolist() == sum(TAGS, [])


def test_an_empty_sentence_is_refused():
    with pytest.raises(ValueError, match="empty sentence"):
        TaggedBatch.of([["a"], []], Vocabulary())


def test_metrics_are_entity_level(configs):
    task = get_task(load_config(configs / "ner.yaml"), {"entity_types": ["LOC", "MISC", "ORG", "PER"]})
    task.source_scheme = "iob1"
    from datasets import Dataset

    examples = task.examples(Dataset.from_dict({"tokens": [["Alice", "met", "Bob", "Smith"]],
                                                "tags": [["I-PER", "O", "I-PER", "I-PER"]]}))
    tags = task.tags  # IOBES: O, B-LOC, I-LOC, E-LOC, S-LOC, ...
    assert [tags[i] for i in examples[0].tags] == ["S-PER", "O", "B-PER", "E-PER"]
    perfect = task.metrics(torch.tensor(examples[0].tags), examples)
    assert perfect["f1"] == 1.0 and perfect["f1_PER"] == 1.0
    half = [tags.index(t) for t in ["S-PER", "O", "S-PER", "O"]]  # one entity right, one cut short
    metrics = task.metrics(torch.tensor(half), examples)
    assert metrics["precision"] == 0.5 and metrics["recall"] == 0.5
    with pytest.raises(ValueError, match=r"^dev sentence 1: the entity type 'GPE' is not in the training data "
                                         r"\(LOC, MISC, ORG, PER\)$"):
        task.examples(Dataset.from_dict({"tokens": [["Rome"]], "tags": [["I-GPE"]]}), "dev")


@pytest.fixture
def ner_checkpoint(data_root, configs, tmp_path, capsys):
    assert run("train", configs / "ner.yaml", "--data-dir", data_root, "--runs-dir", tmp_path) == 0
    capsys.readouterr()
    return tmp_path / "tiny-ner" / "seed-1" / "checkpoint"


@pytest.mark.parametrize("overrides", [["model.chars=cnn", "model.tag_scheme=iob2"], ["model.chars=none", "model.crf=false"]])
def test_ner_variants_train(data_root, configs, tmp_path, overrides, capsys):
    args = [a for o in overrides for a in ("--set", o)]
    assert run("train", configs / "ner.yaml", *args, "--data-dir", data_root, "--runs-dir", tmp_path) == 0
    result = json.loads((tmp_path / "tiny-ner" / "seed-1" / "test_metrics.json").read_text())
    assert set(result["test"]) == {"f1", "precision", "recall", "f1_LOC", "f1_MISC", "f1_ORG", "f1_PER"}


def test_ner_train_evaluate_and_predict(ner_checkpoint, data_root, tmp_path, capsys):
    assert run("evaluate", ner_checkpoint, "--split", "dev", "--data-dir", data_root) == 0
    assert 0 <= json.loads(capsys.readouterr().out)["f1"] <= 1

    text = "Alice met Bob Smith in Paris. The UN said so."
    assert run("predict", ner_checkpoint, "--text", text) == 0
    for line in capsys.readouterr().out.splitlines():
        start, end, kind, words = line.split("\t")
        assert text[int(start) : int(end)] == words and kind in ("PER", "LOC", "ORG", "MISC")

    lines = tmp_path / "in.txt"
    lines.write_text(f"{text}\n\nZorblax 北京 😀\n" + "Paris " * 1200 + "\n", encoding="utf-8")
    assert run("predict", ner_checkpoint, "--input", lines, "--format", "json") == 0
    out = capsys.readouterr()
    results = [json.loads(line) for line in out.out.splitlines()]
    assert len(results) == 4 and results[1]["sentences"] == [] and results[1]["entities"] == []
    assert len(results[0]["sentences"]) == 2
    assert sum(len(s) for s in results[3]["sentences"]) == 1200
    assert f"{lines}:2: the text is empty" in out.err and f"{lines}:3: every word of the sentence" in out.err

    assert run("predict", ner_checkpoint, "--input", lines, "--format", "conll", "--output", tmp_path / "o.conll") == 0
    rows = (tmp_path / "o.conll").read_text(encoding="utf-8").split("\n\n")
    assert rows[0].splitlines()[0].split("\t")[0] == "Alice"
    assert rows[2] == "# line 2: empty"  # after line 1's two sentences: the empty line leaves a trace
    assert all(len(r.split("\t")) == 2 for block in rows for r in block.splitlines() if not r.startswith("#"))
    capsys.readouterr()

    assert run("predict", ner_checkpoint, "--text", "   ") == 2
    assert capsys.readouterr().err.strip() == "treelstm: error: --text: the text is empty"
    assert run("predict", ner_checkpoint, "--pair", "a", "b") == 2
    assert "this checkpoint takes texts" in capsys.readouterr().err


def test_python_api_and_spacy_doc(ner_checkpoint):
    import spacy

    from treelstm.runner.predict import load
    from treelstm.text.parsing import set_entities

    tagger = load(ner_checkpoint)
    text = "Alice met Bob Smith in Paris."
    (result,) = tagger([text])
    assert [t["text"] for t in result["sentences"][0]] == ["Alice", "met", "Bob", "Smith", "in", "Paris", "."]
    doc = spacy.blank("en")(text)
    (from_doc,) = tagger([doc])  # a Doc is tagged as it is tokenized
    assert from_doc["entities"] == result["entities"]
    set_entities(doc, from_doc["entities"])
    assert [(e.start_char, e.end_char, e.label_) for e in doc.ents] == [
        (e["start"], e["end"], e["type"]) for e in result["entities"]]


def test_the_docs_python_examples_run(ner_checkpoint, capsys):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "ner.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        assert "runs/conll2003-blstm-crf-charlstm/seed-1/checkpoint" in block
        exec(block.replace("runs/conll2003-blstm-crf-charlstm/seed-1/checkpoint", str(ner_checkpoint)), {})
    assert capsys.readouterr().out.rstrip().endswith("]")  # the spaCy example prints its doc.ents
