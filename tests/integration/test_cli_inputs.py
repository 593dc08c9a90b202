"""The command line's own values, generated from the parser: every whole-number option given 0, -1 and
``x``, every path argument given a path of the wrong kind (a folder for a file, a file for a folder, a
missing parent folder for an output, an unreadable or unwritable path). Each is exit status 2 and one
line ``treelstm: error: argument NAME: ...`` (:class:`treelstm.cli._Parser`) before anything runs.
Then predict's input and output, the warnings' length, and a single seed's summary."""

import argparse
import os

import pytest

from treelstm import cli
from treelstm.errors import UserError
from treelstm.runner.tables import render_table

# options that take a value but are neither a number nor a path: free text, checked by their command
TEXT_OPTIONS = {"set", "split", "pair", "text", "tree", "metric", "table", "format", "device"}


def commands(parser=None, prefix=()):
    """(argv prefix, sub-parser) of every command that runs, e.g. (("demo", "long-dependency"), parser)."""
    parser = parser or cli.build_parser()
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                inner = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
                found += commands(sub, (*prefix, name)) if inner else [((*prefix, name), sub)]
    return found


def valued(parser):
    """The parser's actions that take a value (not --help, --debug and other switches)."""
    return [a for a in parser._actions if a.nargs != 0 and not isinstance(a, argparse._SubParsersAction)]


COMMANDS = commands()
INT_CASES = [(argv, a.option_strings[0], a.type.minimum) for argv, p in COMMANDS for a in valued(p)
             if isinstance(a.type, cli.IntArg)]
PATH_CASES = [(argv, a.option_strings[0] if a.option_strings else a.metavar, a.type) for argv, p in COMMANDS
              for a in valued(p) if isinstance(a.type, cli.PathArg)]


def name(case):
    return " ".join(case[0]) + " " + case[1]


