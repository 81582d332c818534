"""End to end, as a person would: the HTML report of the real all-MiniLM-L6-v2 opened in headless Chromium.

Needs /usr/bin/chromium (Debian package ``chromium``) and ``websocket-client``; skipped without them.
Set NETSPECTRA_SCREENSHOT_DIR to keep the screenshots (docs/report_minilm.png is made this way).
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image


def column_values(page, key: str) -> list[str]:
    """The ``data-v`` of column ``key`` in the table's current row order."""
    return page.evaluate(
        f"(() => {{ const i = Array.from(document.querySelectorAll('#layer-table thead th')).findIndex(th => th.dataset.key === '{key}');"
        " return Array.from(document.querySelectorAll('#layer-table tbody tr')).map(r => r.cells[i].dataset.v); })()"
    )


def as_numbers(values: list[str]) -> list[float]:
    return [float(v) if v else math.nan for v in values]


def screenshot(page, tmp_path, name: str) -> Image.Image:
    data = page.call("Page.captureScreenshot", format="png")["data"]
    png = base64.b64decode(data)
    (tmp_path / name).write_bytes(png)
    if os.environ.get("NETSPECTRA_SCREENSHOT_DIR"):
        shutil.copy(tmp_path / name, os.path.join(os.environ["NETSPECTRA_SCREENSHOT_DIR"], name))
    return Image.open(io.BytesIO(png))


@pytest.mark.slow
def test_minilm_report_in_a_real_browser(browser_page, minilm_outputs, tmp_path):
    html, doc = minilm_outputs
    page = browser_page
    alphas = [layer["alpha"] for layer in doc["layers"]]
    page.open(html.resolve().as_uri())
    page.wait_for("document.body.dataset.ready === 'true'")

    # Loads cleanly: no exception, no console error, nothing fetched but the file itself.
    assert page.evaluate("document.getElementById('js-errors').hidden") is True
    assert page.evaluate("document.getElementById('js-errors').textContent") == ""
    errors = [
        e
        for e in page.events
        if e["method"] == "Runtime.exceptionThrown"
        or (e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
        or (e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] == "error")
    ]
    assert errors == []
    urls = [e["params"]["request"]["url"] for e in page.events if e["method"] == "Network.requestWillBeSent"]
    assert urls and all(u.startswith(("file:", "data:")) for u in urls), urls

    # The summary is on the first screen, with the verdict; the table has every layer.
    top = page.evaluate(
        "(() => { const r = document.querySelector('#summary .verdict').getBoundingClientRect();"
        " return [r.top, r.height, innerHeight]; })()"
    )
    assert 0 <= top[0] < top[2] and top[1] > 0
    assert "of 39 fitted layers" in page.evaluate("document.querySelector('#summary .verdict').textContent")
    assert page.evaluate("document.getElementById('layer-table').checkVisibility()") is True
    assert page.evaluate("document.querySelectorAll('#layer-table tbody tr').length") == len(doc["layers"]) == 40
    shot = screenshot(page, tmp_path, "report_minilm.png")
    assert shot.size == (1280, 1000)
    assert np.asarray(shot.convert("L")).std() > 20  # not a blank page

    # Sorting by a click on the alpha header: ascending, missing last; again: descending.
    assert column_values(page, "layer_index") == [str(i) for i in range(40)]  # model order before sorting
    page.click("#layer-table th[data-key='alpha'] button")
    finite = sorted(a for a in alphas if a is not None)
    assert as_numbers(column_values(page, "alpha"))[:-1] == finite
    assert math.isnan(as_numbers(column_values(page, "alpha"))[-1])
    assert page.evaluate("document.querySelector(\"th[data-key='alpha']\").getAttribute('aria-sort')") == "ascending"
    page.click("#layer-table th[data-key='alpha'] button")
    assert as_numbers(column_values(page, "alpha"))[:-1] == finite[::-1]
    top_row = page.evaluate("document.querySelector('#layer-table tbody tr').dataset.name")
    assert top_row == "pooler.dense.weight"  # alpha 12.35, the largest
    page.click("#layer-table th[data-key='name'] button")
    names = column_values(page, "name")
    assert (names[0], names[-1]) == ("embeddings.position_embeddings.weight", "pooler.dense.weight")

    # Plots are not laid out until a layer is opened; clicking its name opens it and shows the figure.
    assert page.evaluate("document.querySelectorAll('details.layer svg').length") == 0
    assert page.evaluate("document.querySelectorAll('details.layer template').length") == 40
    page.click("#layer-table a[href='#layer-39']")
    page.wait_for("document.getElementById('layer-39').open")
    page.wait_for(
        "(() => { const s = document.querySelector('#layer-39 svg.ns-figure'); return s && s.getBoundingClientRect().width > 0; })()"
    )
    assert page.evaluate("document.querySelector('#layer-39 svg.ns-figure').viewBox.baseVal.width") == 1200
    assert page.evaluate("document.querySelectorAll('details.layer svg.ns-figure').length") == 1
    page.evaluate("document.getElementById('layer-39').scrollIntoView()")
    detail = screenshot(page, tmp_path, "report_minilm_layer.png")
    assert np.asarray(detail.convert("L")).std() > 20


