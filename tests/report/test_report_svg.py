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
    assert len(root.findall(f".//{SVG}clipPath")) == 3
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
    assert len(root.findall(f".//{SVG}circle")) >= len(layers)
    unfitted = [layer.with_columns(alpha=math.nan, alpha_weighted=math.nan) for layer in layers]
    ET.fromstring(alpha_depth_svg(unfitted))


def test_ticks_are_round():
    assert nice_ticks(0.0, 1.0) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert nice_ticks(0.0013, 0.0171) == pytest.approx([0.005, 0.01, 0.015])
    assert tick_label(0.005) == "5×10⁻³" and tick_label(2.5) == "2.5" and tick_label(0) == "0"
    assert np.all(np.diff(nice_ticks(-3.0, 7.0)) > 0)
