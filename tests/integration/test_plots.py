"""treelstm plot: one run's seeds, several runs overlaid (a colour per run), metric selection."""

import json
import subprocess
import sys

import pytest

from treelstm import cli
from treelstm.viz.plots import curves


def run(*argv):
    return cli.main([str(a) for a in argv])


def write_run(folder, seeds, metric="dev_accuracy", epochs=3):
    """A run folder as training leaves it: seed-K/metrics.jsonl, one line per epoch."""
    for seed in range(1, seeds + 1):
        (folder / f"seed-{seed}").mkdir(parents=True)
        lines = [json.dumps({"epoch": e, "train_loss": 1 / (e + seed), metric: e / 10 + seed / 100})
                 for e in range(1, epochs + 1)]
        (folder / f"seed-{seed}" / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def colours(ax):
    return [line.get_color() for line in ax.get_lines()]


def test_one_run_is_a_line_and_colour_per_seed(tmp_path):
    fig = curves([write_run(tmp_path / "dep", seeds=2)])
    assert [ax.get_title() for ax in fig.axes] == ["train loss", "dev accuracy"]
    for ax in fig.axes:
        assert len(ax.get_lines()) == 2 and len(set(colours(ax))) == 2
    assert [t.get_text() for t in fig.axes[-1].get_legend().get_texts()] == ["seed-1", "seed-2"]
    assert fig._suptitle.get_text() == "dep"


def test_several_runs_overlaid_a_colour_per_run(tmp_path):
    runs = [write_run(tmp_path / "dep", seeds=1), write_run(tmp_path / "dep-200", seeds=1)]
    fig = curves(runs)
    for ax in fig.axes:
        assert len(ax.get_lines()) == len(runs) and len(set(colours(ax))) == len(runs)
    assert [t.get_text() for t in fig.axes[-1].get_legend().get_texts()] == ["dep", "dep-200"]
    assert fig._suptitle.get_text() == "dep vs dep-200"
    fig = curves([runs[0], write_run(tmp_path / "chain", seeds=3)])  # seeds of a run share its colour
    for ax in fig.axes:
        assert len(ax.get_lines()) == 4 and colours(ax)[1] == colours(ax)[2] == colours(ax)[3] != colours(ax)[0]
    assert [t.get_text() for t in fig.axes[-1].get_legend().get_texts()] == ["dep", "chain (3 seeds)"]


def test_runs_with_other_metrics_and_the_same_name(tmp_path):
    a = write_run(tmp_path / "a" / "tiny", seeds=1, metric="dev_pearson")
    b = write_run(tmp_path / "b" / "tiny", seeds=1, metric="dev_accuracy", epochs=2)
    fig = curves([a, b])
    assert [ax.get_title() for ax in fig.axes] == ["train loss", "dev accuracy", "dev pearson"]
    assert [t.get_text() for t in fig.axes[-1].get_legend().get_texts()] == ["a/tiny", "b/tiny"]
    fig = curves([a / "seed-1", b], metrics=["dev_pearson"])  # a seed folder is a run too
    assert len(fig.axes) == 1 and len(fig.axes[0].get_lines()) == 2


def test_cli_overlay_output_metric_and_errors(tmp_path, capsys, monkeypatch):
    a, b = write_run(tmp_path / "a", seeds=2), write_run(tmp_path / "b", seeds=1)
    (tmp_path / "out").mkdir()  # an --output's folder must exist
    assert run("plot", a, b, "--metric", "dev_accuracy", "--output", tmp_path / "out" / "ab.png") == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "out" / "ab.png")
    assert (tmp_path / "out" / "ab.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.chdir(tmp_path)
    assert run("plot", a, b) == 0 and (tmp_path / "curves.png").exists()
    assert run("plot", a) == 0 and (a / "curves.png").exists()  # one run: as before
    capsys.readouterr()
    assert run("plot", a, b, "--metric", "dev_f1") == 2
    assert capsys.readouterr().err == ("treelstm: error: no run has the metric 'dev_f1'; they have dev_accuracy, "
                                       "train_loss\n")
    (tmp_path / "nothing").mkdir()  # a folder, but no run's (a missing one: test_cli_inputs.py)
    assert run("plot", a, tmp_path / "nothing") == 2
    assert "nothing: no metrics.jsonl here or in its subfolders; is it a run folder?" in capsys.readouterr().err


@pytest.mark.parametrize("metrics", [["train_loss"], ["dev_accuracy", "train_loss"]])
def test_metric_selection_orders_the_panels(tmp_path, metrics):
    fig = curves([write_run(tmp_path / "r", seeds=1)], metrics)
    assert [ax.get_title() for ax in fig.axes] == [m.replace("_", " ", 1) for m in metrics]


def test_importing_the_drawing_modules_leaves_the_backend_alone():
    """A notebook's backend stays: no ``matplotlib.use`` at import, and no pyplot (figures are
    :class:`~matplotlib.figure.Figure` objects); a fresh interpreter, since pytest's may have imported pyplot."""
    code = (
        "import sys, matplotlib; matplotlib.use('svg'); "
        "import treelstm.viz.plots, treelstm.viz.drawing, treelstm.demo.figure, treelstm.cli; "
        "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend(); "
        "assert 'matplotlib.pyplot' not in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_curves_draw_without_pyplot(tmp_path):
    from matplotlib.figure import Figure

    from treelstm.viz.plots import plot_runs

    assert isinstance(curves([write_run(tmp_path / "r", seeds=1)]), Figure)
    out = plot_runs([tmp_path / "r"])
    assert out == tmp_path / "r" / "curves.png" and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