# --- hover values, zoom, legends clear of points, a table that fits (issue 29.4)


def centre(page, selector: str, index: int = -1) -> list[float]:
    """The viewport centre of the ``index``-th element matching ``selector``, scrolled into view."""
    return page.evaluate(
        f"(() => {{ const all = document.querySelectorAll({selector!r}); const e = all[{index} < 0 ? all.length + {index} : {index}];"
        " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()"
    )


def hover(page, x: float, y: float) -> str:
    """Move the mouse to (x, y) and return the page's tooltip text ("" when hidden)."""
    page.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
    return page.evaluate("(() => { const t = document.querySelector('.ns-tip'); return t.hidden ? '' : t.textContent; })()")


def drag(page, start: tuple[float, float], end: tuple[float, float]) -> None:
    page.call("Input.dispatchMouseEvent", type="mousePressed", x=start[0], y=start[1], button="left", clickCount=1)
    for k in range(1, 6):
        x, y = start[0] + (end[0] - start[0]) * k / 5, start[1] + (end[1] - start[1]) * k / 5
        page.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y, button="left")
    page.call("Input.dispatchMouseEvent", type="mouseReleased", x=end[0], y=end[1], button="left", clickCount=1)


TICKS = "Array.from(document.querySelectorAll('#overview g.panel[data-panel=alpha] g.ticks text')).map(t => t.textContent)"
#: Points of the alpha panel drawn inside its plotting area that the legend's box covers.
LEGEND_COVERS = """(() => {
  const panel = document.querySelector('#overview g.panel[data-panel=alpha]');
  const area = panel.querySelector('svg.plot').getBoundingClientRect();
  const legend = panel.querySelector('g.legend rect').getBoundingClientRect();
  return Array.from(panel.querySelectorAll('g.point')).map(g => g.getBoundingClientRect()).filter(p =>
    p.right > area.left && p.left < area.right && p.bottom > area.top && p.top < area.bottom &&
    p.right > legend.left && p.left < legend.right && p.bottom > legend.top && p.top < legend.bottom).length;
})()"""


def no_errors(page) -> None:
    assert page.evaluate("document.getElementById('js-errors').textContent") == ""
    assert not [e for e in page.events if e["method"] == "Runtime.exceptionThrown"]
    urls = [e["params"]["request"]["url"] for e in page.events if e["method"] == "Network.requestWillBeSent"]
    assert all(u.startswith(("file:", "data:")) for u in urls), urls


TABLE_WIDTH = (
    "(() => { const w = document.getElementById('layer-table').closest('.table-wrap');"
    " const h = document.querySelector(\"th[data-key='warning']\");"
    " return [w.scrollWidth, w.clientWidth, h.getBoundingClientRect().right, innerWidth]; })()"
)


