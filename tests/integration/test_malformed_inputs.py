"""Every reader and the config loader, driven through ``treelstm train``, against malformed inputs:
each gives exit status 2 and exactly one line naming the file, the line (and column where it
helps) and what was expected. Odd but valid inputs (CRLF, a byte-order mark, any script, one-token
and 1,200-token sentences) train."""

import pytest
from conftest import SST_CONFIG

from treelstm import cli

SICK = "sick/treelstm/dev"
SST = "sst/trees/dev.txt"
MSRP = "msrp/msr_paraphrase_train.txt"
CONLL = "conll2003/eng.testa"
GLOVE = "embeddings/tiny.txt"
MSRP_CONFIG = ("name: tiny-msrp\ntask: pair-classification\ndata: {format: msrp}\nembeddings: {vectors: tiny.txt}\n"
               "model: {cell: childsum, hidden_size: 8}\ntraining: {epochs: 1}\n")
HEADER = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"
NOT_UTF8 = "is not valid utf-8; if the file is in another encoding, set data.encoding (e.g. encoding: latin-1)"


def set_lines(path, changes: dict[int, bytes]):
    """Replace lines (1-based) of a file; a line number past the end appends."""
    lines = path.read_bytes().split(b"\n")
    for k, text in changes.items():
        lines[k - 1 : k] = [text]
    path.write_bytes(b"\n".join(lines))


def sick_sentence(root, toks: bytes, parents: bytes):
    """Line 1 of the SICK dev ``a`` side: its tokens and dependency parents."""
    set_lines(root / SICK / "a.toks", {1: toks})
    set_lines(root / SICK / "a.parents", {1: parents})


def keep_lines(path, count: int):
    path.write_bytes(b"\n".join(path.read_bytes().split(b"\n")[:count]) + b"\n")


