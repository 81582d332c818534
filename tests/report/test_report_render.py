"""Rendering many layers: plot files, the process pool and how many workers it gets."""

from __future__ import annotations

import os
from xml.etree import ElementTree

import pytest

from netspectra import ModelReport
from netspectra.report import render
from netspectra.report.render import safe_filename, write_plots


@pytest.mark.slow
def test_write_plots_files_in_one_or_two_processes_agree(small_report, tmp_path):
    report = ModelReport(source="two", layers=(small_report.layers[0], small_report.layers[-1]))  # ok, error
    one = write_plots(report, tmp_path / "one", "png", workers=1)
    two = write_plots(report, tmp_path / "two", "png", workers=2)
    names = sorted(p.name for p in one)
    assert (
        names
        == sorted(p.name for p in two)
        == ["0_blocks.0.random_esd.png", "0_blocks.0.random_mp.png", "0_blocks.0.random_spacing.png", "alpha_depth.png"]
    )
    assert all((tmp_path / "one" / n).read_bytes() == (tmp_path / "two" / n).read_bytes() for n in names)
    with pytest.raises(ValueError, match="unknown plot format"):
        write_plots(report, tmp_path / "x", "gif")
    assert safe_filename("encoder/layer.0:q[k] .weight") == "encoder_layer.0_q_k"


def test_svg_plot_files_are_the_report_panels_drawn_without_workers(small_report, tmp_path, monkeypatch):
    """``--plot-format svg`` writes the HTML report's panels (a millisecond each), one figure per panel, in this
    process; each shows the row's own fit."""
    started, executor = [], render.ProcessExecutor
    monkeypatch.setattr(render, "ProcessExecutor", lambda workers: started.append(workers) or executor(workers))
    monkeypatch.setattr(render.plots, "plot_esd", None)  # matplotlib is not used for SVG files
    report = ModelReport(source="two", layers=(small_report.layers[0], small_report.layers[-1]))
    written = write_plots(report, tmp_path, "svg", workers=4)
    assert sorted(p.name for p in written) == [
        "0_blocks.0.random_esd.svg",
        "0_blocks.0.random_mp.svg",
        "0_blocks.0.random_spacing.svg",
        "alpha_depth.svg",
    ]
    assert started == [1]
    layer = report.layers[0]
    for path in written:
        root = ElementTree.parse(path).getroot()  # a well-formed SVG document
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert (root.get("width"), root.get("height")) == (("1200", "340") if path.name == "alpha_depth.svg" else ("400", "290"))
    esd = (tmp_path / "0_blocks.0.random_esd.svg").read_text(encoding="utf-8")
    assert f"power law α = {layer.alpha:.2f} ({layer.num_tail} in tail)" in esd


def test_png_panel_titles_fit_in_their_figure(small_report):
    """A layer name of 40-odd characters and the panel's name used to run off a 4-inch figure on one line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    layer = small_report.layers[0].with_columns(name="encoder.layer.0.attention.self.value.weight")
    for fig in render.panel_figures(layer).values():
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        title, frame = fig.axes[0].title.get_window_extent(canvas.get_renderer()), fig.bbox
        assert frame.x0 <= title.x0 and title.x1 <= frame.x1 and title.y1 <= frame.y1, fig.axes[0].get_title()


@pytest.mark.parametrize(
    "layers, cpus, load, workers",
    [
        (10, 16, 0.0, 1),  # few layers: not worth starting processes
        (200, 16, 0.0, 8),  # capped at 8
        (40, 16, 0.0, 5),  # at least 8 layers per worker
        (200, 16, 13.2, 3),  # only the idle CPUs
        (200, 2, 5.0, 1),  # a busy machine: no pool
    ],
)
def test_default_workers_uses_idle_cpus(monkeypatch, layers, cpus, load, workers):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert render.figure_workers(layers) == workers
