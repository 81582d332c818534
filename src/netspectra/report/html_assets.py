"""The inline stylesheet and scripts of the HTML views (no external files, fonts or scripts; no third-party
code: every line is this package's).

Kept as Python strings so that they ship with the package without package-data configuration.  Every rule
of :data:`CSS` sits under the ``.nsr`` class, so that a view embedded in a notebook's output
(:mod:`netspectra.report.notebook`) styles itself and nothing around it; :data:`PAGE_CSS` adds the page
layout of a standalone file.

* :data:`ERROR_SCRIPT` runs first, in ``<head>``: any JavaScript error (a syntax error in the main script
  included) is shown in the ``#js-errors`` box at the top of the page, where a reader and a test see it.
* :data:`MAIN_SCRIPT` sets up every ``.nsr`` element of the page not yet set up (a notebook shows several):
  click a column header of a ``table.sortable`` to sort it (again to reverse; missing values last); type in
  the filter box to show matching rows; a ``<details>`` element inserts its plot (held in a
  ``<template>``, so never laid out until then) when first opened; ``#layer-N`` in the URL opens and shows
  that layer.  On the figures (:mod:`netspectra.report.svg`): hovering a point, a rule or a curve shows
  its ``<title>`` at once, hovering a plotting area shows the coordinates under the pointer and the
  histogram bin there; dragging a box zooms into it (a flat box zooms x only, a thin one y only), with
  the ticks redrawn for the new range and the legend moved to a corner free of points; a double click
  zooms back out.
"""

PAGE_CSS = """
body { margin: 0; background: #fff; }
body.nsr > header, body.nsr > main, body.nsr > footer { max-width: 1640px; margin: 0 auto; padding: 0 20px; }
body.nsr > header { padding-top: 18px; }
#js-errors { margin: 10px 20px; padding: 10px 14px; border: 2px solid #cf222e; background: #ffebe9;
  color: #cf222e; font-weight: 600; white-space: pre-wrap; }
@media (max-width: 700px) { body.nsr { font-size: 14px; } }
"""

