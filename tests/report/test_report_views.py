"""HTML views of compare, track, merge-check and merge (``--report FILE.html``), and two stored runs side by side
(``netspectra report RUN_A RUN_B``), as a user runs them (issue 29.4)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest
from safetensors.numpy import save_file

from netspectra.cli import main


class Page(HTMLParser):
    """The elements (tag, attributes) of a page, the text under each id, and whether every element closes."""

    VOID = ("img", "meta", "input", "br", "wbr")

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.text_by_id: dict[str, str] = {}
        self._stack: list[tuple[str, str | None]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if tag not in self.VOID:
            self._stack.append((tag, attrs.get("id")))
            if attrs.get("id"):
                self.text_by_id[attrs["id"]] = ""

    def handle_endtag(self, tag):
        assert self._stack and self._stack[-1][0] == tag, f"unbalanced </{tag}>"
        self._stack.pop()

    def handle_data(self, data):
        for _, element_id in self._stack:
            if element_id:
                self.text_by_id[element_id] += data


@pytest.fixture(scope="module")
def pair(tmp_path_factory, small_model_writer):
    """Two small models of the same layout (different seeds)."""
    folder = tmp_path_factory.mktemp("pair")
    return small_model_writer(folder / "a.safetensors", seed=0), small_model_writer(folder / "b.safetensors", seed=1)


def _self_contained(text: str) -> Page:
    page = Page(text)
    assert not page._stack and "default-src 'none'" in text
    assert not re.search(r"(src|href)=\"(https?:)?//", text) and "url(" not in text
    assert text.count("<script>") == 2  # the page's own two scripts
    return page


def _body_rows(page: Page) -> int:
    """Rows of the page's tables."""
    return len([a for t, a in page.elements if t == "tr" and "data-pos" in a])


def test_compare_report(pair, tmp_path, capsys):
    a, b = pair
    html = tmp_path / "views" / "compare.html"
    assert main(["compare", str(a), str(b), "--report", str(html), "--quiet", "--no-depth"]) == 0
    assert capsys.readouterr().out == ""  # --quiet: nothing printed
    text = html.read_text(encoding="utf-8")
    page = _self_contained(text)
    summary = page.text_by_id["comparison"]
    assert "4 layers matched (4 by name, 0 by shape)" in summary and "flagged" in summary
    assert _body_rows(page) == 4
    assert "blocks.1.spiked.weight" in text and "‖W_B − W_A‖_F / ‖W_A‖_F" in text  # the change panel
    assert text.count('class="point"') >= 8  # alpha of A and of B, with their tooltips
    assert "\nα A = " in text  # a point's tooltip: its layer, then its value


def test_compare_prints_where_the_report_went(pair, tmp_path, capsys):
    a, b = pair
    html = tmp_path / "c.html"
    assert main(["compare", str(a), str(b), "--report", str(html), "--no-depth", "--include", "random"]) == 0
    assert f"wrote {html}" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["compare", "merge-check"])
def test_a_bad_report_path_is_refused_before_any_work(pair, tmp_path, capsys, command):
    a, b = pair
    assert main([command, str(a), str(b), "--report", str(tmp_path / "r.pdf"), "--quiet"]) == 2
    assert "must end in .html" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_track_report(tmp_path, capsys, small_model_writer):
    run = tmp_path / "run"
    run.mkdir()
    for step, seed in ((0, 0), (100, 1), (200, 2)):
        small_model_writer(run / f"step_{step}.safetensors", seed=seed)
    html = tmp_path / "track.html"
    assert main(["track", str(run), "--report", str(html), "--quiet", "--include", "random|spiked|heavy"]) == 0
    page = _self_contained(html.read_text(encoding="utf-8"))
    assert "3 checkpoints (steps 0 to 200), 3 layers" in page.text_by_id["trajectory"]
    text = html.read_text(encoding="utf-8")
    assert "power-law exponent α" in text and "step 200: mean alpha = " in text
    assert _body_rows(page) == 3 + 3  # by step, by layer


def test_merge_check_and_merge_reports(pair, tmp_path, capsys):
    a, b = pair
    html = tmp_path / "check.html"
    finite = ["--exclude", "broken"]  # merging refuses a NaN matrix
    assert main(["merge-check", str(a), str(b), "--report", str(html), "--quiet", *finite]) == 0
    page = _self_contained(html.read_text(encoding="utf-8"))
    assert "Model verdict" in page.text_by_id["compatibility"] and _body_rows(page) == 3
    rng = np.random.default_rng(0)
    for name in ("x", "y"):  # merging refuses a NaN matrix: two finite models
        tensors = {f"blocks.{i}.weight": rng.standard_normal((60, 40)).astype(np.float32) for i in range(3)}
        save_file({**tensors, "blocks.0.bias": np.zeros(60, np.float32)}, str(tmp_path / f"{name}.safetensors"))
    config = tmp_path / "merge.yaml"
    config.write_text("models:\n  - {path: x.safetensors, weight: 1.0}\n  - {path: y.safetensors, weight: 1.0}\nmethod: linear\n")
    merged = tmp_path / "merged.html"
    assert main(["merge", str(config), "-o", str(tmp_path / "out"), "--report", str(merged), "--quiet"]) == 0
    page = _self_contained(merged.read_text(encoding="utf-8"))
    assert "tensors merged with linear" in page.text_by_id["merge"]
    assert _body_rows(page) == 4  # three matrices and a bias


def test_two_stored_runs_side_by_side(pair, tmp_path, capsys):
    a, b = pair
    store = tmp_path / "runs.db"
    for model in (a, b):
        assert main(["analyze", str(model), "--store", str(store), "--quiet", "--no-depth"]) == 0
    html = tmp_path / "both.html"
    assert main(["report", "1", "2", "--store", str(store), "-o", str(html)]) == 0
    assert f"wrote {html}" in capsys.readouterr().err
    page = _self_contained(html.read_text(encoding="utf-8"))
    assert page.text_by_id["summary-a"].startswith("A: a.safetensors") and page.text_by_id["summary-b"].startswith(
        "B: b.safetensors"
    )
    assert "of 3 fitted layers" in page.text_by_id["summary-a"]
    assert "4 layers matched (4 by name, 0 by shape)" in page.text_by_id["comparison"]
    assert "no weights diffed" in html.read_text(encoding="utf-8")  # stored rows: Δα by layer instead
    assert main(["report", "1", "2", "--store", str(store), "-o", str(html), "--plots", str(tmp_path / "p")]) == 2
    assert "two runs make one page side by side" in capsys.readouterr().err
    assert main(["report", "1", "2", "1", "--store", str(store), "-o", str(html)]) == 2
