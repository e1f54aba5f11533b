// The backprop page (tinygrad_attn.viz_html.backprop_html). Reads the JSON in <script id="data">
// and draws: the gradient norm of each layer over training (a line chart on a log scale, then the
// same numbers as a table), and the backward tape of one step, one row per op in the order the
// engine ran them, each op linked to the file that defines its forward and backward.
"use strict";

const DATA = JSON.parse(document.getElementById("data").textContent);
const PALETTE = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
  "#666666", "#1f78b4", "#b2df8a", "#fb9a99", "#cab2d6"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

function svgEl(tag, attrs = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function fmt(x) {
  return x === null || x === undefined ? "const" : x.toExponential(2);
}

// ---- gradient norm per layer over training ----------------------------------------------------

// log10 of a norm; a zero norm (a frozen layer) is drawn at the floor of the chart.
function log10(x, floor) {
  return x > 0 ? Math.log10(x) : floor;
}

function normChart(steps, norms) {
  const names = Object.keys(norms);
  const all = names.flatMap((n) => norms[n]).filter((x) => x > 0);
  const lo = Math.floor(Math.log10(Math.min(...all))), hi = Math.ceil(Math.log10(Math.max(...all)));
  const W = 720, H = 300, left = 60, bottom = 30, right = 10, top = 10;
  const first = steps[0], span = Math.max(1, steps[steps.length - 1] - steps[0]);
  const x = (s) => left + ((s - first) / span) * (W - left - right);
  const y = (v) => top + ((hi - log10(v, lo)) / Math.max(1, hi - lo)) * (H - top - bottom);
  const svg = svgEl("svg", { width: W, height: H, id: "norm-chart" });
  for (let e = lo; e <= hi; e++) { // one grid line per decade
    const at = y(10 ** e);
    svg.append(svgEl("line", { x1: left, x2: W - right, y1: at, y2: at, stroke: "#eee" }));
    const label = svgEl("text", { x: 4, y: y(10 ** e) + 4 });
    label.textContent = `1e${e}`;
    svg.append(label);
  }
  const xLabel = svgEl("text", { x: W / 2, y: H - 6 });
  xLabel.textContent = `training step (${steps[0]} … ${steps[steps.length - 1]})`;
  svg.append(xLabel);
  names.forEach((name, i) => {
    const points = steps.map((s, k) => `${x(s).toFixed(1)},${y(norms[name][k]).toFixed(1)}`);
    const line = svgEl("polyline", { points: points.join(" "), fill: "none",
      stroke: PALETTE[i % PALETTE.length], "stroke-width": 2, "data-name": name });
    const tip = svgEl("title");
    tip.textContent = name;
    line.append(tip);
    svg.append(line);
  });
  const legend = el("div", { class: "controls" });
  names.forEach((name, i) => {
    const swatch = el("span", { class: "bar" });
    swatch.style.width = "14px";
    swatch.style.background = PALETTE[i % PALETTE.length];
    legend.append(el("span", {}, swatch, ` ${name}`));
  });
  return el("div", {}, svg, legend);
}

// The same norms as a table: a row per layer in model order, a column per recorded step (at most
// twelve, evenly spaced), each cell shaded by its log norm.
function normTable(steps, norms) {
  const picks = [...new Set(Array.from({ length: Math.min(12, steps.length) },
    (_, i) => Math.round((i * (steps.length - 1)) / Math.max(1, Math.min(12, steps.length) - 1))))];
  const all = Object.values(norms).flat().filter((v) => v > 0);
  const lo = Math.log10(Math.min(...all)), hi = Math.log10(Math.max(...all));
  const table = el("table", { class: "heat", id: "norm-table" });
  const header = picks.map((k) => el("th", {}, String(steps[k])));
  table.append(el("tr", {}, el("th", {}, "layer \\ step"), ...header));
  for (const [name, values] of Object.entries(norms)) {
    const row = el("tr", {}, el("th", {}, name));
    picks.forEach((k) => {
      const v = values[k];
      const cell = el("td", { title: String(v) }, v.toExponential(1));
      const t = v > 0 ? (Math.log10(v) - lo) / Math.max(1e-9, hi - lo) : 0;
      cell.style.background = `rgba(217, 95, 2, ${(0.1 + 0.8 * t).toFixed(3)})`;
      row.append(cell);
    });
    table.append(row);
  }
  return table;
}

// ---- the backward tape -----------------------------------------------------------------------

function tapeTable(tape) {
  const maxLog = Math.max(...tape.map((r) => log10(r.grad_out, -12)));
  const table = el("table", { class: "tape", id: "tape" },
    el("tr", {}, ...["#", "op (source)", "created at", "output", "|grad_out|",
      "inputs: shape |grad_in|"].map((h) => el("th", {}, h))));
  for (const r of tape) {
    const op = r.link ? el("a", { href: r.link, title: r.source }, r.op) : el("span", {}, r.op);
    const where = el("span", { class: "muted" }, r.source ? ` ${r.source}` : "");
    const bar = el("span", { class: "bar" });
    bar.style.width = `${Math.max(2, 60 + 6 * (log10(r.grad_out, -12) - maxLog))}px`;
    bar.style.background = "#fdae6b";
    const inputs = r.inputs.map((shape, i) => (shape === null ? null
      : `(${shape.join(", ")}) ${fmt(r.grad_in[i])}`)).filter((s) => s !== null).join(", ");
    table.append(el("tr", {}, el("td", {}, String(r.step)), el("td", {}, op, where),
      el("td", { class: "muted" }, r.site || ""), el("td", {}, `(${r.output.join(", ")})`),
      el("td", {}, bar, ` ${fmt(r.grad_out)}`), el("td", {}, inputs)));
  }
  return table;
}

function render() {
  const app = document.getElementById("app");
  app.append(el("h1", {}, DATA.title));
  app.append(el("p", { class: "help" }, "The backward pass as a picture. Above: how large the " +
    "gradient reaching each layer was during training (a layer whose line sinks towards zero " +
    "learns little: vanishing gradients). Below: one backward pass, op by op, in the order the " +
    "engine runs them, from the loss back to the weights; click an op to open its source."));
  const g = DATA.grad_norms;
  app.append(el("h2", {}, "gradient norm per layer over training"));
  if (g && g.steps.length) {
    app.append(normChart(g.steps, g.norms), normTable(g.steps, g.norms));
  } else {
    app.append(el("p", { class: "muted" }, "no gradient norms recorded"));
  }
  app.append(el("h2", {}, `the backward tape of one step: ${DATA.tape.length} ops`));
  if (DATA.tape.length) app.append(tapeTable(DATA.tape));
}

render();
