"""Users' own data, as a user runs it: data files and a short config in a folder, then ``treelstm train
CONFIG``, ``evaluate``, ``predict``, ``explain``, ``plot``, ``prepare``; and the config errors, generated
over every format, data key, column role and model key the code defines. Every file is written here
into tmp_path (nothing is read from a data root)."""

import json
import random
import re

import datasets
import pytest
import yaml

from treelstm import cli
from treelstm.data.sources import FILE_FORMATS, FORMAT_KEYS
from treelstm.notes import note
from treelstm.runner.task import task_class

DATA = {name: task_class(name).Data for name in ("ner", "classification", "pair-classification", "pair-regression")}
TEXT_TASKS = ["classification", "pair-classification", "pair-regression"]


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """The parse cache in tmp_path, no data root, another working folder, and notes said afresh."""
    monkeypatch.setenv("TREELSTM_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("TREELSTM_DATA", raising=False)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    note.cache_clear()
    yield
    note.cache_clear()


def run(*argv):
    return cli.main([str(a) for a in argv])


def error_of(capsys, *argv) -> str:
    """The one error line of a command that must fail with status 2 (after notes, if any)."""
    assert run(*argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if line.startswith("treelstm: error: ")] == err[-1:], err
    return err[-1].removeprefix("treelstm: error: ")


def write(path, text, encoding="utf-8"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
    return path


# ---------------------------------------------------------------- fixture data: tiny, learnable, seeded

GOOD, BAD = ["happy", "great", "fine", "good"], ["sad", "awful", "poor", "bad"]
NOUNS, VERBS = ["dog", "cat", "man", "film", "park"], ["runs", "sleeps", "plays", "works"]
ENTITIES = [("PER", ["Alice"]), ("PER", ["Bob", "Smith"]), ("LOC", ["Paris"]), ("LOC", ["New", "York"]),
            ("creative-work", ["The", "Matrix"]), ("creative-work", ["Star", "Wars", "Saga"])]
FILLER = ["saw", "visited", "met", "with", "today", "and", "in"]


def vectors(folder, dim=6):
    words = GOOD + BAD + NOUNS + VERBS + FILLER + ["the", "a", "very"]
    rng = random.Random(0)
    rows = [w + " " + " ".join(f"{rng.uniform(-1, 1):.3f}" for _ in range(dim)) for w in words]
    write(folder / "vectors.txt", "\n".join(rows) + "\n")


def sentence(rng, label):
    adjective = rng.choice(GOOD if label == "good" else BAD)
    return f"the {adjective} {rng.choice(NOUNS)} {rng.choice(VERBS)}"


def labelled(n, seed, labels=("good", "bad")):
    rng = random.Random(seed)
    return [(sentence(rng, labels[k % 2]), labels[k % 2]) for k in range(n)]


def ner_sentences(n, seed):
    """Sentences as [(word, type, position in entity, entity length)], with ``None`` type outside."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [(w, None, 0, 0) for w in rng.sample(FILLER, 2)]
        for _ in range(2):
            kind, entity = ENTITIES[rng.randrange(len(ENTITIES))]
            words += [(w, kind, k, len(entity)) for k, w in enumerate(entity)]
            words += [(rng.choice(FILLER), None, 0, 0)]
        out.append(words)
    return out


def ner_tag(kind, k, n, scheme):
    if kind is None:
        return "O"
    if scheme == "iob1":  # no entity directly follows another here: I- throughout
        return f"I-{kind}"
    return f"{'S' if n == 1 else 'B' if k == 0 else 'E' if k == n - 1 else 'I'}-{kind}"


def conll_file(path, n, seed, scheme):
    lines = []
    for words in ner_sentences(n, seed):
        lines += [f"{w}\tNN\t{ner_tag(kind, k, m, scheme)}" for w, kind, k, m in words] + [""]
    write(path, "\n".join(lines))


def ptb(rng, label):
    """A binary PTB tree ``(label (neutral the) (label (label ADJ) (neutral NOUN)))``."""
    adjective = rng.choice(GOOD if label == "positive" else BAD)
    return f"({label} (neutral the) ({label} ({label} {adjective}) (neutral {rng.choice(NOUNS)})))"


def pair_rows(n, seed):
    rng = random.Random(seed)
    rows = []
    for k in range(n):
        a = sentence(rng, "good")
        b = a if k % 3 == 0 else sentence(rng, "good" if k % 3 == 1 else "bad")
        rows.append((a, b, ["entailment", "neutral", "contradiction"][k % 3], [4.5, 3.0, 1.0][k % 3]))
    return rows


def config(folder, name, task, data, model, training="{epochs: 2, batch_size: 4}",
           embeddings="{vectors: vectors.txt, freeze: false}"):
    """A ~6-line config as a user writes it, beside the data files."""
    vectors(folder)
    text = f"name: {name}\ntask: {task}\ndata: {data}\nembeddings: {embeddings}\nmodel: {model}\ntraining: {training}\n"
    return write(folder / f"{name}.yaml", text)


def trained(capsys, cfg, runs, *extra):
    """Train a config; the run folder."""
    assert run("train", cfg, "--runs-dir", runs, *extra) == 0, capsys.readouterr().err
    name = yaml.safe_load(cfg.read_text())["name"]
    return runs / name / "seed-1"


def meta(run_dir):
    return json.loads((run_dir / "checkpoint" / "meta.json").read_text())


def evaluated(capsys, run_dir, split):
    capsys.readouterr()
    assert run("evaluate", run_dir / "checkpoint", "--split", split) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["split"] == split
    return result


def plotted(capsys, run_dir):
    capsys.readouterr()
    assert run("plot", run_dir.parent) == 0
    png = run_dir.parent / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and str(png) in capsys.readouterr().out


def explained(capsys, run_dir, out, *given):
    capsys.readouterr()
    assert run("explain", run_dir / "checkpoint", *given, "--output", out) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1:] == [str(out) + ".svg", str(out) + ".png"]
    assert (out.parent / (out.name + ".svg")).read_text().startswith("<?xml")
    assert (out.parent / (out.name + ".png")).read_bytes()[:4] == b"\x89PNG"
    return printed[0].split("\t")


PROBABILITY = r"(0|1)\.\d{4}"
CLASSIFICATION_METRICS = {"split", "epoch", "accuracy", "macro_f1", "examples_per_second"}


# ---------------------------------------------------------------- 1. end to end, one per task kind and format

def test_ner_from_conll_iobes_with_a_hyphenated_type(tmp_path, capsys):
    folder = tmp_path / "mine"
    for split, n, seed in (("train", 40, 1), ("dev", 8, 2), ("test", 8, 3)):
        conll_file(folder / f"{split}.conll", n, seed, "iobes")
    cfg = config(folder, "my-ner", "ner", "{format: conll, train: train.conll, dev: dev.conll, test: test.conll}",
                 "{hidden_size: 8, chars: none}", "{epochs: 4, batch_size: 4, optimizer: adam, lr: 0.05}")
    run_dir = trained(capsys, cfg, tmp_path / "runs")
    assert "treelstm: data: the training file's tags read as IOBES" in capsys.readouterr().err
    assert meta(run_dir)["task_state"] == {"entity_types": ["LOC", "PER", "creative-work"]}
    for split in ("test", "dev"):
        result = evaluated(capsys, run_dir, split)
        assert set(result) == {"split", "epoch", "f1", "precision", "recall", "examples_per_second",
                               "f1_LOC", "f1_PER", "f1_creative-work"} and 0 <= result["f1"] <= 1
    text = "Alice saw The Matrix in Paris"
    assert run("predict", run_dir / "checkpoint", "--text", text) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines, "the tagger found no entity in its own training sentence"
    for line in lines:
        start, end, kind, words = line.split("\t")
        assert kind in ("LOC", "PER", "creative-work") and text[int(start):int(end)] == words
    assert run("predict", run_dir / "checkpoint", "--text", text, "--format", "json") == 0
    (result,) = map(json.loads, capsys.readouterr().out.splitlines())
    assert result["text"] == text and [t["text"] for t in result["sentences"][0]] == text.split()
    assert ["\t".join([str(e["start"]), str(e["end"]), e["type"], e["text"]]) for e in result["entities"]] == lines
    inputs = write(tmp_path / "texts.txt", "Bob Smith met Alice\n\nStar Wars Saga in New York\n")
    assert run("predict", run_dir / "checkpoint", "--input", inputs) == 0
    assert {line.split("\t")[0] for line in capsys.readouterr().out.splitlines()} <= {"1", "3"}
    plotted(capsys, run_dir)


def test_ner_reads_iob1_tags_as_iob1(tmp_path, capsys):
    folder = tmp_path / "mine"
    for split, n, seed in (("train", 20, 1), ("test", 6, 3)):
        conll_file(folder / f"{split}.txt", n, seed, "iob1")
    cfg = config(folder, "iob1", "ner", "{format: conll, train: train.txt, test: test.txt}",
                 "{hidden_size: 8, chars: none}", "{epochs: 1, batch_size: 8}")
    run_dir = trained(capsys, cfg, tmp_path / "runs")
    err = capsys.readouterr().err
    assert "the training file's tags read as IOB1" in err and "holding out 2 of the 20 training examples" in err
    assert meta(run_dir)["task_state"] == {"entity_types": ["LOC", "PER", "creative-work"]}
    assert {"f1", "precision", "recall"} <= set(evaluated(capsys, run_dir, "test"))
    assert run("prepare", cfg) == 0
    assert capsys.readouterr().out == "iob1: train 18 examples, dev 2 examples, test 6 examples; nothing to cache (no parsing)\n"


def test_classification_from_csv_with_a_header_and_text_labels(tmp_path, capsys):
    folder = tmp_path / "mine"
    for split, n, seed in (("train", 24, 1), ("dev", 8, 2), ("test", 8, 3)):
        rows = [f'"{text}, really",{label}' if k % 4 == 0 else f"{text},{label}"  # a quoted comma
                for k, (text, label) in enumerate(labelled(n, seed))]
        write(folder / f"{split}.csv", "sentence,sentiment\n" + "\n".join(rows) + "\n")
    cfg = config(folder, "my-cls", "classification",
                 "{format: csv, train: train.csv, dev: dev.csv, test: test.csv, "
                 "columns: {text: sentence, label: sentiment}}", "{cell: childsum, hidden_size: 8}")
    run_dir = trained(capsys, cfg, tmp_path / "runs")
    assert "my-cls: test accuracy" in capsys.readouterr().out
    assert meta(run_dir)["task_state"] == {"labels": ["bad", "good"], "predicted": [0, 1]}
    assert set(json.loads((run_dir / "test_metrics.json").read_text())["test"]) == {
        "accuracy", "macro_f1", "f1_bad", "f1_good"}
    for split in ("test", "dev"):
        assert set(evaluated(capsys, run_dir, split)) == CLASSIFICATION_METRICS | {"f1_bad", "f1_good"}
    assert run("predict", run_dir / "checkpoint", "--text", "the happy dog plays") == 0
    assert re.fullmatch(rf"(good|bad)\t{PROBABILITY}\n", capsys.readouterr().out)
    label, probabilities = explained(capsys, run_dir, tmp_path / "why", "--text", "the sad cat sleeps")
    assert label in ("good", "bad") and re.fullmatch(rf"bad {PROBABILITY}, good {PROBABILITY}", probabilities)
    plotted(capsys, run_dir)


def test_classification_from_tsv_with_ptb_trees(tmp_path, capsys):
    folder = tmp_path / "mine"
    for split, n, seed in (("train", 24, 1), ("dev", 8, 2), ("test", 8, 3)):
        rng = random.Random(seed)
        labels = [("positive", "negative")[k % 2] for k in range(n)]
        write(folder / f"{split}.tsv", "tree\tlabel\n" + "".join(f"{ptb(rng, y)}\t{y}\n" for y in labels))
    cfg = config(folder, "my-ptb", "classification",
                 "{format: tsv, train: train.tsv, dev: dev.tsv, test: test.tsv, tree: constituency, "
                 "columns: {text: tree}}", "{cell: nary, hidden_size: 8}")
    run_dir = trained(capsys, cfg, tmp_path / "runs")
    # the phrases' labels are classes too (neutral), but a text is predicted as one seen at training roots
    assert meta(run_dir)["task_state"] == {"labels": ["negative", "neutral", "positive"], "predicted": [0, 2]}
    assert set(evaluated(capsys, run_dir, "test")) == CLASSIFICATION_METRICS | {"f1_negative", "f1_positive"}
    assert run("predict", run_dir / "checkpoint", "--text", "the happy dog") == 0
    assert re.fullmatch(rf"(positive|negative)\t{PROBABILITY}\n", capsys.readouterr().out)
    label, probabilities = explained(capsys, run_dir, tmp_path / "tree",
                                     "--tree", "(positive (neutral the) (positive (positive great) (neutral film)))")
    assert label in ("positive", "negative") and probabilities.count(", ") == 2  # every node's three classes
    plotted(capsys, run_dir)


def test_pair_classification_from_jsonl(tmp_path, capsys):
    folder = tmp_path / "mine"
    for split, n, seed in (("train", 24, 1), ("dev", 9, 2), ("test", 9, 3)):
        rows = [json.dumps({"premise": a, "hypothesis": b, "gold": y, "id": k})
                for k, (a, b, y, _) in enumerate(pair_rows(n, seed))]
        write(folder / f"{split}.jsonl", "\n".join(rows) + "\n")
    cfg = config(folder, "my-nli", "pair-classification",
                 "{format: jsonl, train: train.jsonl, dev: dev.jsonl, test: test.jsonl, "
                 "columns: {text_a: premise, text_b: hypothesis, label: gold}}",
                 "{cell: childsum, hidden_size: 8, head_hidden: 5}")
    run_dir = trained(capsys, cfg, tmp_path / "runs")
    labels = ["contradiction", "entailment", "neutral"]
    assert meta(run_dir)["task_state"] == {"labels": labels}
    for split in ("test", "dev"):
        assert set(evaluated(capsys, run_dir, split)) == CLASSIFICATION_METRICS | {f"f1_{y}" for y in labels}
    assert run("predict", run_dir / "checkpoint", "--pair", "the happy dog runs", "the sad cat sleeps") == 0
    assert re.fullmatch(rf"({'|'.join(labels)})\t{PROBABILITY}\n", capsys.readouterr().out)
    assert run("predict", run_dir / "checkpoint", "--pair", "the happy dog runs", "a dog", "--format", "json") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["label"] in labels and list(result["probabilities"]) == labels and result["warnings"] == []
    label, _ = explained(capsys, run_dir, tmp_path / "pair", "--pair", "the happy dog runs", "the dog runs")
    assert label in labels
    plotted(capsys, run_dir)


def test_pair_regression_from_a_headerless_tsv_with_index_columns(tmp_path, capsys):
    folder = tmp_path / "mine"
    for split, n, seed in (("train", 24, 1), ("dev", 9, 2), ("test", 9, 3)):
        rows = [f"{k}\t{score}\t{a}\t{b}" for k, (a, b, _, score) in enumerate(pair_rows(n, seed))]
        write(folder / f"{split}.tsv", "\n".join(rows) + "\n")
    cfg = config(folder, "my-sts", "pair-regression",
                 "{format: tsv, train: train.tsv, dev: dev.tsv, test: test.tsv, header: false, "
                 "columns: {text_a: 2, text_b: -1, score: 1}}", "{cell: childsum, hidden_size: 8, head_hidden: 5}")
    run_dir = trained(capsys, cfg, tmp_path / "runs")
    assert meta(run_dir)["task_state"] == {"score_range": [1.0, 4.5]}
    for split in ("test", "dev"):
        assert set(evaluated(capsys, run_dir, split)) == {"split", "epoch", "pearson", "spearman", "mse",
                                                          "examples_per_second"}
    assert run("predict", run_dir / "checkpoint", "--pair", "the happy dog runs", "the happy dog runs") == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"\d\.\d{4}\n", out) and 1.0 <= float(out) <= 4.5
    pairs = write(tmp_path / "pairs.tsv", "the sad cat\tthe sad cat\na dog runs\tthe film works\n")
    assert run("predict", run_dir / "checkpoint", "--input", pairs) == 0
    assert all(1.0 <= float(x) <= 4.5 for x in capsys.readouterr().out.split("\n")[:-1])
    label, _ = explained(capsys, run_dir, tmp_path / "sts", "--pair", "the dog runs", "the cat sleeps")
    assert 1.0 <= float(label) <= 4.5
    plotted(capsys, run_dir)


def test_classification_from_a_saved_hf_dataset_dict(tmp_path, capsys):
    folder = tmp_path / "mine"
    features = datasets.Features({"sentence": datasets.Value("string"),
                                  "label": datasets.ClassLabel(names=["positive", "negative"])})
    splits = {}
    for split, n, seed in (("train", 24, 1), ("validation", 8, 2), ("test", 8, 3)):
        rows = labelled(n, seed, ("positive", "negative"))
        splits[split] = datasets.Dataset.from_dict(
            {"sentence": [t for t, _ in rows], "label": [0 if y == "positive" else 1 for _, y in rows]}, features=features)
    datasets.DatasetDict(splits).save_to_disk(str(folder / "saved"))
    cfg = config(folder, "my-hf", "classification",
                 "{format: hf, path: saved, tree: chain, columns: {text: sentence}}",
                 "{cell: lstm, hidden_size: 8, bidirectional: true}")
    run_dir = trained(capsys, cfg, tmp_path / "runs")
    assert "holding out" not in capsys.readouterr().err  # validation is the dev split
    assert meta(run_dir)["task_state"] == {"labels": ["negative", "positive"], "predicted": [0, 1]}
    dev = evaluated(capsys, run_dir, "dev")
    assert set(dev) == CLASSIFICATION_METRICS | {"f1_negative", "f1_positive"}
    assert {k: v for k, v in dev.items() if k not in ("split", "epoch", "examples_per_second")} == meta(run_dir)["dev"]
    assert set(evaluated(capsys, run_dir, "test")) == set(dev)
    inputs = write(tmp_path / "texts.txt", "the great film works\nthe awful man sleeps\n")
    assert run("predict", run_dir / "checkpoint", "--input", inputs, "--format", "json") == 0
    results = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(results) == 2 and all(r["label"] in ("negative", "positive") for r in results)
    capsys.readouterr()
    assert error_of(capsys, "explain", run_dir / "checkpoint", "--text", "the dog").startswith("explain draws")
    plotted(capsys, run_dir)


# ---------------------------------------------------------------- 2. prepare parses once, train reuses it

def test_prepare_prints_the_sizes_and_train_parses_nothing_again(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "mine"
    write(folder / "train.tsv", "text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in labelled(20, 1)))
    write(folder / "test.tsv", "text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in labelled(6, 2)))
    cfg = config(folder, "prep", "classification", "{format: tsv, train: train.tsv, test: test.tsv}",
                 "{cell: childsum, hidden_size: 8}", "{epochs: 1, batch_size: 4}")
    assert run("prepare", cfg) == 0
    out, err = capsys.readouterr()
    cache = tmp_path / "cache" / "datasets"
    assert out == f"prep: train 18 examples, dev 2 examples, test 6 examples; trees cached in {cache}\n"
    assert err.count("holding out 2 of the 20 training examples") == 1
    files = sorted(cache.iterdir())
    assert len([f for f in files if f.name.startswith("trees-")]) == 3

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed again")

    monkeypatch.setattr("treelstm.text.parsing.parse", no_parsing)
    monkeypatch.setattr("treelstm.text.parsing.tokenize", no_parsing)
    trained(capsys, cfg, tmp_path / "runs")
    assert sorted(cache.iterdir()) == files


# ---------------------------------------------------------------- 3. errors, generated over every option

BASE = {  # a valid data section of each format, apart from its files
    "conll": {"train": "t.txt"}, "tsv": {"train": "t.txt"}, "csv": {"train": "t.txt"}, "jsonl": {"train": "t.txt"},
    "hf": {"path": "saved"},
}
NON_DEFAULT = {
    "train": "t.txt", "dev": "d.txt", "test": "e.txt", "path": "saved", "name": "csv", "data_files": "x.csv",
    "columns": None, "header": True, "quoting": "csv", "encoding": "latin-1", "dev_fraction": 0.25,
    "split_seed": 3, "max_train": 5, "tree": "chain", "language": "es", "labels": ["a", "b"],
    "subtask": "binary", "score_range": [0, 1], "tag_scheme": "iob2",
}
MODELS = {"ner": {"hidden_size": 8}, "classification": {"cell": "childsum"},
          "pair-classification": {"cell": "childsum"}, "pair-regression": {"cell": "childsum"}}


def reads(data_class, form):
    keys = FORMAT_KEYS[form] | {"format", "max_train"}
    return keys | {k for k, formats in data_class.own_keys.items() if formats is None or form in formats}


def unread_keys():
    for task, data_class in DATA.items():
        for form in data_class.formats:
            for key in sorted(set(data_class.model_fields) - reads(data_class, form)):
                yield pytest.param(task, form, key, id=f"{task}-{form}-{key}")


def test_the_lists_cover_every_key_and_format():
    assert set(NON_DEFAULT) == {key for c in DATA.values() for key in c.model_fields} - {"format"}
    assert {form for c in DATA.values() for form in c.formats} == set(FORMAT_KEYS)


def config_of(tmp_path, task, data, model=None, name="bad"):
    raw = {"name": name, "task": task, "data": data, "embeddings": {"vectors": "random", "dim": 4},
           "model": model or MODELS[task]}
    return write(tmp_path / f"{name}.yaml", yaml.safe_dump(raw, sort_keys=False))


@pytest.mark.parametrize("task, form, key", list(unread_keys()))
def test_a_key_the_format_does_not_read_is_an_error(tmp_path, capsys, task, form, key):
    value = NON_DEFAULT[key] if key != "columns" else {DATA[task].roles[0]: 0}
    if key == "language" and task != "ner":
        value = "es"
    data = {"format": form, **BASE.get(form, {}), key: value}
    cfg = config_of(tmp_path, task, data)
    listed = ", ".join(sorted(reads(DATA[task], form)))
    assert error_of(capsys, "train", cfg) == (f"{cfg}: data.{key}: format {form} does not read it "
                                              f"(it reads {listed})")


@pytest.mark.parametrize("task, form", [(t, f) for t, c in DATA.items() for f in c.formats if f in BASE])
def test_a_key_at_its_default_is_no_error(tmp_path, task, form):
    from treelstm.runner.config import load_config

    data = {"format": form, **BASE[form], "encoding": "utf-8", "header": "auto", "quoting": "auto", "split_seed": 0}
    load_config(config_of(tmp_path, task, data))  # said, but at their defaults: not an error


@pytest.mark.parametrize("task", DATA)
def test_a_column_role_the_task_does_not_have(tmp_path, capsys, task):
    others = sorted({role for c in DATA.values() for role in c.roles} - set(DATA[task].roles))
    form = DATA[task].formats[0]
    for role in others:
        cfg = config_of(tmp_path, task, {"format": form, **BASE[form], "columns": {role: 1}})
        assert error_of(capsys, "train", cfg) == (f"{cfg}: data.columns.{role}: not a column role of this task "
                                                  f"(its roles: {', '.join(DATA[task].roles)})")


@pytest.mark.parametrize("task, form", [(t, f) for t, c in DATA.items() for f in FORMAT_KEYS if f not in c.formats])
def test_a_format_the_task_does_not_read(tmp_path, capsys, task, form):
    cfg = config_of(tmp_path, task, {"format": form})
    assert error_of(capsys, "train", cfg) == (f"{cfg}: data.format: {form!r} is not a format of this task; "
                                              f"it reads {', '.join(DATA[task].formats)}")


@pytest.mark.parametrize("form", FILE_FORMATS)
def test_a_file_format_needs_train(tmp_path, capsys, form):
    task = "ner" if form == "conll" else "classification"
    cfg = config_of(tmp_path, task, {"format": form, "test": "t.txt"})
    assert error_of(capsys, "train", cfg) == f"{cfg}: data.train: format {form} needs a train file"


@pytest.mark.parametrize("task", DATA)
def test_a_missing_train_file(tmp_path, capsys, task):
    form = "conll" if task == "ner" else "tsv"
    cfg = config_of(tmp_path, task, {"format": form, "train": "nowhere.txt"})
    assert error_of(capsys, "train", cfg, "--runs-dir", tmp_path / "runs") == (
        "data.train: nowhere.txt is not in the config's folder "
        "(no data root: pass --data-dir or set TREELSTM_DATA)")


SPLIT_FILES = {  # a task's training file with labels a, b and a dev/test file with the label c
    "classification": ("tsv", lambda labels: "".join(f"the dog runs\t{y}\n" for y in labels)),
    "pair-classification": ("jsonl", lambda labels: "".join(
        json.dumps({"text_a": "the dog", "text_b": "a cat", "label": y}) + "\n" for y in labels)),
}


@pytest.mark.parametrize("split", ["dev", "test"])
@pytest.mark.parametrize("task", SPLIT_FILES)
def test_a_label_not_in_training(tmp_path, capsys, task, split):
    form, text = SPLIT_FILES[task]
    folder = tmp_path / "mine"
    write(folder / f"train.{form}", ("text\tlabel\n" if form == "tsv" else "") + text(["a", "b"] * 3))
    write(folder / f"other.{form}", ("text\tlabel\n" if form == "tsv" else "") + text(["a", "c", "b"]))
    cfg = config(folder, "labels", task, f"{{format: {form}, train: train.{form}, {split}: other.{form}, tree: chain}}",
                 "{cell: lstm, hidden_size: 8" + (", head_hidden: 4}" if task != "classification" else "}"))
    assert error_of(capsys, "train", cfg, "--runs-dir", tmp_path / "runs") == (
        f"{split} example 2: the label 'c' is not among the training labels (a, b)")


def test_an_entity_type_not_in_training(tmp_path, capsys):
    folder = tmp_path / "mine"
    write(folder / "train.conll", "Alice\tB-PER\nruns\tO\n\nBob\tB-PER\n")
    write(folder / "test.conll", "Alice\tB-PER\n\nParis\tB-LOC\nis\tO\n")
    cfg = config(folder, "types", "ner", "{format: conll, train: train.conll, dev: train.conll, test: test.conll}",
                 "{hidden_size: 8}")
    assert error_of(capsys, "train", cfg, "--runs-dir", tmp_path / "runs") == (
        "test sentence 2: the entity type 'LOC' is not in the training data (PER)")


@pytest.mark.parametrize("form", FILE_FORMATS)
def test_a_file_in_another_encoding(tmp_path, capsys, form):
    task = "ner" if form == "conll" else "classification"
    header = {"tsv": "text\tlabel\n", "csv": "text,label\n"}.get(form, "")
    row = {"conll": "España\tS-LOC\n\n", "tsv": "España gana\ta\n", "csv": "España gana,a\n",
           "jsonl": json.dumps({"text": "España gana", "label": "a"}, ensure_ascii=False) + "\n"}[form]
    folder = tmp_path / "mine"
    path = write(folder / "train.txt", header + row + row, encoding="latin-1")
    tree = "" if task == "ner" else ", tree: chain"
    cfg = config(folder, "latin", task, f"{{format: {form}, train: train.txt, dev: train.txt{tree}}}",
                 "{hidden_size: 8}" if task == "ner" else "{cell: lstm, hidden_size: 8}", "{epochs: 1}")
    assert error_of(capsys, "train", cfg, "--runs-dir", tmp_path / "runs") == (
        f"{path}:{2 if header else 1}:{15 if form == 'jsonl' else 5}: byte 0xf1 is not valid utf-8; if the file "
        "is in another encoding, set data.encoding (e.g. encoding: latin-1)")
    assert run("train", cfg, "--set", "data.encoding=latin-1", "--runs-dir", tmp_path / "runs") == 0


@pytest.mark.parametrize("tree", ["dependency", "constituency", None])
@pytest.mark.parametrize("task", TEXT_TASKS)
def test_a_chain_lstm_over_a_tree(tmp_path, capsys, task, tree):
    cfg = config_of(tmp_path, task, {"format": "tsv", "train": "t.tsv", **({"tree": tree} if tree else {})},
                    {"cell": "lstm"})
    assert error_of(capsys, "train", cfg) == (f"{cfg}: model.cell: lstm is a chain LSTM; set data.tree: chain "
                                              f"(it is {tree or 'dependency'})")


@pytest.mark.parametrize("tree", ["dependency", "chain"])
@pytest.mark.parametrize("task", TEXT_TASKS)
def test_an_nary_cell_over_no_constituency_tree(tmp_path, capsys, task, tree):
    cfg = config_of(tmp_path, task, {"format": "tsv", "train": "t.tsv", "tree": tree}, {"cell": "nary"})
    assert error_of(capsys, "train", cfg) == (f"{cfg}: model.cell: nary takes binary trees; set data.tree: "
                                              f"constituency (it is {tree}) or use cell childsum")


CHAIN_ONLY = {"num_layers": 2, "bidirectional": True, "all_layers": True}


@pytest.mark.parametrize("key", CHAIN_ONLY)
@pytest.mark.parametrize("cell", ["childsum", "nary", "childsum-gru"])
@pytest.mark.parametrize("task", TEXT_TASKS)
def test_chain_only_model_keys_with_a_tree_cell(tmp_path, capsys, task, cell, key):
    cfg = config_of(tmp_path, task, {"format": "tsv", "train": "t.tsv", "tree": "constituency"},
                    {"cell": cell, key: CHAIN_ONLY[key]})
    assert error_of(capsys, "train", cfg) == (f"{cfg}: model.{key}: only the chain LSTM (cell: lstm) reads it, "
                                              f"not cell {cell}")


@pytest.mark.parametrize("cell", ["lstm", "childsum-gru"])
def test_the_output_gate_of_a_cell_without_one(tmp_path, capsys, cell):
    cfg = config_of(tmp_path, "classification", {"format": "tsv", "train": "t.tsv", "tree": "chain"},
                    {"cell": cell, "output_gate": False})
    assert error_of(capsys, "train", cfg) == (f"{cfg}: model.output_gate: only Tree-LSTM cells (childsum, nary, childsum-attentive) "
                                              f"read it, not cell {cell}")


# ---------------------------------------------------------------- 4. labels

def numbered(folder, labels, name="numbers", given=None):
    rows = "".join(f"{k}\ta {'happy' if int(y) % 2 else 'sad'} dog {y}\t{y}\n" for k, y in enumerate(labels))
    write(folder / "train.tsv", rows)
    order = f", labels: {json.dumps(given)}" if given else ""
    return config(folder, name, "classification",
                  f"{{format: tsv, train: train.tsv, dev: train.tsv, header: false, columns: {{text: 1, label: 2}}, "
                  f"tree: chain{order}}}", "{cell: lstm, hidden_size: 8}", "{epochs: 1}")


def test_number_labels_sort_numerically(tmp_path, capsys):
    cfg = numbered(tmp_path / "mine", ["10", "9", "2", "1", "10", "9"] * 2)
    run_dir = trained(capsys, cfg, tmp_path / "runs")
    assert meta(run_dir)["task_state"]["labels"] == ["1", "2", "9", "10"]
    assert set(evaluated(capsys, run_dir, "dev")) == CLASSIFICATION_METRICS | {"f1_1", "f1_2", "f1_9", "f1_10"}


def test_data_labels_set_the_order(tmp_path, capsys):
    cfg = numbered(tmp_path / "mine", ["1", "2", "3"] * 4, given=["3", "1", "2", "4"])
    run_dir = trained(capsys, cfg, tmp_path / "runs")
    assert meta(run_dir)["task_state"] == {"labels": ["3", "1", "2", "4"], "predicted": [0, 1, 2]}
    capsys.readouterr()
    assert run("predict", run_dir / "checkpoint", "--text", "a happy dog", "--format", "json") == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result["probabilities"]) == ["3", "1", "2"] and result["label"] in ("1", "2", "3")


def test_a_training_label_missing_from_data_labels(tmp_path, capsys):
    cfg = numbered(tmp_path / "mine", ["1", "2", "3"] * 4, given=["3", "1"])
    assert error_of(capsys, "train", cfg, "--runs-dir", tmp_path / "runs") == (
        "the label '2' of the training data is not in data.labels (3, 1)")


# ---------------------------------------------------------------- 5. no dev file

def test_the_held_out_dev_is_the_same_every_time_and_said_once(tmp_path, capsys):
    from treelstm.runner.config import load_config
    from treelstm.runner.task import get_task

    folder = tmp_path / "mine"
    write(folder / "train.jsonl", "".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in labelled(30, 1)))
    cfg = config(folder, "held", "classification", "{format: jsonl, train: train.jsonl, tree: chain}",
                 "{cell: lstm, hidden_size: 8}", "{epochs: 2, batch_size: 8}")

    def dev(*overrides):
        note.cache_clear()
        return get_task(load_config(cfg, list(overrides))).read(None, ["dev"], progress=False)["dev"]["text"]

    first = dev()
    assert len(first) == 3 and dev() == first and dev("training.seed=7") == first
    assert dev("data.split_seed=1") != first and len(dev("data.dev_fraction=0.2")) == 6
    capsys.readouterr()
    note.cache_clear()
    run_dir = trained(capsys, cfg, tmp_path / "runs")
    out, err = capsys.readouterr()
    assert err.count("treelstm: data: no dev split given; holding out 3 of the 30 training examples as dev "
                     "(data.dev_fraction 0.1, data.split_seed 0)\n") == 1
    assert "held: dev accuracy" in out  # no test file: the dev metrics are reported
    assert json.loads((run_dir / "test_metrics.json").read_text())["test"] is None
    note.cache_clear()
    result = evaluated(capsys, run_dir, "dev")  # evaluate holds out the same examples
    assert {k: v for k, v in result.items() if k not in ("split", "epoch", "examples_per_second")} == meta(run_dir)["dev"]
    assert error_of(capsys, "evaluate", run_dir / "checkpoint", "--split", "test") == (
        "data: there is no 'test' split (there are: train, dev)")


@pytest.mark.parametrize("task", ["classification", "ner"])
def test_a_label_only_in_the_held_out_dev_is_said_so(tmp_path, capsys, task):
    folder = tmp_path / "mine"  # 20 examples; split_seed 0 holds out examples 10 and 18 (0-based)
    if task == "ner":
        write(folder / "train.txt", "".join(f"{'Paris S-LOC' if k == 10 else 'Bob S-PER'}\nruns O\n\n" for k in range(20)))
        data, model, kind, rare = "{format: conll, train: train.txt}", "{hidden_size: 8}", "entity type", "LOC"
    else:
        write(folder / "train.txt", "".join(f"the dog {k}\t{'rare' if k == 10 else 'ab'[k % 2]}\n" for k in range(20)))
        data = "{format: tsv, train: train.txt, header: false, columns: {text: 0, label: 1}, tree: chain}"
        model, kind, rare = "{cell: lstm, hidden_size: 8}", "label", "rare"
    cfg = config(folder, "rare", task, data, model, "{epochs: 1}")
    assert error_of(capsys, "train", cfg, "--runs-dir", tmp_path / "runs") == (
        f"data: the {kind} {rare!r} is only in the training examples held out as dev (data.dev_fraction 0.1, "
        "data.split_seed 0); give a dev file, more examples of it, or another data.split_seed")
    assert run("train", cfg, "--set", "data.split_seed=1", "--runs-dir", tmp_path / "runs") == 0


def test_hf_data_files_are_read_beside_the_config(tmp_path, capsys):
    folder = tmp_path / "mine"
    for split, n, seed in (("train", 20, 1), ("dev", 6, 2)):
        rows = [json.dumps({"a": a, "b": b, "relatedness": score}) for a, b, _, score in pair_rows(n, seed)]
        write(folder / "files" / f"{split}.json", "\n".join(rows) + "\n")
    cfg = config(folder, "hf-json", "pair-regression",
                 "{format: hf, name: json, data_files: {train: files/train.json, validation: 'files/d*.json'}, "
                 "tree: chain, columns: {text_a: a, text_b: b, score: relatedness}}",
                 "{cell: lstm, hidden_size: 8, head_hidden: 4}", "{epochs: 1}")
    run_dir = trained(capsys, cfg, tmp_path / "runs")  # from another working folder
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["data"]["data_files"] == {
        "train": str(folder / "files" / "train.json"), "validation": str(folder / "files" / "d*.json")}
    assert set(evaluated(capsys, run_dir, "dev")) == {"split", "epoch", "pearson", "spearman", "mse",
                                                      "examples_per_second"}


def test_another_language_is_tokenized_and_read_as_chains(tmp_path, capsys):
    folder = tmp_path / "mine"
    rows = "".join(f"el perro {'feliz' if k % 2 else 'triste'} corre, ¿no?\t{'bien' if k % 2 else 'mal'}\n"
                   for k in range(12))
    write(folder / "train.tsv", "texto\tetiqueta\n" + rows)
    cfg = config(folder, "es", "classification",
                 "{format: tsv, train: train.tsv, dev: train.tsv, language: es, columns: {text: texto, label: etiqueta}}",
                 "{cell: childsum, hidden_size: 8}", "{epochs: 1}")
    run_dir = trained(capsys, cfg, tmp_path / "runs")
    assert ("treelstm: data.language es: texts are tokenized by spacy.blank('es') (no parser here), sentences read "
            "as chains") in capsys.readouterr().err
    assert meta(run_dir)["task_state"] == {"labels": ["bien", "mal"], "predicted": [0, 1]}
    vocab = (run_dir / "checkpoint" / "vocab.txt").read_text().split("\n")
    assert {"¿", "no", "?", ","} <= set(vocab)  # spaCy's Spanish tokens
    label, _ = explained(capsys, run_dir, tmp_path / "es", "--text", "el perro feliz")
    assert label in ("bien", "mal")
