"""Plot functions: what each figure draws is checked against the numbers it is drawn from."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from netspectra.report import figure_data, plots
from netspectra.report.figures import figure_bytes, save_figure
from netspectra.rmt.marchenko_pastur import mp_edges, mp_pdf


def wishart_eigenvalues(n: int = 1000, m: int = 500, seed: int = 0) -> np.ndarray:
    """Eigenvalues of W^T W / N for a Gaussian N x M matrix with unit variance: MP(M/N, 1)."""
    w = np.random.default_rng(seed).standard_normal((n, m))
    return np.linalg.eigvalsh(w.T @ w / n)


def panel_message(fig) -> str:
    """The text a panel shows instead of a plot, with its line breaks undone."""
    return " ".join(fig.axes[0].texts[0].get_text().split())


def legend_texts(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_log_density_is_a_density_on_log_spaced_bins():
    evals = wishart_eigenvalues(400, 200)
    density, edges = figure_data.log_density(evals)
    assert np.allclose(np.diff(np.log(edges)), np.log(edges[1] / edges[0]))  # equal widths in log lambda
    assert np.sum(density * np.diff(edges)) == pytest.approx(1.0)
    assert edges[0] == pytest.approx(evals.min()) and edges[-1] == pytest.approx(evals.max())


def test_esd_draws_the_fitted_power_law_over_xmin_xmax_on_log_axes():
    rng = np.random.default_rng(1)
    evals = np.sort(np.concatenate([rng.uniform(0.1, 1.0, 300), 1.0 * (1 - rng.random(100)) ** (-1 / 2.5)]))
    xmin, xmax, alpha, num_tail = 1.0, float(evals[-1]), 3.5, 100
    fig = plots.plot_esd(evals, alpha=alpha, xmin=xmin, xmax=xmax, num_tail=num_tail, lambda_plus=0.9)
    (ax,) = fig.axes
    assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert ax.get_xlabel() == "eigenvalue λ of WᵀW/N"
    fit = next(line for line in ax.get_lines() if line.get_label().startswith("power law"))
    x, y = fit.get_data()
    assert (x[0], x[-1]) == pytest.approx((xmin, xmax))
    # The line is the tail density scaled by the tail fraction: p(xmin) = (n_tail / n)(alpha - 1)/xmin.
    assert y[0] == pytest.approx(num_tail / evals.size * (alpha - 1) / xmin)
    assert np.allclose(np.diff(np.log(y)) / np.diff(np.log(x)), -alpha)
    verticals = {line.get_label().split(" =")[0]: line.get_xdata()[0] for line in ax.get_lines() if len(line.get_xdata()) == 2}
    assert verticals == {"xmin": xmin, "MP edge λ₊": 0.9}
    assert "α = 3.50" in " ".join(legend_texts(ax))


def test_esd_without_a_fit_or_with_too_few_eigenvalues():
    fig = plots.plot_esd(wishart_eigenvalues(200, 100))
    assert not any(line.get_label().startswith("power law") for line in fig.axes[0].get_lines())
    few = plots.plot_esd(np.array([1e-3, 2e-3, 0.5]))
    assert panel_message(few) == "3 positive eigenvalues: too few to draw"


def test_mp_overlay_matches_the_histogram_of_a_random_matrix_and_marks_spikes():
    n, m = 1000, 500
    rng = np.random.default_rng(2)
    w = rng.standard_normal((n, m))
    u, v = np.linalg.qr(rng.standard_normal((n, 2)))[0], np.linalg.qr(rng.standard_normal((m, 2)))[0]
    w += np.sqrt(n) * (u * [3.0, 2.0]) @ v.T  # two planted spikes (BBP: above the edge)
    evals = np.linalg.eigvalsh(w.T @ w / n)
    lo, hi = mp_edges(m / n, 1.0)
    fig = plots.plot_mp_fit(evals, n=n, m=m, sigma2=1.0, lambda_plus=hi, lambda_plus_tw=hi * 1.02)
    (ax,) = fig.axes
    assert ax.get_xscale() == "linear" and ax.get_xlim() == pytest.approx((0.0, 1.25 * hi * 1.02))
    (hist,) = ax.patches
    values, edges = hist.get_data().values, hist.get_data().edges
    centres = (edges[1:] + edges[:-1]) / 2
    inside = (centres > lo + 0.2) & (centres < hi - 0.2)
    assert np.abs(values[inside] - mp_pdf(centres[inside], m / n, 1.0)).mean() < 0.03
    labels = legend_texts(ax)
    assert "2 spikes (2 beyond axis, max" in " ".join(labels)
    assert any(label.startswith("MP(β = 0.50, σ² = 1)") for label in labels)


def test_level_spacing_of_a_random_matrix_follows_the_wigner_surmise():
    evals = wishart_eigenvalues()
    gaps = figure_data.bulk_spacings(evals, 1000, 500, 1.0)
    assert gaps.mean() == pytest.approx(1.0)
    fig = plots.plot_level_spacing(evals, n=1000, m=500, sigma2=1.0)
    text = " ".join(legend_texts(fig.axes[0]))
    ks_goe = float(text.split("(GOE), KS = ")[1].split()[0])
    ks_poisson = float(text.split("Poisson, KS = ")[1].split()[0])
    assert ks_goe < 0.06 < 0.2 < ks_poisson
    pooled = plots.plot_level_spacing(evals, n=1000, m=500, sigma2=1.0, num_matrices=9)
    assert "pools 9 matrices" in panel_message(pooled)
    too_few = plots.plot_level_spacing(evals[:5], n=1000, m=5, sigma2=1.0)
    assert "at least 10" in panel_message(too_few)


def test_layer_figure_has_three_panels_and_uses_mp_width_for_spacings(small_report):
    layer = small_report.layers[0]
    fig = plots.plot_layer(layer)
    assert len(fig.axes) == 3 and layer.name in fig.texts[0].get_text()
    assert figure_data.spacing_sigma2(layer) == layer.sigma2_mp

    class Deep:  # a row with the depth column mp_width
        mp_width = 0.5
        sigma2_mp = 1.0

    assert figure_data.spacing_sigma2(Deep()) == 0.5
    with pytest.raises(ValueError, match="no eigenvalues"):
        plots.plot_layer(small_report.layers[-1])  # the NaN matrix: status error


def test_alpha_by_depth_colours_by_phase_when_the_column_exists(small_report):
    frame = small_report.to_frame().assign(phase="")  # as without the depth analysis
    bands = ["over-trained (< 2)", "2 to 6", "under-trained (> 6)"]
    by_kind = plots.plot_alpha_depth(frame)
    assert [t.get_text() for t in by_kind.legends[0].get_texts()] == [*bands, "kind: linear"]
    assert all(ax.get_legend() is None for ax in by_kind.axes)  # the legend sits outside the axes: it hides no point
    frame["phase"] = ["heavy-tailed", "bulk+spikes", "heavy-tailed", None]
    by_phase = plots.plot_alpha_depth(frame)
    # the NaN matrix has no point, so no "phase: none" entry (issue 29)
    assert [t.get_text() for t in by_phase.legends[0].get_texts()] == [*bands, "phase: heavy-tailed", "phase: bulk+spikes"]
    (points,) = by_phase.axes[0].collections
    fitted = frame["alpha"].notna().sum()
    assert len(points.get_offsets()) == fitted
    assert len({tuple(c) for c in points.get_facecolors()}) == len(set(frame["phase"][frame["alpha"].notna()]))


def test_trajectories_one_line_per_layer_and_the_mean():
    steps = np.arange(5)
    frame = pd.DataFrame(
        [{"step": s, "name": f"l{i}", "layer_index": i, "alpha": 2 + i + 0.1 * s} for s in steps for i in range(4)]
    )
    fig = plots.plot_trajectories(frame, "alpha")
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert len(lines) == 5
    mean = next(line for line in lines if line.get_label().startswith("mean over 4 layers"))
    assert np.allclose(mean.get_ydata(), 3.5 + 0.1 * steps)
    assert ax.get_xlabel() == "step" and ax.get_ylabel() == "alpha"
    many = pd.DataFrame([{"step": s, "name": f"l{i}", "alpha": float(i)} for s in steps for i in range(150)])
    thinned = plots.plot_trajectories(many, "alpha")
    assert len(thinned.axes[0].get_lines()) == 50 + 1
    assert "(50 of 150 layers drawn)" in thinned.axes[0].get_title()


def test_spectra_overlay_shares_bins_between_spectra():
    before, after = wishart_eigenvalues(400, 200, 0), 2.0 * wishart_eigenvalues(400, 200, 1)
    fig = plots.plot_spectra_overlay({"before": before, "after": after}, title="compression")
    ax = fig.axes[0]
    steps = ax.patches
    assert [s.get_label() for s in steps] == ["before (200)", "after (200)"]
    assert np.array_equal(steps[0].get_data().edges, steps[1].get_data().edges)
    assert steps[0].get_data().edges[-1] == pytest.approx(after.max())
    assert (ax.get_xscale(), ax.get_title()) == ("log", "compression")
    empty = plots.plot_spectra_overlay({"zero": np.zeros(4)})
    assert "fewer than 2" in panel_message(empty)


def test_figures_encode_as_small_palette_png_or_svg(tmp_path):
    fig = plots.plot_esd(wishart_eigenvalues(400, 200), alpha=3.0, xmin=1.0, xmax=3.0, num_tail=30)
    png = figure_bytes(fig)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and png[25] == 3  # colour type 3: palette
    assert int.from_bytes(png[16:20], "big") == 400  # 4 in at 100 dpi
    svg = figure_bytes(fig, "svg")
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg and b"eigenvalue" in svg  # text kept as text
    with pytest.raises(ValueError, match="unknown figure format"):
        figure_bytes(fig, "jpg")
    path = save_figure(fig, tmp_path / "esd.svg")
    assert path.read_bytes() == svg
    assert [p.name for p in tmp_path.iterdir()] == ["esd.svg"]


def test_plotting_never_loads_pyplot_or_a_gui_backend():
    code = (
        "import sys, numpy as np\n"
        "from netspectra.report import plots, figures\n"
        "e = np.random.default_rng(0).chisquare(3, 300)\n"
        "figures.figure_bytes(plots.plot_esd(e, alpha=3.0, xmin=2.0, xmax=e.max(), num_tail=50))\n"
        "figures.figure_bytes(plots.plot_mp_fit(e, n=600, m=300, sigma2=1.0), 'svg')\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
        "gui = [m for m in sys.modules if m.startswith(('matplotlib.backends.backend_qt', 'matplotlib.backends.backend_tk', 'tkinter'))]\n"
        "assert not gui, gui\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env={"PATH": "", "MPLBACKEND": "TkAgg"}
    )
    assert proc.returncode == 0, proc.stderr


def test_figure_type_and_no_data_message_in_place_of_a_plot():
    fig = plots.plot_mp_fit(np.ones(20), n=40, m=20, sigma2=math.nan)
    assert isinstance(fig, Figure)
    assert "no Marchenko–Pastur fit" in panel_message(fig)