# (id, config, corruption of the data root, the message after "treelstm: error: ", with {root} for the data root)
DATA_CASES = [
    # SICK: Tai et al.'s .toks / .parents / sim.txt files
    ("sick-truncated-file", "sick", lambda r: keep_lines(r / SICK / "a.parents", 11),
     "{root}/%s/a.parents: 11 lines, but {root}/%s/id.txt has 12" % (SICK, SICK)),
    ("sick-wrong-column-count", "sick", lambda r: sick_sentence(r, b"a dog runs", b"2 0"),
     "{root}/%s/a.parents:1: expected 3 parents for 3 tokens, found 2" % SICK),
    ("sick-cycle", "sick", lambda r: sick_sentence(r, b"a dog runs", b"0 3 2"),
     "{root}/%s/a.parents:1: cycle: position 2 never reaches the root" % SICK),
    ("sick-several-roots", "sick", lambda r: sick_sentence(r, b"a dog runs", b"0 0 2"),
     "{root}/%s/a.parents:1: several roots: positions 1, 2 all have parent 0" % SICK),
    ("sick-no-root", "sick", lambda r: sick_sentence(r, b"a dog runs", b"2 3 1"),
     "{root}/%s/a.parents:1: no root: no position has parent 0" % SICK),
    ("sick-head-out-of-range", "sick", lambda r: sick_sentence(r, b"a dog runs", b"2 0 7"),
     "{root}/%s/a.parents:1: position 3 has parent 7, outside 0..3" % SICK),
    ("sick-self-head", "sick", lambda r: sick_sentence(r, b"a dog runs", b"2 0 3"),
     "{root}/%s/a.parents:1: cycle: position 3 never reaches the root" % SICK),
    ("sick-head-not-a-number", "sick", lambda r: sick_sentence(r, b"a dog runs", b"2 0 two"),
     "{root}/%s/a.parents:1: position 3: 'two' is not an integer parent" % SICK),
    ("sick-empty-sentence", "sick", lambda r: set_lines(r / SICK / "a.toks", {2: b""}),
     "{root}/%s/a.toks:2: empty sentence, expected tokens" % SICK),
    ("sick-score-nan", "sick", lambda r: set_lines(r / SICK / "sim.txt", {2: b"nan"}),
     "{root}/%s/sim.txt:2: expected a relatedness score in [1, 5], got 'nan'" % SICK),
    ("sick-score-out-of-range", "sick", lambda r: set_lines(r / SICK / "sim.txt", {3: b"6.5"}),
     "{root}/%s/sim.txt:3: expected a relatedness score in [1, 5], got '6.5'" % SICK),
    ("sick-latin-1", "sick", lambda r: sick_sentence(r, b"caf\xe9 au lait", b"0 1 1"),
     "{root}/%s/a.toks:1:4: byte 0xe9 " % SICK + NOT_UTF8),
    ("sick-utf-16", "sick", lambda r: (r / SICK / "sim.txt").write_text("3.5\n" * 12, encoding="utf-16"),
     "{root}/%s/sim.txt:1:1: byte 0xff " % SICK + NOT_UTF8),
    ("sick-empty-files", "sick", lambda r: [f.write_bytes(b"") for f in (r / SICK).iterdir()],
     "{root}/%s/id.txt: no sentence pairs in the file" % SICK),
    ("sick-missing-file", "sick", lambda r: (r / SICK / "b.parents").unlink(),
     "SICK dev: expected the file {root}/%s/b.parents" % SICK),
    # SST: one PTB tree a line
    ("sst-truncated-tree", "sst", lambda r: set_lines(r / SST, {12: b"(3 (2 a) (2"}),
     "{root}/%s:12: offset 9: '(' is never closed" % SST),
    ("sst-unbalanced-close", "sst", lambda r: set_lines(r / SST, {2: b"(3 (2 a) (2 b)))"}),
     "{root}/%s:2: offset 15: ')' closes no open bracket" % SST),
    ("sst-two-trees-on-a-line", "sst", lambda r: set_lines(r / SST, {2: b"(3 (2 a) (2 b)) (2 c)"}),
     "{root}/%s:2: offset 16: text after the end of the tree: '('" % SST),
    ("sst-non-binary", "sst", lambda r: set_lines(r / SST, {4: b"(2 (2 a) (2 b) (2 c))"}),
     "{root}/%s:4: offset 0: node (2 ...) has 3 children; a binary tree needs 2" % SST),
    ("sst-label-out-of-range", "sst", lambda r: set_lines(r / SST, {3: b"(7 (2 a) (2 b))"}),
     "{root}/%s:3: sentiment labels must be 0-4, got '7'" % SST),
    ("sst-label-not-a-number", "sst", lambda r: set_lines(r / SST, {3: b"(x (2 a) (2 b))"}),
     "{root}/%s:3: sentiment labels must be 0-4, got 'x'" % SST),
    ("sst-blank-line", "sst", lambda r: set_lines(r / SST, {3: b""}),
     "{root}/%s:3: empty tree: no brackets in the text" % SST),
    ("sst-latin-1", "sst", lambda r: set_lines(r / SST, {2: b"(2 (2 caf\xe9) (2 x))"}),
     "{root}/%s:2:10: byte 0xe9 " % SST + NOT_UTF8),
    ("sst-empty-file", "sst", lambda r: (r / SST).write_bytes(b""),
     "{root}/%s: no trees in the file" % SST),
    # MSRP: a header, then 5 tab-separated fields
    ("msrp-empty-file", "msrp", lambda r: (r / MSRP).write_bytes(b""),
     "{root}/%s:1: expected the header %r" % (MSRP, HEADER)),
    ("msrp-header-only", "msrp", lambda r: keep_lines(r / MSRP, 1),
     "{root}/%s: no sentence pairs in the file" % MSRP),
    ("msrp-wrong-column-count", "msrp", lambda r: set_lines(r / MSRP, {3: b"1\t7\t8\tA dog runs."}),
     "{root}/%s:3: expected 5 tab-separated fields, found 4" % MSRP),
    ("msrp-label", "msrp", lambda r: set_lines(r / MSRP, {3: b"yes\t7\t8\tA dog runs.\tA dog ran."}),
     "{root}/%s:3: the label must be 0 or 1, got 'yes'" % MSRP),
    ("msrp-latin-1", "msrp", lambda r: set_lines(r / MSRP, {4: b"1\t7\t8\tA caf\xe9.\tA dog ran."}),
     "{root}/%s:4:12: byte 0xe9 " % MSRP + NOT_UTF8),
    # CoNLL-2003: 4 space-separated columns, IOB1 tags
    ("conll-wrong-column-count", "ner", lambda r: set_lines(r / CONLL, {3: b"dog NN O"}),
     "{root}/%s:3: expected 4 space-separated columns (word POS chunk NE), found 3" % CONLL),
    ("conll-truncated-file", "ner", lambda r: set_lines(r / CONLL, {3: b"Alice NNP"}),
     "{root}/%s:3: expected 4 space-separated columns (word POS chunk NE), found 2" % CONLL),
    ("conll-bad-tag", "ner", lambda r: set_lines(r / CONLL, {3: b"Alice NNP I-NP X-PER"}),
     "{root}/%s:3: expected an IOB1 NE tag (O, I-TYPE or B-TYPE), found 'X-PER'" % CONLL),
    ("conll-unknown-entity-type", "ner", lambda r: set_lines(r / CONLL, {3: b"Rome NNP I-NP I-GPE"}),
     "dev sentence 1: the entity type 'GPE' is not in the training data (LOC, MISC, ORG, PER)"),
    ("conll-latin-1", "ner", lambda r: set_lines(r / CONLL, {3: b"Zo\xeb NNP I-NP I-PER"}),
     "{root}/%s:3:3: byte 0xeb " % CONLL + NOT_UTF8),
    ("conll-empty-file", "ner", lambda r: (r / CONLL).write_bytes(b""),
     "{root}/%s: no sentences in the file" % CONLL),
    # GloVe: word and numbers, one vector a line
    ("glove-nan", "sick", lambda r: set_lines(r / GLOVE, {2: b"dog 0.1 nan 0.3 0.4 0.5 0.6"}),
     "{root}/%s:2: the vector holds NaN or Inf" % GLOVE),
    ("glove-inf", "sick", lambda r: set_lines(r / GLOVE, {2: b"dog 0.1 0.2 -inf 0.4 0.5 0.6"}),
     "{root}/%s:2: the vector holds NaN or Inf" % GLOVE),
    ("glove-short-vector", "sick", lambda r: set_lines(r / GLOVE, {2: b"dog 0.1 0.2 0.3 0.4 0.5"}),
     "{root}/%s:2: expected a word and 6 numbers (as on line 1), found 5 numbers" % GLOVE),
    ("glove-long-vector", "sick", lambda r: set_lines(r / GLOVE, {2: b"dog 0.1 0.2 0.3 0.4 0.5 0.6 0.7"}),
     "{root}/%s:2: expected a word and 6 numbers (as on line 1), found 7 numbers" % GLOVE),
    ("glove-wrong-first-line", "sick", lambda r: set_lines(r / GLOVE, {1: b"the 0.1 0.2 0.3"}),
     "{root}/%s:2: expected a word and 3 numbers (as on line 1), found 6 numbers" % GLOVE),
    ("glove-not-a-number", "sick", lambda r: set_lines(r / GLOVE, {2: b"dog 0.1 0.2 abc 0.4 0.5 0.6"}),
     "{root}/%s:2: field 4 is 'abc', not a number" % GLOVE),
    ("glove-truncated-file", "sick", lambda r: set_lines(r / GLOVE, {12: b"sad 0.1 0.2 0.3 0.4 0.5 "}),
     "{root}/%s:12: expected a word and 6 numbers (as on line 1), found 5 numbers" % GLOVE),
    ("glove-latin-1", "sick", lambda r: set_lines(r / GLOVE, {2: b"caf\xe9 0.1 0.2 0.3 0.4 0.5 0.6"}),
     "{root}/%s:2:4: not valid UTF-8 (invalid continuation byte)" % GLOVE),
    ("glove-empty-file", "sick", lambda r: (r / GLOVE).write_bytes(b""),
     "{root}/%s: empty file, no vectors" % GLOVE),
]


