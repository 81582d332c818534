"""The inline stylesheet and scripts of the HTML report (no external files, fonts or scripts).

Kept as Python strings so that they ship with the package without package-data configuration.

* :data:`ERROR_SCRIPT` runs first, in ``<head>``: any JavaScript error (a syntax error in the main script
  included) is shown in the ``#js-errors`` box at the top of the page, where a reader and a test see it.
* :data:`MAIN_SCRIPT`: click a column header to sort the layer table (again to reverse; missing values
  last); type in the filter box to show matching layers; a ``<details>`` element inserts its plot
  (held in a ``<template>``, so never decoded until then) when first opened; ``#layer-N`` in the URL
  opens and shows that layer.
"""

CSS = """
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-soft: #f6f8fa; --accent: #0969da;
  --over: #cf222e; --under: #bc4c00; --note: #59636e; --ok: #1a7f37; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--fg); background: #fff; line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header, main, footer { max-width: 1280px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; }
h1 { font-size: 1.45rem; margin: 0 0 4px; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 1rem; margin: 16px 0 6px; }
.meta, .hint, footer { color: var(--muted); font-size: 0.85rem; }
.meta code { overflow-wrap: anywhere; }
#js-errors { margin: 10px 20px; padding: 10px 14px; border: 2px solid var(--over); background: #ffebe9;
  color: var(--over); font-weight: 600; white-space: pre-wrap; }
.verdict { font-size: 1.05rem; margin: 6px 0 14px; padding: 10px 14px; background: var(--bg-soft);
  border-left: 4px solid var(--accent); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(118px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.card .value { font-size: 1.35rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .label { font-size: 0.85rem; font-weight: 600; }
.card .hint { font-size: 0.75rem; }
.card.bad .value { color: var(--over); }
.card.warn .value { color: var(--under); }
ul.warnings { list-style: none; padding: 0; margin: 0; columns: 2 420px; }
ul.warnings li { padding: 2px 0; break-inside: avoid; }
.badge { display: inline-block; font-size: 0.72rem; font-weight: 600; padding: 1px 7px; border-radius: 10px;
  margin-right: 3px; border: 1px solid currentColor; white-space: nowrap; }
.badge.over-trained, .badge.error { color: var(--over); }
.badge.under-trained, .badge.rank-collapse, .badge.large-entries { color: var(--under); }
.badge.fit-failed, .badge.note { color: var(--note); }
.figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
.toolbar { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin-bottom: 8px; }
.toolbar input { font: inherit; padding: 4px 8px; min-width: 260px; border: 1px solid var(--line); border-radius: 6px; }
.table-wrap { overflow: auto; max-height: 75vh; border: 1px solid var(--line); border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 0.85rem; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; text-align: right; }
th.text, td.text { text-align: left; }
td.name { max-width: 420px; overflow: hidden; text-overflow: ellipsis; }
thead th { position: sticky; top: 0; background: var(--bg-soft); z-index: 1; }
thead th button { all: unset; cursor: pointer; font-weight: 650; }
thead th button:focus-visible { outline: 2px solid var(--accent); }
thead th[aria-sort="ascending"] button::after { content: " \\25B2"; font-size: 0.7em; }
thead th[aria-sort="descending"] button::after { content: " \\25BC"; font-size: 0.7em; }
tbody tr:nth-child(even) { background: #fbfcfd; }
tbody tr:hover { background: #eef4fc; }
tbody tr.flag-over-trained, tbody tr.flag-error { background: #fff5f5; }
tbody tr.flag-under-trained, tbody tr.flag-rank-collapse, tbody tr.flag-outlier { background: #fff8ef; }
td.alpha-over { color: var(--over); font-weight: 650; }
td.alpha-under { color: var(--under); font-weight: 650; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
details.layer { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; }
details.layer > summary { cursor: pointer; padding: 6px 10px; overflow-wrap: anywhere; }
details.layer[open] > summary { border-bottom: 1px solid var(--line); background: var(--bg-soft); }
details.layer .body { padding: 10px; }
details.layer .idx { display: inline-block; min-width: 2.5em; color: var(--muted); font-variant-numeric: tabular-nums; }
dl.metrics { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 2px 18px;
  font-size: 0.8rem; margin: 10px 0 0; }
dl.metrics div { display: flex; justify-content: space-between; gap: 8px; border-bottom: 1px dotted var(--line); }
dl.metrics dt { color: var(--muted); }
dl.metrics dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; text-align: right; }
footer { margin-top: 30px; padding-bottom: 30px; }
@media (max-width: 700px) { body { font-size: 14px; } .toolbar input { min-width: 0; width: 100%; } }
"""

ERROR_SCRIPT = """
(function () {
  function show(message) {
    var box = document.getElementById("js-errors");
    if (!box) { document.addEventListener("DOMContentLoaded", function () { show(message); }); return; }
    box.hidden = false;
    box.textContent += "JavaScript error: " + message + "\\n";
  }
  window.addEventListener("error", function (e) { show(e.message || String(e)); });
  window.addEventListener("unhandledrejection", function (e) { show(String(e.reason)); });
})();
"""

MAIN_SCRIPT = """
"use strict";
(function () {
  const table = document.getElementById("layer-table");
  const body = table.tBodies[0];

  function cellValue(row, index, numeric) {
    const raw = row.cells[index].dataset.v;
    if (!numeric) return raw;
    return raw === undefined || raw === "" ? NaN : Number(raw);
  }

  function sortBy(th) {
    const index = Array.prototype.indexOf.call(th.parentNode.children, th);
    const numeric = th.dataset.type === "num";
    const order = th.getAttribute("aria-sort") === "ascending" ? "descending" : "ascending";
    const sign = order === "ascending" ? 1 : -1;
    table.querySelectorAll("thead th[aria-sort]").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", order);
    const rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      const x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      let c;
      if (numeric) {
        if (isNaN(x) || isNaN(y)) c = isNaN(x) - isNaN(y);  /* missing values last, either way */
        else c = sign * (x - y);
      } else {
        c = sign * x.localeCompare(y);
      }
      return c || Number(a.dataset.pos) - Number(b.dataset.pos);
    });
    body.append.apply(body, rows);
  }

  table.querySelectorAll("thead th").forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () { sortBy(th); });
  });

  function hydrate(details) {
    const template = details.querySelector("template");
    if (template) template.replaceWith(template.content.cloneNode(true));
  }
  document.addEventListener("toggle", function (e) {
    if (e.target.matches && e.target.matches("details.layer") && e.target.open) hydrate(e.target);
  }, true);

  function showHash() {
    const target = location.hash.length > 1 ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
    if (target && target.matches("details.layer")) {
      target.open = true;
      hydrate(target);
      target.scrollIntoView();
    }
  }
  window.addEventListener("hashchange", showHash);
  showHash();

  const filter = document.getElementById("layer-filter");
  const count = document.getElementById("filter-count");
  filter.addEventListener("input", function () {
    const needle = filter.value.trim().toLowerCase();
    let shown = 0;
    Array.from(body.rows).forEach(function (row) {
      const match = row.dataset.name.toLowerCase().includes(needle);
      row.hidden = !match;
      shown += match;
      const details = document.getElementById("layer-" + row.dataset.pos);
      if (details) details.hidden = !match;
    });
    count.textContent = needle ? shown + " of " + body.rows.length + " layers" : "";
  });

  document.body.dataset.ready = "true";
})();
"""
