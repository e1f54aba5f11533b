// The attention explorer (tinygrad_attn.viz_html.attention_html). Reads the JSON written into
// <script id="data"> and draws: the two token rows (queries below, keys above) with the weights
// of the selected token, the heat map of the chosen layer and head, one small map per head with
// what it does, and the decoding walk. Plain DOM code, no libraries: read it top to bottom.
"use strict";

const DATA = JSON.parse(document.getElementById("data").textContent);
const HIGHLIGHT = 0.15; // a key with at least this weight is "highlighted" (bold, linked)

// The three attentions of an encoder-decoder transformer, each a (L, H, queries, keys) array.
const KINDS = {
  cross: {
    label: "decoder → source (cross-attention)",
    keys: (s) => s.src_tokens,
    queries: (s) => s.tgt_tokens,
    help: "Each output token (below) is written while the decoder looks at the source (above).",
  },
  enc_self: {
    label: "encoder self-attention",
    keys: (s) => s.enc_tokens,
    queries: (s) => s.enc_tokens,
    help: "Each source token (below) gathers information from the source tokens (above).",
  },
  dec_self: {
    label: "decoder self-attention",
    keys: (s) => s.fed_tokens,
    queries: (s) => s.fed_tokens,
    help: "The decoder's inputs (<s> and what it wrote so far) look back at earlier inputs only.",
  },
};

// What is shown: a query (row) or a key (column) is selected; hover looks at another meanwhile.
const state = {
  sentence: 0, kind: "cross", layer: 0, head: "mean", query: 0, key: null, hover: null,
};

// ---- the numbers ----------------------------------------------------------------------------

function sentence() {
  return DATA.sentences[state.sentence];
}

// The (queries, keys) matrix of one layer and head; head "mean" averages the layer's heads.
function matrix(kind, layer, head) {
  const maps = sentence()[kind][layer]; // (H, Q, K)
  if (head !== "mean") return maps[head];
  return maps[0].map((row, i) =>
    row.map((_, j) => maps.reduce((sum, h) => sum + h[i][j], 0) / maps.length));
}

// What a head does, in three numbers averaged over its query rows: how peaked it is (the
// largest weight), how much goes to the last key (the end of the sentence), and how much to the
// key just before the query (the previous token; self-attention only).
function headScores(m, kind) {
  let peak = 0, end = 0, prev = 0;
  m.forEach((row, i) => {
    peak += Math.max(...row);
    end += row[row.length - 1];
    if (kind !== "cross" && i > 0) prev += row[i - 1];
  });
  const n = m.length;
  prev = kind === "cross" ? null : prev / Math.max(1, n - 1);
  return { peak: peak / n, end: end / n, prev };
}

// ---- small DOM helpers ------------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function blue(w) {
  return `rgba(8, 81, 156, ${Math.min(1, w).toFixed(3)})`;
}

function select(id, options, value, onchange) {
  const box = el("select", { id });
  options.forEach(([v, text]) => box.append(el("option", { value: String(v) }, text)));
  box.value = String(value);
  box.addEventListener("change", () => onchange(box.value));
  return box;
}

// ---- the page ---------------------------------------------------------------------------------

function render() {
  const app = document.getElementById("app");
  app.replaceChildren();
  app.dataset.highlight = HIGHLIGHT;
  const help = el("p", { class: "help" }, KINDS[state.kind].help);
  app.append(el("h1", {}, DATA.title), controls(), help);
  app.append(stage(), el("h2", {}, headTitle()), heatTable());
  app.append(el("h2", {}, `every layer and head of the ${KINDS[state.kind].label}`), headGrid());
  if (sentence().probs) app.append(el("h2", {}, "the decoding walk, step by step"), walkTable());
  paint();
}

function headTitle() {
  const head = state.head === "mean" ? "mean of the heads" : `head ${Number(state.head) + 1}`;
  return `${KINDS[state.kind].label}, layer ${state.layer + 1}, ${head}`;
}

function controls() {
  const s = sentence();
  const kinds = Object.keys(KINDS).filter((k) => s[k]).map((k) => [k, KINDS[k].label]);
  const layers = s[state.kind].map((_, l) => [l, `${l + 1}`]);
  const heads = s[state.kind][0].map((_, h) => [h, `${h + 1}`]).concat([["mean", "mean"]]);
  const names = DATA.sentences.map((t, i) => [i, t.name || t.src_tokens.join("")]);
  const change = (field, parse) => (value) => {
    state[field] = parse(value);
    if (field === "sentence" || field === "kind") {
      state.layer = Math.min(state.layer, sentence()[state.kind].length - 1);
      state.query = 0;
      state.key = null;
    }
    render();
  };
  return el("div", { class: "controls" },
    el("label", {}, "sentence "),
    select("sentence", names, state.sentence, change("sentence", Number)),
    el("label", {}, "attention "), select("kind", kinds, state.kind, change("kind", String)),
    el("label", {}, "layer "), select("layer", layers, state.layer, change("layer", Number)),
    el("label", {}, "head "),
    select("head", heads, state.head, change("head", (v) => (v === "mean" ? v : Number(v)))));
}

