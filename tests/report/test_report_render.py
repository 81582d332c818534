"""Rendering many layers: plot files, the process pool and how many workers it gets."""

from __future__ import annotations

import os

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
