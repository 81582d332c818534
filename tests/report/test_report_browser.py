"""End to end, as a person would: the HTML report of the real all-MiniLM-L6-v2 opened in headless Chromium.

Needs /usr/bin/chromium (Debian package ``chromium``) and ``websocket-client``; skipped without them.
Set NETSPECTRA_SCREENSHOT_DIR to keep the screenshots (docs/report_minilm.png is made this way).
"""

from __future__ import annotations

import base64
import io
import math
import os
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

    # Plots are not decoded until a layer is opened; clicking its name opens it and shows the figure.
    assert page.evaluate("document.querySelectorAll('details.layer img').length") == 0
    assert page.evaluate("document.querySelectorAll('details.layer template').length") == 40
    page.click("#layer-table a[href='#layer-39']")
    page.wait_for("document.getElementById('layer-39').open")
    page.wait_for(
        "(() => { const i = document.querySelector('#layer-39 img'); return i && i.complete && i.naturalWidth > 0; })()"
    )
    assert page.evaluate("document.querySelector('#layer-39 img').naturalWidth") == 1200
    assert page.evaluate("document.querySelectorAll('details.layer img').length") == 1
    page.evaluate("document.getElementById('layer-39').scrollIntoView()")
    detail = screenshot(page, tmp_path, "report_minilm_layer.png")
    assert np.asarray(detail.convert("L")).std() > 20