// Two rows of tokens: keys above, queries below. `paint` then shades them for the token in focus.
function stage() {
  const s = sentence();
  const keys = KINDS[state.kind].keys(s), queries = KINDS[state.kind].queries(s);
  const keyRow = el("div", { class: "row", id: "keys" },
    el("span", { class: "row-label" }, "keys"));
  keys.forEach((tok, j) => keyRow.append(chip(tok, j, "key")));
  const queryRow = el("div", { class: "row", id: "queries" },
    el("span", { class: "row-label" }, state.kind === "cross" ? "output" : "queries"));
  queries.forEach((tok, i) => queryRow.append(chip(tok, i, "query")));
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.id = "lines";
  return el("div", { id: "stage" }, svg, keyRow, el("div", { id: "gap" }), queryRow);
}

// A token: click to select it, hover to look at it until the mouse leaves.
function chip(token, index, role) {
  const node = el("span", { class: "token", "data-index": index, "data-role": role }, token);
  const copied = sentence().copied[String(index)];
  if (state.kind === "cross" && role === "query" && copied !== undefined) {
    node.classList.add("copied");
    node.prepend(el("span", { class: "badge" }, `copied from ${sentence().src_tokens[copied]}`));
  }
  node.addEventListener("click", () => {
    if (role === "query") { state.query = index; state.key = null; } else { state.key = index; }
    state.hover = null;
    render();
  });
  node.addEventListener("mouseenter", () => { state.hover = { role, index }; paint(); });
  node.addEventListener("mouseleave", () => { state.hover = null; paint(); });
  return node;
}

// The token in focus (hovered, else selected) and the weights of the other row: with a query in
// focus, the weight it gives each key (a row of the matrix); with a key, the weight each query
// gives it (a column).
function paint() {
  const m = matrix(state.kind, state.layer, state.head);
  let focus = state.hover;
  if (!focus && state.key === null) focus = { role: "query", index: state.query };
  if (!focus) focus = { role: "key", index: state.key };
  const weights = focus.role === "query" ? m[focus.index] : m.map((row) => row[focus.index]);
  const top = Math.max(...weights);
  document.querySelectorAll("#stage .token").forEach((node) => {
    node.classList.remove("selected", "highlight", "top");
    node.querySelector(".w")?.remove();
    node.removeAttribute("data-weight");
    node.style.background = "";
    node.style.color = "";
    const index = Number(node.dataset.index);
    if (node.dataset.role === focus.role) {
      if (index === focus.index) node.classList.add("selected");
      return;
    }
    const w = weights[index];
    node.dataset.weight = w;
    node.style.background = blue(w * 0.8);
    node.style.color = w > 0.5 ? "#fff" : "#222";
    node.append(el("span", { class: "w" }, w.toFixed(2)));
    node.title = `weight ${w.toFixed(4)}`;
    if (w >= HIGHLIGHT) node.classList.add("highlight");
    if (w === top) node.classList.add("top");
  });
  drawLines();
}

// Lines from the selected token to the tokens of the other row, as thick and dark as the weight.
function drawLines() {
  const stageBox = document.getElementById("stage");
  const svg = document.getElementById("lines");
  const origin = stageBox.getBoundingClientRect();
  svg.setAttribute("width", origin.width);
  svg.setAttribute("height", origin.height);
  svg.replaceChildren();
  const centre = (node, top) => {
    const r = node.getBoundingClientRect();
    return [r.left + r.width / 2 - origin.left, (top ? r.top : r.bottom) - origin.top];
  };
  const from = document.querySelector(".token.selected");
  if (!from) return;
  const fromQuery = from.dataset.role === "query";
  const others = document.querySelectorAll(`#${fromQuery ? "keys" : "queries"} .token`);
  others.forEach((node) => {
    const w = Number(node.dataset.weight);
    if (!(w > 0.02)) return;
    const [x1, y1] = centre(from, fromQuery);
    const [x2, y2] = centre(node, !fromQuery);
    const line = document.createElementNS("http://www.w3.org/2000/svg", "line");
    Object.entries({ x1, y1, x2, y2, stroke: blue(0.15 + 0.85 * w), "stroke-width": 1 + 7 * w })
      .forEach(([k, v]) => line.setAttribute(k, v));
    svg.append(line);
  });
}

