"""What minivi/plots.py draws, read back from the matplotlib objects (no file written, no window).

The figures themselves are looked at by eye; these tests pin what is plotted
against what: the sizes and axes asked for, each curve's data and label, the
±2 std bands, the training data, the PNG written by `save`, and the shared
command line of the tutorials.
"""
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

from minivi import plots
from minivi.train import History


def test_figure_has_the_size_and_the_axes_asked_for():
    fig, ax = plots.figure()
    assert tuple(fig.get_size_inches()) == (9.0, 4.5) and fig.get_layout_engine() is not None
    assert len(fig.axes) == 1 and ax is fig.axes[0]
    fig, axes = plots.figure(2, 3, size=(6.0, 2.0))
    assert tuple(fig.get_size_inches()) == (6.0, 2.0) and axes.shape == (2, 3)


def test_training_curves_plot_loss_kl_and_nll_per_epoch():
    history = History(loss=[5.0, 4.0, 3.5], kl=[1.0, 1.5, 1.25], nll=[4.0, 2.5, 2.25])
    fig, ax = plots.figure()
    plots.training_curves(ax, history, title="t")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["loss = negative ELBO", "KL[q || p]", "NLL (data term)"]
    for label, values in zip(lines, (history.loss, history.kl, history.nll)):
        np.testing.assert_array_equal(lines[label].get_xdata(), [1, 2, 3])
        np.testing.assert_array_equal(lines[label].get_ydata(), values)
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("epoch", "nats", "t")
    assert ax.get_legend() is not None


def test_regression_band_draws_the_mean_the_two_bands_the_truth_and_the_data():
    x_grid = np.linspace(0, 1, 5)[:, None]
    uncertainty = {"mean": np.arange(5.0)[:, None], "total": np.full((5, 1), 0.5),
                   "epistemic": np.full((5, 1), 0.25)}
    truth = np.ones((5, 1))
    fig, ax = plots.figure()
    plots.regression_band(ax, [[0.1], [0.2]], [[1.0], [2.0]], x_grid, uncertainty, truth=truth, title="band")
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert list(lines) == ["predictive mean", "true curve (no noise)"]
    np.testing.assert_array_equal(lines["predictive mean"].get_xdata(), x_grid.ravel())
    np.testing.assert_array_equal(lines["predictive mean"].get_ydata(), np.arange(5.0))
    np.testing.assert_array_equal(lines["true curve (no noise)"].get_ydata(), np.ones(5))
    assert to_hex(lines["predictive mean"].get_color()) == to_hex("tab:blue") == to_hex(ax.collections[0].get_facecolor()[0])
    assert to_hex(lines["true curve (no noise)"].get_color()) == to_hex("tab:green")
    assert lines["predictive mean"].get_linewidth() == 2 and lines["true curve (no noise)"].get_linestyle() == "--"
    bands = [c for c in ax.collections if c.get_label().startswith("±2 std")]
    assert [b.get_label() for b in bands] == ["±2 std, total", "±2 std, epistemic"]
    for band, std in zip(bands, (0.5, 0.25)):
        y = band.get_paths()[0].vertices[:, 1]
        assert y.min() == pytest.approx(0 - 2 * std) and y.max() == pytest.approx(4 + 2 * std)
    assert bands[0].get_alpha() < bands[1].get_alpha()            # total lighter than epistemic
    data = [c for c in ax.collections if c.get_label() == "training data"][0]
    np.testing.assert_array_equal(data.get_offsets(), [[0.1, 1.0], [0.2, 2.0]])
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("x", "y", "band")
    fig, ax = plots.figure()
    plots.regression_band(ax, [[0.1]], [[1.0]], x_grid, uncertainty)
    assert [line.get_label() for line in ax.get_lines()] == ["predictive mean"]      # no truth: no dashed line


def test_save_writes_a_png_in_new_folders(tmp_path):
    fig, ax = plots.figure(size=(2.0, 1.0))
    ax.plot([0, 1], [0, 1])
    path = plots.save(fig, tmp_path / "a" / "b" / "f.png")
    assert path == tmp_path / "a" / "b" / "f.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = (int.from_bytes(path.read_bytes()[16 + 4 * k:20 + 4 * k], "big") for k in (0, 1))
    assert (width, height) == (240, 120)                          # 2 x 1 inches at 120 dpi


