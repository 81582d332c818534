"""The report's SVG figures: well-formed XML whatever the layer is called, the marks the panels promise,
round tick values."""

import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from netspectra.report.svg import nice_ticks, tick_label
from netspectra.report.svg_figures import alpha_depth_svg, layer_svg

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def layers(small_report):
    return [layer for layer in small_report.layers if layer.eigenvalues is not None and layer.eigenvalues.size]


def test_layer_figure_is_xml_with_three_panels(layers):
    root = ET.fromstring(layer_svg(layers[0]))
    assert root.get("width") == "1200" and root.get("height") == "290"
    plots = [e for e in root.iter(f"{SVG}svg") if e.get("class") == "plot"]  # each panel's area clips its marks
    assert len(plots) == 3 and not root.findall(f".//{SVG}clipPath")  # no id two figures of a page could share
    titles = [t.text for t in root.iter(f"{SVG}text") if t.text]
    assert {"spectral density (log-log)", "bulk and Marchenko–Pastur fit", "level spacing of the bulk"} <= set(titles)
    assert any(t.startswith("power law α =") for t in titles)


@pytest.mark.parametrize("name", ['<script>alert("x")</script>', "$\\frac{$", "esc\x1b[31mred", "nul\x00", "lone\ud800"])
@pytest.mark.hardening
def test_hostile_names_stay_text(layers, name):
    svg = layer_svg(layers[0].with_columns(name=name))
    root = ET.fromstring(svg)  # parses: nothing XML forbids got through
    assert "<script" not in svg
    expected = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]", "\ufffd", name)
    assert any(t.text == f"{expected}  (200 x 100, linear)" for t in root.iter(f"{SVG}text"))


def test_overview_colours_by_phase_and_survives_no_fit(layers):
    root = ET.fromstring(alpha_depth_svg(layers))
    points = [g for g in root.iter(f"{SVG}g") if g.get("class") == "point"]
    assert len(points) == 2 * len(layers)  # alpha and alpha_weighted of each
    unfitted = [layer.with_columns(alpha=math.nan, alpha_weighted=math.nan) for layer in layers]
    ET.fromstring(alpha_depth_svg(unfitted))


def test_ticks_are_round():
    assert nice_ticks(0.0, 1.0) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert nice_ticks(0.0013, 0.0171) == pytest.approx([0.005, 0.01, 0.015])
    assert tick_label(0.005) == "5×10⁻³" and tick_label(2.5) == "2.5" and tick_label(0) == "0"
    assert np.all(np.diff(nice_ticks(-3.0, 7.0)) > 0)


# --- interactive figures (issue 29.4): legends clear of points, tooltips, what the page's script reads


def _legend_box(panel) -> tuple[float, float, float, float]:
    legend = next(g for g in panel.iter(f"{SVG}g") if g.get("class") == "legend")
    rect = legend.find(f"{SVG}rect")
    return tuple(float(rect.get(k)) for k in ("x", "y", "width", "height"))


def _points(panel) -> list[tuple[float, float, float, str]]:
    """(x, y, radius, tooltip) of each point of a panel."""
    out = []
    for g in panel.iter(f"{SVG}g"):
        if g.get("class") == "point":
            x, y = map(float, re.match(r"M([-\d.]+),([-\d.]+)h0", g.findall(f"{SVG}path")[1].get("d")).groups())
            radius = float(g.findall(f"{SVG}path")[1].get("stroke-width")) / 2
            title = g.find(f"{SVG}title")
            out.append((x, y, radius, title.text if title is not None else ""))
    return out


def _panels(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.get("data-panel"): g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"}


def _covered(panel) -> list[tuple[float, float]]:
    x, y, w, h = _legend_box(panel)
    return [(px, py) for px, py, r, _ in _points(panel) if x - r < px < x + w + r and y - r < py < y + h + r]


def test_the_legend_covers_no_point_of_alpha_by_depth(layers):
    """The MiniLM case: the pooler (the last layer, the largest alpha) sat under the legend in the top right corner."""
    pooler = layers[-1].with_columns(name="pooler.dense.weight", layer_index=9, alpha=12.35)
    panel = _panels(alpha_depth_svg([*layers, pooler]))["alpha"]
    assert _covered(panel) == []
    assert any("pooler.dense.weight" in tip and "α = 12.350" in tip for *_, tip in _points(panel))


@pytest.mark.parametrize("seed", range(6))
def test_a_legend_never_covers_a_point_even_when_every_corner_has_one(layers, seed):
    """Points everywhere, corners included: the legend moves, or the y axis grows the headroom that frees a corner."""
    rng = np.random.default_rng(seed)
    alphas = np.concatenate([[12.0, 12.0, 0.3, 0.3], rng.uniform(0.2, 12.0, 40)])
    index = np.concatenate([[0, 43, 0, 43], rng.integers(0, 44, 40)])
    rows = [layers[0].with_columns(layer_index=int(i), alpha=float(a), alpha_weighted=float(a)) for i, a in zip(index, alphas)]
    panels = _panels(alpha_depth_svg(rows))
    for name in ("alpha", "alpha_weighted"):
        if any(g.get("class") == "legend" for g in panels[name].iter(f"{SVG}g")):
            assert _covered(panels[name]) == [], name
            assert len(_points(panels[name])) == len(rows)


def test_the_colour_key_lists_only_labels_that_have_points(layers):
    """A "phase: none" entry came from a layer without a phase and without a fit: it has no point."""
    rows = [layer.with_columns(phase="heavy-tailed") for layer in layers]
    rows.append(layers[0].with_columns(name="unfitted", phase="", alpha=math.nan, alpha_weighted=math.nan))
    texts = [t.text for t in ET.fromstring(alpha_depth_svg(rows)).iter(f"{SVG}text")]
    assert "phase: heavy-tailed" in texts and "phase: none" not in texts


def test_plot_areas_tell_the_script_their_axes_and_bins(layers):
    """What zoom and the hover read-out use: each plotting area's limits, log scales and axis names, each
    histogram's bins; curves and spikes carry their tooltips."""
    panels = _panels(layer_svg(layers[1]))
    esd = next(e for e in panels["esd"].iter(f"{SVG}svg") if e.get("class") == "plot")
    assert esd.get("data-log") == "xy" and esd.get("data-names") == "λ|p(λ)"
    lo, hi = map(float, esd.get("data-xlim").split())
    assert esd.get("viewBox").split() == [esd.get(k) for k in ("x", "y", "width", "height")] and 0 < lo < hi
    edges, values = (np.array(part.split(), dtype=float) for part in esd.find(f"{SVG}polygon").get("data-bins").split(";"))
    assert edges.size == values.size + 1 and np.all(np.diff(edges) > 0) and values.max() > 0
    titles = [t.text for t in panels["esd"].iter(f"{SVG}title")]
    assert any(t.startswith("power law α = ") for t in titles)
    assert any(t.startswith("spike λ = ") for t in (t.text for t in panels["mp"].iter(f"{SVG}title")))


@pytest.mark.parametrize("name", ['<script>alert("x")</script>', "esc\x1b[31mred", "lone\ud800"])
def test_hostile_names_stay_text_in_tooltips(layers, name):
    svg = alpha_depth_svg([layers[0].with_columns(name=name)])
    root = ET.fromstring(svg)
    assert "<script" not in svg
    assert any(name.replace("\x1b", "\ufffd").replace("\ud800", "\ufffd") in (t.text or "") for t in root.iter(f"{SVG}title"))