// The chosen head as a table: a row per query, a column per key, each cell its weight.
function heatTable() {
  const s = sentence();
  const m = matrix(state.kind, state.layer, state.head);
  const keys = KINDS[state.kind].keys(s), queries = KINDS[state.kind].queries(s);
  const table = el("table", { class: "heat", id: "heat" });
  const header = el("tr", {}, el("th", {}, "query \\ key"));
  const pickKey = (j) => () => { state.key = j; render(); };
  const pickQuery = (i) => () => { state.query = i; state.key = null; render(); };
  keys.forEach((k, j) => header.append(el("th", { onclick: pickKey(j) }, k)));
  table.append(header);
  m.forEach((row, i) => {
    const tr = el("tr", state.key === null && state.query === i ? { class: "selected" } : {});
    tr.append(el("th", { onclick: pickQuery(i) }, queries[i]));
    row.forEach((w) => {
      const td = el("td", { title: w.toFixed(4) }, w.toFixed(2));
      td.style.background = blue(w * 0.85);
      td.style.color = w > 0.45 ? "#fff" : "#222";
      tr.append(td);
    });
    table.append(tr);
  });
  return table;
}

// One small heat map per layer (rows) and head (columns), with its three scores; click to choose.
function headGrid() {
  const maps = sentence()[state.kind];
  const heads = maps[0].length;
  const grid = el("div", { class: "grid", id: "grid" });
  grid.style.gridTemplateColumns = `repeat(${heads + 1}, max-content)`;
  const best = { peak: null, end: null, prev: null };
  maps.forEach((layerMaps, l) => {
    [...layerMaps.keys(), "mean"].forEach((h) => {
      const scores = headScores(matrix(state.kind, l, h), state.kind);
      if (h !== "mean") {
        for (const key of Object.keys(best)) {
          if (scores[key] !== null && (!best[key] || scores[key] > best[key].value)) {
            best[key] = { value: scores[key], name: `L${l + 1}H${h + 1}` };
          }
        }
      }
      grid.append(miniMap(l, h, scores));
    });
  });
  const parts = [`most peaked (aligns one token to one): ${best.peak.name}`,
    `most on the last token: ${best.end.name}`];
  if (best.prev) parts.push(`most on the previous token: ${best.prev.name}`);
  return el("div", {}, el("p", { class: "help", id: "summary" }, parts.join(" · ")), grid);
}

function miniMap(layer, head, scores) {
  const m = matrix(state.kind, layer, head);
  const cell = 6;
  const canvas = el("canvas", { width: m[0].length * cell, height: m.length * cell });
  const ctx = canvas.getContext("2d");
  m.forEach((row, i) => row.forEach((w, j) => {
    ctx.fillStyle = blue(w);
    ctx.fillRect(j * cell, i * cell, cell, cell);
  }));
  const name = head === "mean" ? `L${layer + 1} mean` : `L${layer + 1}H${head + 1}`;
  let text = `peak ${scores.peak.toFixed(2)} · end ${scores.end.toFixed(2)}`;
  if (scores.prev !== null) text += ` · prev ${scores.prev.toFixed(2)}`;
  const current = layer === state.layer && head === state.head;
  return el("div", { class: current ? "mini current" : "mini", "data-head": name,
    onclick: () => { state.layer = layer; state.head = head; render(); } },
  el("b", {}, name), canvas, text);
}

// Greedy decoding one step at a time: what was fed in, what came out, how sure the model was.
function walkTable() {
  const s = sentence();
  const table = el("table", { class: "walk", id: "walk" },
    el("tr", {}, el("th", {}, "step"), el("th", {}, "fed in"), el("th", {}, "→ output"),
      el("th", {}, "p"), el("th", {}, "next most likely")));
  s.tgt_tokens.forEach((tok, i) => {
    const p = s.probs[i];
    // What the model wrote at this step: the next input (a copied word was written as <unk>).
    const written = i + 1 < s.fed_tokens.length ? s.fed_tokens[i + 1] : tok;
    const out = written === tok ? tok : `${written} → ${tok} (copied)`;
    const alts = (s.alternatives[i] || []).filter(([t]) => t !== written)
      .map(([t, q]) => `${t} ${q.toFixed(2)}`).join(", ");
    const bar = el("span", { class: "bar" });
    bar.style.width = `${Math.round(60 * p)}px`;
    const pick = () => { state.kind = "cross"; state.query = i; state.key = null; render(); };
    table.append(el("tr", { onclick: pick },
      el("td", {}, String(i + 1)), el("td", {}, s.fed_tokens[i]), el("td", {}, out),
      el("td", {}, bar, ` ${p.toFixed(2)}`), el("td", { class: "muted" }, alts)));
  });
  if (s.reference) {
    table.append(el("tr", {}, el("td", {}, ""), el("td", { class: "muted" }, "reference"),
      el("td", { colspan: 3, class: "muted" }, s.reference.join(" "))));
  }
  return table;
}

window.addEventListener("resize", drawLines);
render();
document.fonts.ready.then(render); // the inline CJK font changes token widths: redraw the lines
