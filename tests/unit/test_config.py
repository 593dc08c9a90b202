"""Config validation: errors name the file, the key and the nearest valid key."""

import pytest

from treelstm.runner.config import ConfigError, load_config


def write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = "name: x\ntask: pair-regression\ndata: {format: sick}\nmodel: {cell: childsum}\n"


def test_a_valid_config_gets_defaults(tmp_path):
    config = load_config(write(tmp_path, BASE))
    assert config.training.lr == 0.05 and config.model.hidden_size == 150 and config.embeddings.freeze


def test_unknown_key_names_file_key_and_nearest_valid_key(tmp_path):
    path = write(tmp_path, BASE.replace("cell: childsum", "cell: childsum, hiden_size: 3"))
    with pytest.raises(ConfigError, match=r"c.yaml: model.hiden_size: unknown key; did you mean 'hidden_size'\?"):
        load_config(path)


def test_unknown_section_and_wrong_type(tmp_path):
    with pytest.raises(ConfigError, match="trainin: unknown key; did you mean 'training'"):
        load_config(write(tmp_path, BASE + "trainin: {lr: 1}\n"))
    with pytest.raises(ConfigError, match="training.lr: Input should be a valid number.*'fast'"):
        load_config(write(tmp_path, BASE + "training: {lr: fast}\n"))
    with pytest.raises(ConfigError, match="model.cell: Input should be 'childsum', 'nary'"):
        load_config(write(tmp_path, BASE.replace("childsum", "treeish")))


def test_missing_key_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="c.yaml: model: required key is missing"):
        load_config(write(tmp_path, "name: x\ntask: pair-regression\ndata: {format: sick}\n"))
    with pytest.raises(ConfigError, match="c.yaml: task: 't' is not a known task \\(known tasks: classification, ner"):
        load_config(write(tmp_path, "name: x\ntask: t\ndata: {format: sick}\n"))
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match=r"c.yaml:2:7: not valid YAML"):
        load_config(write(tmp_path, "name: x\ndata: : [\n"))


def test_overrides(tmp_path):
    config = load_config(write(tmp_path, BASE), ["model.hidden_size=168", "training.epochs=3", "name=y"])
    assert (config.model.hidden_size, config.training.epochs, config.name) == (168, 3, "y")
    with pytest.raises(ConfigError, match="model.hiden_size: unknown key; did you mean 'hidden_size'"):
        load_config(write(tmp_path, BASE), ["model.hiden_size=168"])
    with pytest.raises(ConfigError, match="expected key.path=value"):
        load_config(write(tmp_path, BASE), ["model.hidden_size"])