CSS = """
.nsr { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg-soft: #f6f8fa; --accent: #0969da;
  --over: #cf222e; --under: #bc4c00; --note: #59636e; --ok: #1a7f37;
  color: var(--fg); background: #fff; text-align: left;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
.nsr * { box-sizing: border-box; }
.nsr h1 { font-size: 1.45rem; margin: 0 0 4px; overflow-wrap: anywhere; }
.nsr h2 { font-size: 1.15rem; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.nsr h3 { font-size: 1rem; margin: 16px 0 6px; }
.nsr .meta, .nsr .hint, .nsr footer { color: var(--muted); font-size: 0.85rem; }
.nsr .meta code { overflow-wrap: anywhere; }
.nsr .verdict { font-size: 1.05rem; margin: 6px 0 14px; padding: 10px 14px; background: var(--bg-soft);
  border-left: 4px solid var(--accent); }
.nsr .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(118px, 1fr)); gap: 10px; }
.nsr .card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; }
.nsr .card .value { font-size: 1.35rem; font-weight: 650; font-variant-numeric: tabular-nums; }
.nsr .card .label { font-size: 0.85rem; font-weight: 600; }
.nsr .card .hint { font-size: 0.75rem; }
.nsr .card.bad .value { color: var(--over); }
.nsr .card.warn .value { color: var(--under); }
.nsr .side-by-side { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 24px; }
.nsr .side-by-side > section { min-width: 0; }
.nsr ul.warnings { list-style: none; padding: 0; margin: 0; columns: 2 420px; }
.nsr ul.warnings li { padding: 2px 0; break-inside: avoid; }
.nsr .badge { display: inline-block; font-size: 0.72rem; font-weight: 600; padding: 1px 7px; border-radius: 10px;
  margin: 1px 3px 1px 0; border: 1px solid currentColor; white-space: nowrap; }
.nsr .badge.over-trained, .nsr .badge.error, .nsr .badge.incompatible { color: var(--over); }
.nsr .badge.under-trained, .nsr .badge.rank-collapse, .nsr .badge.large-entries, .nsr .badge.caution,
  .nsr .badge.flagged { color: var(--under); }
.nsr .badge.fit-failed, .nsr .badge.note { color: var(--note); }
.nsr .badge.compatible { color: var(--ok); }
.nsr .figure { overflow-x: auto; }
.nsr .figure svg { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px;
  background: #fff; }
.nsr svg .plot { cursor: crosshair; }
.nsr svg .zoombox { fill: var(--accent); fill-opacity: 0.12; stroke: var(--accent); stroke-width: 1; }
.nsr .toolbar { display: flex; flex-wrap: wrap; gap: 12px; align-items: center; margin-bottom: 8px; }
.nsr .toolbar input { font: inherit; padding: 4px 8px; min-width: 260px; border: 1px solid var(--line); border-radius: 6px; }
.nsr .table-wrap { overflow: auto; max-height: 75vh; border: 1px solid var(--line); border-radius: 6px; }
.nsr table { border-collapse: collapse; width: 100%; font-size: 0.85rem; font-variant-numeric: tabular-nums; }
.nsr th, .nsr td { padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; text-align: right; }
.nsr th.text, .nsr td.text { text-align: left; }
.nsr table.layers { font-size: 0.8rem; }
.nsr table.layers th, .nsr table.layers td { padding: 4px 5px; }
.nsr table.layers td.text, .nsr table.layers thead th { white-space: normal; }
.nsr td.name { min-width: 10em; max-width: 24em; white-space: normal; overflow-wrap: break-word; }
.nsr td.labels { white-space: normal; min-width: 7em; }
.nsr thead th { position: sticky; top: 0; background: var(--bg-soft); z-index: 1; }
.nsr thead th button { all: unset; cursor: pointer; font-weight: 650; }
.nsr thead th button:focus-visible { outline: 2px solid var(--accent); }
.nsr thead th[aria-sort="ascending"] button::after { content: " \\25B2"; font-size: 0.7em; }
.nsr thead th[aria-sort="descending"] button::after { content: " \\25BC"; font-size: 0.7em; }
.nsr tbody tr:nth-child(even) { background: #fbfcfd; }
.nsr tbody tr:hover { background: #eef4fc; }
.nsr tbody tr.flag-over-trained, .nsr tbody tr.flag-error, .nsr tbody tr.flag-incompatible { background: #fff5f5; }
.nsr tbody tr.flag-under-trained, .nsr tbody tr.flag-rank-collapse, .nsr tbody tr.flag-caution,
  .nsr tbody tr.flag-flagged, .nsr tbody tr.flag-outlier { background: #fff8ef; }
.nsr td.alpha-over { color: var(--over); font-weight: 650; }
.nsr td.alpha-under { color: var(--under); font-weight: 650; }
.nsr a { color: var(--accent); text-decoration: none; }
.nsr a:hover { text-decoration: underline; }
.nsr details.layer { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; }
.nsr details.layer > summary { cursor: pointer; padding: 6px 10px; overflow-wrap: anywhere; }
.nsr details.layer[open] > summary { border-bottom: 1px solid var(--line); background: var(--bg-soft); }
.nsr details.layer .body { padding: 10px; }
.nsr details.layer .idx { display: inline-block; min-width: 2.5em; color: var(--muted); font-variant-numeric: tabular-nums; }
.nsr dl.metrics { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 2px 18px;
  font-size: 0.8rem; margin: 10px 0 0; }
.nsr dl.metrics div { display: flex; justify-content: space-between; gap: 8px; border-bottom: 1px dotted var(--line); }
.nsr dl.metrics dt { color: var(--muted); }
.nsr dl.metrics dd { margin: 0; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; text-align: right; }
.nsr footer { margin-top: 30px; padding-bottom: 30px; }
.ns-tip { position: fixed; z-index: 1000; pointer-events: none; max-width: 520px; padding: 4px 8px; border-radius: 4px;
  background: #1f2328; color: #fff; font: 12px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
  white-space: pre-wrap; box-shadow: 0 2px 6px rgba(0, 0, 0, 0.25); }
@media (max-width: 700px) { .nsr .toolbar input { min-width: 0; width: 100%; } }
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
  const SVGNS = "http://www.w3.org/2000/svg";
  const SUPERSCRIPT = {"-": "\\u207b", "0": "\\u2070", "1": "\\u00b9", "2": "\\u00b2", "3": "\\u00b3", "4": "\\u2074",
    "5": "\\u2075", "6": "\\u2076", "7": "\\u2077", "8": "\\u2078", "9": "\\u2079"};
  const sup = function (n) { return String(n).split("").map(function (c) { return SUPERSCRIPT[c] || c; }).join(""); };

  /* ---- numbers and ticks: the same rules as netspectra.report.svg (nice_ticks, tick_label) ---- */
  function niceTicks(lo, hi, count) {
    if (!(isFinite(lo) && isFinite(hi)) || hi <= lo) return isFinite(lo) ? [lo] : [];
    const raw = (hi - lo) / count, power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map(function (m) { return m * power; }).find(function (s) { return s >= raw; });
    const first = Math.ceil(lo / step - 1e-9) * step, out = [];
    for (let i = 0; first + i * step <= hi + 1e-9 * step; i++) out.push(first + i * step);
    return out;
  }
  function short(v) { return String(Number(v.toPrecision(3))); }
  function tickLabel(v) {
    if (v === 0) return "0";
    const m = Math.abs(v);
    if (m >= 1e4 || m < 1e-2) {
      const parts = v.toExponential(2).split("e");
      return parts[0].replace(/\\.?0+$/, "") + "\\u00d710" + sup(Number(parts[1]));
    }
    return short(v);
  }
  function readout(v) {
    if (!isFinite(v)) return String(v);
    const m = Math.abs(v);
    return m !== 0 && (m >= 1e5 || m < 1e-3) ? v.toExponential(3) : String(Number(v.toPrecision(4)));
  }
  function ticks(lo, hi, log) {
    if (log && hi / lo >= 10) {
      const first = Math.ceil(Math.log10(lo) - 1e-9), last = Math.floor(Math.log10(hi) + 1e-9);
      const step = Math.max(1, Math.ceil((last - first + 1) / 6)), out = [];
      for (let d = first; d <= last; d += step) out.push([Math.pow(10, d), "10" + sup(d)]);
      return out;
    }
    return niceTicks(lo, hi, 5).filter(function (v) { return !log || v > 0; }).map(function (v) { return [v, tickLabel(v)]; });
  }

  /* ---- a plotting area's axes: data-xlim, data-ylim, data-log, data-names, data-view (the zoom) ---- */
  function axes(plot) {
    const pair = function (s) { return s.split(" ").map(Number); };
    const log = plot.dataset.log || "";
    const a = {x: Number(plot.getAttribute("x")), y: Number(plot.getAttribute("y")),
      w: Number(plot.getAttribute("width")), h: Number(plot.getAttribute("height")),
      xlog: log.indexOf("x") >= 0, ylog: log.indexOf("y") >= 0,
      xlim: pair(plot.dataset.xlim), ylim: pair(plot.dataset.ylim), names: (plot.dataset.names || "x|y").split("|")};
    a.view = plot.dataset.view ? pair(plot.dataset.view) : a.xlim.concat(a.ylim);
    return a;
  }
  const fwd = function (v, log) { return log ? Math.log10(v) : v; };
  const inv = function (u, log) { return log ? Math.pow(10, u) : u; };
  function frac(v, lo, hi, log) { return (fwd(v, log) - fwd(lo, log)) / (fwd(hi, log) - fwd(lo, log)); }
  function lerp(t, lo, hi, log) { return inv(fwd(lo, log) + t * (fwd(hi, log) - fwd(lo, log)), log); }
  /* data coordinates of figure pixel (X, Y) in the current view */
  function dataAt(a, X, Y) {
    return [lerp((X - a.x) / a.w, a.view[0], a.view[1], a.xlog), lerp(1 - (Y - a.y) / a.h, a.view[2], a.view[3], a.ylog)];
  }
  function figurePoint(figure, event) {
    const p = figure.createSVGPoint();
    p.x = event.clientX;
    p.y = event.clientY;
    return p.matrixTransform(figure.getScreenCTM().inverse());
  }
  function element(name, attributes, text) {
    const e = document.createElementNS(SVGNS, name);
    Object.keys(attributes).forEach(function (k) { e.setAttribute(k, attributes[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function drawTicks(plot) {
    const a = axes(plot), panel = plot.closest("g.panel");
    const grid = panel.querySelector("g.grid"), labels = panel.querySelector("g.ticks");
    grid.replaceChildren();
    labels.replaceChildren();
    ticks(a.view[0], a.view[1], a.xlog).forEach(function (t) {
      const X = a.x + a.w * frac(t[0], a.view[0], a.view[1], a.xlog);
      if (X < a.x - 0.5 || X > a.x + a.w + 0.5) return;
      grid.append(element("line", {x1: X, x2: X, y1: a.y, y2: a.y + a.h}));
      labels.append(element("text", {x: X, y: a.y + a.h + 13, "text-anchor": "middle"}, t[1]));
    });
    ticks(a.view[2], a.view[3], a.ylog).forEach(function (t) {
      const Y = a.y + a.h * (1 - frac(t[0], a.view[2], a.view[3], a.ylog));
      if (Y < a.y - 0.5 || Y > a.y + a.h + 0.5) return;
      grid.append(element("line", {x1: a.x, x2: a.x + a.w, y1: Y, y2: Y}));
      labels.append(element("text", {x: a.x - 4, y: Y + 3.5, "text-anchor": "end"}, t[1]));
    });
  }
  function setView(plot, view) {
    const a = axes(plot);
    if (view === null) {
      delete plot.dataset.view;
      plot.setAttribute("viewBox", [a.x, a.y, a.w, a.h].join(" "));
    } else {
      /* the view in the pixels of the full range: what the marks were drawn in */
      const x0 = a.x + a.w * frac(view[0], a.xlim[0], a.xlim[1], a.xlog);
      const x1 = a.x + a.w * frac(view[1], a.xlim[0], a.xlim[1], a.xlog);
      const y0 = a.y + a.h * (1 - frac(view[3], a.ylim[0], a.ylim[1], a.ylog));
      const y1 = a.y + a.h * (1 - frac(view[2], a.ylim[0], a.ylim[1], a.ylog));
      plot.dataset.view = view.join(" ");
      plot.setAttribute("viewBox", [x0, y0, x1 - x0, y1 - y0].join(" "));
    }
    drawTicks(plot);
    placeLegend(plot);
  }
  /* the legend to the corner of the plotting area that covers no point in the view (faded if none is free) */
  function placeLegend(plot) {
    const legend = plot.closest("g.panel").querySelector("g.legend");
    if (!legend) return;
    legend.removeAttribute("transform");
    const a = axes(plot), box = legend.getBBox(), gap = 4, ctm = plot.ownerSVGElement.getScreenCTM();
    const points = Array.from(plot.querySelectorAll("g.point")).map(function (g) {
      const r = g.getBoundingClientRect();
      return [(r.left + r.width / 2 - ctm.e) / ctm.a, (r.top + r.height / 2 - ctm.f) / ctm.d, r.width / 2 / ctm.a];
    });
    const right = a.x + a.w - box.width - gap, bottom = a.y + a.h - box.height - gap;
    let best = null;
    [[right, a.y + gap], [a.x + gap, a.y + gap], [right, bottom], [a.x + gap, bottom]].forEach(function (c) {
      const hidden = points.filter(function (p) {
        return p[0] > c[0] - p[2] && p[0] < c[0] + box.width + p[2] && p[1] > c[1] - p[2] && p[1] < c[1] + box.height + p[2];
      }).length;
      if (best === null || hidden < best[0]) best = [hidden, c];
    });
    legend.setAttribute("transform", "translate(" + (best[1][0] - box.x) + " " + (best[1][1] - box.y) + ")");
    legend.style.opacity = best[0] ? "0.3" : "";
  }

  /* ---- hover: a mark's title, or the coordinates and the histogram bin under the pointer ---- */
  function tipOf(mark) {
    const title = mark.querySelector(":scope > title");
    if (title) {
      mark.dataset.tip = title.textContent;
      title.remove();  /* the page's tooltip replaces the browser's */
    }
    return mark.dataset.tip || "";
  }
  function binText(plot, x) {
    const out = [];
    plot.querySelectorAll("polygon.bins").forEach(function (bins) {
      const halves = bins.dataset.bins.split(";"), edges = halves[0].split(" ").map(Number);
      const values = halves[1].split(" ").map(Number);
      for (let i = 0; i < values.length; i++) {
        if (edges[i] <= x && x < edges[i + 1]) {
          out.push("bin " + readout(edges[i]) + " \\u2013 " + readout(edges[i + 1]) + ": " + readout(values[i]));
          break;
        }
      }
    });
    return out.join("\\n");
  }
  function hoverText(target, event) {
    const mark = target.closest("g.point") || target.closest("polyline, line");
    if (mark && mark.closest("svg.plot") && (mark.dataset.tip || mark.querySelector(":scope > title"))) return tipOf(mark);
    const plot = target.closest("svg.plot");
    if (!plot) return "";
    const a = axes(plot), p = figurePoint(plot.ownerSVGElement, event), at = dataAt(a, p.x, p.y);
    const line = a.names[0] + " = " + readout(at[0]) + ",  " + a.names[1] + " = " + readout(at[1]);
    const bin = binText(plot, at[0]);
    return bin ? line + "\\n" + bin : line;
  }

  /* ---- tables: sort by a header, filter by name ---- */
  function cellValue(row, index, numeric) {
    const raw = row.cells[index].dataset.v;
    if (!numeric) return raw === undefined ? row.cells[index].textContent : raw;
    return raw === undefined || raw === "" ? NaN : Number(raw);
  }
  function sortBy(table, th) {
    const body = table.tBodies[0];
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
  function hydrate(details) {
    const template = details.querySelector("template");
    if (template) template.replaceWith(template.content.cloneNode(true));
  }

  function init(root) {
    root.dataset.ready = "true";
    root.querySelectorAll("table.sortable").forEach(function (table) {
      table.querySelectorAll("thead th").forEach(function (th) {
        const button = th.querySelector("button");
        if (button) button.addEventListener("click", function () { sortBy(table, th); });
      });
    });
    root.querySelectorAll("input.row-filter").forEach(function (filter) {
      const section = filter.closest("section") || root;  /* a page may hold several tables, each in its section */
      const table = section.querySelector("table.sortable");
      const count = section.querySelector(".filter-count");
      filter.addEventListener("input", function () {
        const needle = filter.value.trim().toLowerCase();
        let shown = 0;
        Array.from(table.tBodies[0].rows).forEach(function (row) {
          const match = (row.dataset.name || "").toLowerCase().includes(needle);
          row.hidden = !match;
          shown += match;
          const details = root.querySelector("details.layer[data-pos='" + row.dataset.pos + "']");
          if (details) details.hidden = !match;
        });
        if (count) count.textContent = needle ? shown + " of " + table.tBodies[0].rows.length + " rows" : "";
      });
    });
    root.addEventListener("toggle", function (e) {
      if (e.target.matches && e.target.matches("details.layer") && e.target.open) hydrate(e.target);
    }, true);

    const tip = document.createElement("div");
    tip.className = "ns-tip";
    tip.setAttribute("role", "tooltip");
    tip.hidden = true;
    root.append(tip);
    let drag = null;
    function showTip(text, event) {
      if (!text) { tip.hidden = true; return; }
      tip.textContent = text;
      tip.hidden = false;
      const x = Math.min(event.clientX + 14, innerWidth - tip.offsetWidth - 4);
      const y = event.clientY + 16 + tip.offsetHeight > innerHeight ? event.clientY - tip.offsetHeight - 8 : event.clientY + 16;
      tip.style.left = Math.max(0, x) + "px";
      tip.style.top = Math.max(0, y) + "px";
    }
    root.addEventListener("mousemove", function (e) {
      if (drag) {
        const p = figurePoint(drag.figure, e), a = drag.axes;
        const x = Math.min(Math.max(p.x, a.x), a.x + a.w), y = Math.min(Math.max(p.y, a.y), a.y + a.h);
        drag.box.setAttribute("x", Math.min(x, drag.x));
        drag.box.setAttribute("y", Math.min(y, drag.y));
        drag.box.setAttribute("width", Math.abs(x - drag.x));
        drag.box.setAttribute("height", Math.abs(y - drag.y));
        tip.hidden = true;
        return;
      }
      showTip(e.target.closest ? hoverText(e.target, e) : "", e);
    });
    root.addEventListener("mouseleave", function () { tip.hidden = true; });
    root.addEventListener("mousedown", function (e) {
      const plot = e.button === 0 && e.target.closest ? e.target.closest("svg.plot") : null;
      if (!plot) return;
      const figure = plot.ownerSVGElement, p = figurePoint(figure, e);
      const box = element("rect", {"class": "zoombox", x: p.x, y: p.y, width: 0, height: 0});
      figure.append(box);
      drag = {plot: plot, figure: figure, axes: axes(plot), x: p.x, y: p.y, box: box};
      e.preventDefault();
    });
    document.addEventListener("mouseup", function () {
      if (!drag) return;
      const d = drag, a = d.axes;
      drag = null;
      const bx = Number(d.box.getAttribute("x")), by = Number(d.box.getAttribute("y"));
      const bw = Number(d.box.getAttribute("width")), bh = Number(d.box.getAttribute("height"));
      d.box.remove();
      if (bw < 5 && bh < 5) return;  /* a click, not a box */
      const lo = dataAt(a, bx, by + bh), hi = dataAt(a, bx + bw, by);
      setView(d.plot, [
        bw >= 5 ? lo[0] : a.view[0], bw >= 5 ? hi[0] : a.view[1],
        bh >= 5 ? lo[1] : a.view[2], bh >= 5 ? hi[1] : a.view[3],
      ]);
    });
    root.addEventListener("dblclick", function (e) {
      const plot = e.target.closest ? e.target.closest("svg.plot") : null;
      if (plot) setView(plot, null);
    });
  }

  function showHash() {
    const target = location.hash.length > 1 ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
    if (target && target.matches("details.layer")) {
      target.open = true;
      hydrate(target);
      target.scrollIntoView();
    }
  }
  document.querySelectorAll(".nsr:not([data-ready])").forEach(init);
  if (document.body.classList.contains("nsr")) {
    window.addEventListener("hashchange", showHash);
    showHash();
  }
})();
"""