def test_the_layer_table_fits_1400_pixels_with_every_column(browser_page, minilm_outputs, tmp_path):
    """MiniLM's rows with the RMT-depth columns and warnings of the full analysis (phase, <r>, kappa, MP area,
    large-entries) and the role, block and dtype columns: the warning column was off-screen at 1400 pixels (the
    table 1622 pixels wide in 1238; 1613 in 1358 once role, block and dtype came)."""
    from netspectra import LayerReport, ModelReport
    from netspectra.report.html import write_html

    _, doc = minilm_outputs
    rows = []
    for row in doc["layers"]:
        layer = LayerReport.from_columns({k: (math.nan if v is None else v) for k, v in row.items()})
        depth = dict(phase="heavy-tailed", spacing_ratio=0.534, kappa_htmp=1.77, mp_area=0.013)
        rows.append(layer.with_columns(**depth, warnings=(*layer.warnings, "large-entries")))
    html = write_html(ModelReport(doc["source"], tuple(rows)), tmp_path / "deep.html")
    page = browser_page
    page.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
    page.open(html.resolve().as_uri())
    page.wait_for("document.body.dataset.ready === 'true'")
    scroll, visible, right, viewport = page.evaluate(TABLE_WIDTH)
    assert scroll <= visible and right <= viewport, (scroll, visible, right, viewport)
    no_errors(page)


def test_minilm_report_hover_zoom_and_legend(browser_page, minilm_outputs, tmp_path):
    html, doc = minilm_outputs
    page = browser_page
    page.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
    page.open(html.resolve().as_uri())
    page.wait_for("document.body.dataset.ready === 'true'")

    # Hovering a point shows its layer and value (the highest point of the alpha panel, by block and role: the
    # legend's corner); the legend covers none of the points.
    tips = page.evaluate(
        "Array.from(document.querySelectorAll('#overview g.panel[data-panel=alpha] g.point')).map(g => g.querySelector('title').textContent)"
    )
    values = [float(re.search(r"α = ([-\d.]+)", t).group(1)) for t in tips]
    top = values.index(max(values))
    by_name = {layer["name"]: layer for layer in doc["layers"]}
    name = re.match(r"#\d+ (\S+)\n", tips[top]).group(1)
    assert f"α = {by_name[name]['alpha']:.3f}" in tips[top]
    x, y = centre(page, "#overview g.panel[data-panel=alpha] g.point", top)
    assert hover(page, x, y) == tips[top]
    assert page.evaluate(LEGEND_COVERS) == 0

    # Dragging a box zooms into it: new limits, new ticks; the legend moves clear of the points in view.
    before = page.evaluate(TICKS)
    box = page.evaluate(
        "(() => { const r = document.querySelector('#overview g.panel[data-panel=alpha] svg.plot').getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; })()"
    )
    drag(page, (box[0] + 10, box[1] + box[3] - 10), (box[0] + box[2] / 2, box[1] + box[3] / 2))
    view = page.evaluate("document.querySelector('#overview g.panel[data-panel=alpha] svg.plot').dataset.view")
    x0, x1, y0, y1 = map(float, view.split())
    assert 0 < x1 - x0 < 4 and 0 < y1 - y0 < 5  # about half of the 6 blocks (-0.5 to 5.5) by half of the alpha axis
    after = page.evaluate(TICKS)
    assert after != before and len(after) >= 4
    assert page.evaluate(LEGEND_COVERS) == 0
    assert "block = " in hover(page, box[0] + 30, box[1] + 30)  # the read-out under the pointer, in the zoomed range
    screenshot(page, tmp_path, "report_minilm_zoom.png")
    page.call("Input.dispatchMouseEvent", type="mousePressed", x=box[0] + 30, y=box[1] + 30, button="left", clickCount=2)
    page.call("Input.dispatchMouseEvent", type="mouseReleased", x=box[0] + 30, y=box[1] + 30, button="left", clickCount=2)
    assert page.evaluate(TICKS) == before  # a double click zooms back out

    # A layer's plots: the read-out gives the eigenvalue under the pointer and the histogram bin there.
    page.evaluate("location.hash = '#layer-5'")  # its name wraps over two lines: open it by its address
    page.wait_for("document.querySelector('#layer-5 svg.ns-figure') !== null")
    x, y = centre(page, "#layer-5 g.panel[data-panel=esd] svg.plot", 0)
    readout = hover(page, x, y)
    assert readout.startswith("λ = ") and "p(λ) = " in readout and "\nbin " in readout, readout
    no_errors(page)