@pytest.fixture
def places(tmp_path, monkeypatch):
    """A working folder with a file ``f.yaml`` and a folder ``d``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "f.yaml").write_text("name: x\n", encoding="utf-8")
    (tmp_path / "d").mkdir()
    return tmp_path


def valid_argv(argv, parser, but=None):
    """``argv`` with every required positional given a valid value (except ``but``)."""
    positional = []
    for action in valued(parser):
        if action.option_strings or action is but or action.nargs == "?":
            continue
        kind = getattr(action.type, "kind", None)
        positional.append({"file": "f.yaml", "folder": "d"}.get(kind, "x"))
    return [*argv, *positional]


def parser_of(argv):
    return dict(COMMANDS)[tuple(argv)]


def one_error_line(capsys, start: str) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"treelstm: error: {start}"), captured.err
    return lines[0]


def test_every_value_option_is_a_number_a_path_or_named_text():
    """Adding an option without a kind (IntArg, PathArg) or a place in TEXT_OPTIONS fails here."""
    assert len(COMMANDS) == 8 and len(INT_CASES) >= 10 and len(PATH_CASES) >= 15
    for argv, parser in COMMANDS:
        for action in valued(parser):
            if action.type is None:
                assert action.dest in TEXT_OPTIONS, (argv, action.dest)
            else:
                assert isinstance(action.type, (cli.IntArg, cli.PathArg)), (argv, action.dest)
            if any(word in action.dest for word in ("dir", "output", "input", "config", "checkpoint", "resume")):
                assert isinstance(action.type, cli.PathArg), (argv, action.dest)


@pytest.mark.parametrize("argv, option, minimum", INT_CASES, ids=map(name, INT_CASES))
def test_whole_number_options_are_checked(places, capsys, argv, option, minimum):
    parser = parser_of(argv)
    base = valid_argv(argv, parser)
    for value in ("x", "1.5", "", str(minimum - 1), "-1"):
        if value.lstrip("-").isdigit() and int(value) >= minimum:
            continue
        assert cli.main([*base, option, value]) == 2
        line = one_error_line(capsys, f"argument {option}: ")
        assert (f"must be at least {minimum}, got" in line) if value.lstrip("-").isdigit() else \
            f"expected a whole number, got {value!r}" in line
    assert getattr(cli.build_parser().parse_args([*base, option, str(minimum)]), parser_of(argv)._option_string_actions[
        option].dest) == minimum


@pytest.mark.parametrize("argv, option, kind", PATH_CASES, ids=map(name, PATH_CASES))
def test_path_arguments_of_the_wrong_kind(places, capsys, monkeypatch, argv, option, kind):
    parser = parser_of(argv)
    action = next(a for a in valued(parser) if option in (a.metavar, *a.option_strings))
    base = valid_argv(argv, parser, but=None if action.option_strings else action)

    def refused(value, message):
        given = [*base, option, value] if action.option_strings else [*argv, value, *base[len(argv):]]
        assert cli.main(given) == 2, given
        line = one_error_line(capsys, f"argument {option}: ")
        assert message in line, line
        assert "Errno" not in line and "Traceback" not in line

    if kind.kind == "file":
        refused("d", "d is a folder, expected a file")
        refused("missing.yaml", "missing.yaml does not exist, expected a file")
    elif kind.kind == "folder":
        refused("f.yaml", "f.yaml is a file, expected a folder")
        refused("missing", "missing does not exist, expected a folder")
    elif kind.kind == "output":
        written = places / ("out" + (kind.suffixes[0] if kind.suffixes else ""))
        written.mkdir()
        refused("out", f"{written.name} is a folder, expected a file to write")
        refused("nope/out.png", "the folder nope does not exist; create it first")
        refused("f.yaml/out.png", "f.yaml is a file, expected a folder")
    else:  # runs: created when missing, so only a file in the way is wrong
        refused("f.yaml", "f.yaml is a file, expected a folder")
        refused("f.yaml/runs", "f.yaml is a file, expected a folder (to hold f.yaml/runs)")
        assert kind("new/runs") == "new/runs" and not (places / "new").exists()
    refused("", "got an empty one")
    # as root, chmod cannot take the right away: os.access says no for the one path (an output's folder)
    (places / "g.yaml").write_text("name: y\n", encoding="utf-8")
    (places / "e").mkdir()
    given, denied = {"file": ("g.yaml", "g.yaml"), "folder": ("e", "e"), "output": ("e/o", "e"),
                     "runs": ("e", "e")}[kind.kind]
    access = os.access
    monkeypatch.setattr(cli.os, "access", lambda path, mode: str(path) != denied and access(path, mode))
    refused(given, "permission denied")


def test_set_values_and_a_bad_data_root_are_one_line(places, capsys, monkeypatch):
    assert cli.main(["train", "f.yaml", "--set", "training.lr=["]) == 2
    assert one_error_line(capsys, "--set 'training.lr=[': the value is not valid YAML")
    assert cli.main(["train", "f.yaml", "--set", "training.lr"]) == 2
    assert one_error_line(capsys, "--set 'training.lr': expected key.path=value")
    monkeypatch.setenv("TREELSTM_DATA", "f.yaml")  # the environment's data root is checked where it is used
    with pytest.raises(UserError, match=r"^\$TREELSTM_DATA: f.yaml is a file, expected the data root folder$"):
        cli._data_root(argparse.Namespace(data_dir=None))


def test_an_os_error_the_checks_cannot_see_is_one_line(places, capsys, monkeypatch):
    """A path inside a folder given (a checkpoint's file) that the system refuses: no [Errno], no traceback."""

    def refuse(args):
        raise PermissionError(13, "Permission denied", "d/model.safetensors")

    monkeypatch.setattr(cli, "_cmd_evaluate", refuse)
    assert cli.main(["evaluate", "d"]) == 2
    assert one_error_line(capsys, "d/model.safetensors: permission denied")


@pytest.mark.parametrize("spelling", ["same", "./same", "link", "hardlink", "sub/../same"])
def test_predict_never_writes_over_its_input(places, capsys, spelling):
    (places / "same").write_text("a text\n", encoding="utf-8")
    (places / "sub").mkdir()
    os.symlink(places / "same", places / "link")
    os.link(places / "same", places / "hardlink")
    assert cli.main(["predict", "d", "--input", "same", "--output", spelling]) == 2
    assert one_error_line(capsys, f"--output {spelling}: that is the --input file")
    assert (places / "same").read_text(encoding="utf-8") == "a text\n"


def test_long_warnings_are_shortened(capsys):
    warning = "every word of the sentence '" + " ".join(["Zorblax"] * 5000) + "' is unknown to the model"
    cli._warn([{"warnings": [warning, "short"]}], lambda k: "in.txt:1")
    first, second = capsys.readouterr().err.splitlines()
    assert len(first) < 260 and "..." in first and first.endswith("' is unknown to the model")
    assert first.startswith("treelstm: warning: in.txt:1: every word of the sentence 'Zorblax Zorblax")
    assert second == "treelstm: warning: in.txt:1: short"


def test_ner_predict_long_input_empty_line_and_existing_output(data_root, configs, tmp_path, capsys):
    assert cli.main(["train", str(configs / "ner.yaml"), "--data-dir", str(data_root),
                     "--runs-dir", str(tmp_path)]) == 0
    summary = capsys.readouterr().out
    assert "(0.0000)" not in summary and "(one seed, no std)" in summary
    checkpoint = str(tmp_path / "tiny-ner" / "seed-1" / "checkpoint")
    given = tmp_path / "in.txt"
    given.write_text("Alice met Bob.\n\n" + " ".join(["Zorblax"] * 5000) + "\n", encoding="utf-8")
    out = tmp_path / "out.conll"
    out.write_text("an older file the user names as the output\n", encoding="utf-8")
    assert cli.main(["predict", checkpoint, "--input", str(given), "--format", "conll", "--output", str(out)]) == 0
    warnings = capsys.readouterr().err.splitlines()
    assert [w for w in warnings if "every word" in w and len(w) > 260 + len(str(given))] == []
    assert any(w.startswith(f"treelstm: warning: {given}:3: every word of the sentence") for w in warnings)
    blocks = out.read_text(encoding="utf-8").split("\n\n")
    assert blocks[0].splitlines()[0].startswith("Alice\t") and blocks[1] == "# line 2: empty"
    assert "older" not in out.read_text(encoding="utf-8")


def test_one_seed_has_no_standard_deviation():
    table = {"title": "t", "metrics": ["accuracy"], "source": "s"}
    run = {"test": {"accuracy": 0.5}, "epoch_seconds": 1.0, "wall_seconds": 2.0}
    one = render_table(table, [{"name": "row", "paper": {"accuracy": [0.6, 0.01]}}], [[run]], 1)
    assert "| row | 0.5000 | 0.6000 (0.0100) |" in one and "(0.0000)" not in one and "one seed per row" in one
    two = render_table(table, [{"name": "row"}], [[run, run | {"test": {"accuracy": 0.7}}]], 2)
    assert "| row | 0.6000 (0.1414) | — |" in two and "over 2 seed(s)" in two