@pytest.mark.parametrize("config, corrupt, message", [case[1:] for case in DATA_CASES],
                         ids=[case[0] for case in DATA_CASES])
def test_malformed_data_is_one_line_and_exit_2(data_root, configs, tmp_path, capsys, config, corrupt, message):
    (configs / "msrp.yaml").write_text(MSRP_CONFIG, encoding="utf-8")
    corrupt(data_root)
    assert cli.main(["train", str(configs / f"{config}.yaml"), "--data-dir", str(data_root),
                     "--runs-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == f"treelstm: error: {message.format(root=data_root)}\n"


GOOD = SST_CONFIG.encode()

# (id, the config file's bytes, --set overrides, the message after "treelstm: error: {config}")
CONFIG_CASES = [
    ("unclosed-bracket", GOOD.replace(b"{epochs: 2,", b"{epochs: 2"), [],
     ":7:32: not valid YAML (expected ',' or '}', but got ':')"),
    ("tab-indent", GOOD.replace(b"task:", b"\ttask:"), [],
     ":3:1: not valid YAML (found character '\\t' that cannot start any token)"),
    ("duplicate-key", GOOD + b"name: again\n", [], ":8:1: not valid YAML (the key 'name' is given twice)"),
    ("python-object", GOOD + b"x: !!python/object/apply:os.system ['touch marker']\n", [],
     ":8:4: not valid YAML (could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/object/apply:os.system')"),
    ("latin-1", GOOD.replace(b"tiny-sst", b"tiny-s\xe9t"), [], ":2:13: byte 0xe9 " + NOT_UTF8),
    ("utf-16", SST_CONFIG.encode("utf-16"), [], ":1:1: byte 0xff " + NOT_UTF8),
    ("empty-file", b"", [], ": the config is empty; it needs at least name, task, data and model"),
    ("a-list", b"- name\n- task\n", [], ": a config is a mapping of sections, got list"),
    ("missing-keys", b"name: x\n", [],
     ": task: required key is missing"),
    ("missing-sections", b"name: x\ntask: ner\n", [], ": data: required key is missing; model: required key is missing"),
    ("wrong-type", GOOD.replace(b"hidden_size: 8", b"hidden_size: big"), [],
     ": model.hidden_size: Input should be a valid integer, unable to parse string as an integer (got 'big')"),
    ("out-of-range", GOOD.replace(b"hidden_size: 8", b"hidden_size: -3"), [],
     ": model.hidden_size: Input should be greater than 0 (got -3)"),
    ("unknown-key", GOOD.replace(b"hidden_size: 8", b"hiden_size: 8"), [],
     ": model.hiden_size: unknown key; did you mean 'hidden_size'?"),
    ("set-wrong-type", GOOD, ["--set", "training.lr=fast"],
     ": training.lr: Input should be a valid number, unable to parse string as a number (got 'fast')"),
]


@pytest.mark.parametrize("text, overrides, message", [case[1:] for case in CONFIG_CASES],
                         ids=[case[0] for case in CONFIG_CASES])
def test_malformed_configs_are_one_line_and_exit_2(data_root, tmp_path, capsys, text, overrides, message):
    config = tmp_path / "config.yaml"
    config.write_bytes(text)
    assert cli.main(["train", str(config), *overrides, "--data-dir", str(data_root),
                     "--runs-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err == f"treelstm: error: {config}{message}\n"
    assert not (tmp_path / "marker").exists()


def test_odd_but_valid_inputs_train(data_root, configs, tmp_path, capsys):
    """CRLF line ends, a byte-order mark, words in many scripts, a 1-token and a 1,200-token sentence."""
    path = data_root / SST
    long = b"(2 (2 w) (2 w))"
    for _ in range(1200 - 2):  # each wrap adds a token
        long = b"(2 (2 w) " + long + b")"
    set_lines(path, {1: "(4 (3 Überraschend) (4 (2 好) (2 (2 مرحبا) (2 (2 🙂) (2 привет)))))".encode(),
                     2: b"(1 alone)", 3: long})
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))
    assert cli.main(["train", str(configs / "sst.yaml"), "--data-dir", str(data_root),
                     "--runs-dir", str(tmp_path)]) == 0
    vocab = (tmp_path / "tiny-sst" / "seed-1" / "checkpoint" / "vocab.txt").read_text(encoding="utf-8").split("\n")
    assert {"Überraschend", "好", "مرحبا", "🙂", "привет", "alone"} <= set(vocab)