def test_tutorial_options_read_quick_and_the_figure_folder_and_ignore_the_rest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                  # so ./figures and the checkout's figures/ differ
    assert plots.tutorial_options("d", ["--quick", "--out-dir", str(tmp_path), "--kernel-arg"]) == (True, tmp_path)
    quick, out_dir = plots.tutorial_options("d", [])
    assert quick is False and out_dir == plots.default_figure_dir()
    assert plots.default_figure_dir() == Path(plots.__file__).resolve().parent.parent / "figures"   # this checkout


def test_tutorial_options_show_the_tutorials_description_in_the_help(capsys):
    with pytest.raises(SystemExit):
        plots.tutorial_options("Tutorial 99: what it shows", ["--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "Tutorial 99: what it shows" in help_text
    assert "--quick a small, fast run" in help_text and "folder for the figures" in help_text


def test_outside_a_source_checkout_figures_go_to_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(plots, "__file__", str(tmp_path / "site-packages" / "minivi" / "plots.py"))
    monkeypatch.chdir(tmp_path)
    assert plots.default_figure_dir() == tmp_path / "figures"


def test_regression_band_style_both_bands_blue_without_an_edge_the_truth_thin_the_legend_small_upper_left():
    x_grid = np.linspace(0, 1, 3)[:, None]
    uncertainty = {"mean": np.zeros((3, 1)), "total": np.ones((3, 1)), "epistemic": np.full((3, 1), 0.5)}
    fig, ax = plots.figure()
    plots.regression_band(ax, [[0.5]], [[0.0]], x_grid, uncertainty, truth=np.zeros((3, 1)))
    bands = [c for c in ax.collections if c.get_label().startswith("±2 std")]
    assert len(bands) == 2
    for band in bands:
        assert to_hex(band.get_facecolor()[0]) == to_hex("tab:blue")
        assert np.all(band.get_linewidth() == 0)
    truth = [line for line in ax.get_lines() if line.get_label() == "true curve (no noise)"][0]
    mean = [line for line in ax.get_lines() if line.get_label() == "predictive mean"][0]
    assert truth.get_linewidth() == 1.5 < mean.get_linewidth()          # the truth drawn thinner than the mean
    legend = ax.get_legend()
    assert all(text.get_fontsize() == 8 for text in legend.get_texts())
    assert legend._loc == 2                        # matplotlib's code for "upper left" (no public getter)


def test_save_writes_into_a_folder_that_already_exists(tmp_path):
    fig, ax = plots.figure(size=(1.0, 1.0))
    first = plots.save(fig, tmp_path / "figs" / "one.png")
    second = plots.save(fig, tmp_path / "figs" / "two.png")          # the folder exists now
    assert first.read_bytes()[:8] == second.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_reliability_diagram_draws_the_filled_bins_their_points_counts_and_the_diagonal():
    centres = np.array([0.05, 0.15, 0.25])
    confidence, accuracy, counts = np.array([0.07, np.nan, 0.22]), np.array([0.5, np.nan, 0.3]), np.array([4, 0, 7])
    fig, ax = plots.figure()
    plots.reliability_diagram(ax, centres, confidence, accuracy, counts)
    bars = ax.patches
    assert [round(b.get_x() + b.get_width() / 2, 12) for b in bars] == [0.05, 0.25]      # empty bin left out
    assert [b.get_height() for b in bars] == [0.5, 0.3] and [b.get_width() for b in bars] == pytest.approx([0.1, 0.1])
    points, diagonal = ax.lines
    np.testing.assert_array_equal(points.get_xdata(), [0.07, 0.22])
    np.testing.assert_array_equal(points.get_ydata(), [0.5, 0.3])
    assert list(diagonal.get_xdata()) == [0, 1] and list(diagonal.get_ydata()) == [0, 1]
    assert [(t.get_text(), t.xy) for t in ax.texts] == [("4", (0.05, 0.5)), ("7", (0.25, 0.3))]
    assert ax.get_xlim() == (0, 1) and ax.get_ylim() == (0, 1.08)
    assert ax.get_ylabel() == "fraction of test images classified correctly"
    assert [h.get_label() for h in ax.get_legend_handles_labels()[0]] == [
        "(mean confidence, accuracy)", "perfect calibration", "accuracy in the bin"]