def test_compare_and_side_by_side_pages_in_a_real_browser(browser_page, small_model_writer, tmp_path):
    from netspectra.cli import main

    a, b = small_model_writer(tmp_path / "a.safetensors", seed=0), small_model_writer(tmp_path / "b.safetensors", seed=1)
    compare, both, store = tmp_path / "compare.html", tmp_path / "both.html", tmp_path / "runs.db"
    assert main(["compare", str(a), str(b), "--report", str(compare), "--quiet", "--no-depth"]) == 0
    for model in (a, b):
        assert main(["analyze", str(model), "--store", str(store), "--quiet", "--no-depth"]) == 0
    assert main(["report", "1", "2", "--store", str(store), "-o", str(both), "--quiet"]) == 0
    page = browser_page
    page.call("Emulation.setDeviceMetricsOverride", width=1400, height=1000, deviceScaleFactor=1, mobile=False)
    for path, panel in ((compare, "change"), (both, "change")):
        page.events.clear()
        page.open(path.resolve().as_uri())
        page.wait_for("document.body.dataset.ready === 'true'")
        no_errors(page)
        x, y = centre(page, f"g.panel[data-panel={panel}] g.point", 0)
        assert hover(page, x, y).startswith("#0 blocks.0.random.weight\n")
        x, y = centre(page, "g.panel[data-panel=alpha] g.point", 0)
        assert "α A = " in hover(page, x, y)
        assert page.evaluate(
            "(() => { const w = document.querySelector('.table-wrap'); return w.scrollWidth <= w.clientWidth; })()"
        )
        page.click("table.sortable th[data-key='delta_alpha'] button")
        deltas = [
            float(v) if v else math.nan
            for v in page.evaluate(
                "Array.from(document.querySelectorAll('table.sortable tbody tr')).map(r => r.querySelector('td:nth-child(5)').dataset.v)"
            )
        ]
        finite = [d for d in deltas if not math.isnan(d)]
        assert finite == sorted(finite) and len(finite) >= 2
    assert page.evaluate("document.querySelectorAll('.side-by-side > section.summary').length") == 2
    screenshot(page, tmp_path, "report_runs_side_by_side.png")


def test_each_filter_box_filters_its_own_table(browser_page, small_model_writer, tmp_path):
    """The track page holds two tables (by step, by layer): the layers' filter box filters the layers' table."""
    from netspectra.cli import main

    run = tmp_path / "run"
    run.mkdir()
    for step, seed in ((0, 0), (100, 1)):
        small_model_writer(run / f"step_{step}.safetensors", seed=seed)
    html = tmp_path / "track.html"
    assert main(["track", str(run), "--report", str(html), "--quiet", "--exclude", "broken"]) == 0
    page = browser_page
    page.open(html.resolve().as_uri())
    page.wait_for("document.body.dataset.ready === 'true'")
    assert page.evaluate("document.querySelectorAll('input.row-filter').length") == 1  # the steps have no names
    box = "document.querySelector('section.rows:last-of-type input.row-filter')"
    page.evaluate(f"(() => {{ const f = {box}; f.value = 'spiked'; f.dispatchEvent(new Event('input')); }})()")
    shown = page.evaluate(
        "Array.from(document.querySelectorAll('table.sortable')).map(t => Array.from(t.tBodies[0].rows).filter(r => !r.hidden).length)"
    )
    assert shown == [2, 1]  # both steps still listed; one layer of three
    assert page.evaluate("document.querySelector('.filter-count').textContent") == "1 of 3 rows"
    no_errors(page)
