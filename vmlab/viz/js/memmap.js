// The memory map (the data comes from vmlab/viz/memmap.py): host frames as a grid of cells
// on a canvas, each VM's guest pages as a strip, per-VM bars and the counters over time.
// Colours are the palette's CSS variables (vmlab/viz/style.py), read from the page.

const CELL = 4, GAP = 1, COLS = 128;
const FRAME_WORDS = ["free", "private", "shared", "shadow page table", "not the pool's"];
const PAGE_WORDS = ["never touched", "resident", "shared (copy-on-write)", "swapped out", "ballooned"];

function palette(el) {
  const css = getComputedStyle(el);
  const v = (name) => css.getPropertyValue(`--vmlab-${name}`).trim() || "#999";
  return {
    vm: (i) => v(`vm${i % 8}`), free: v("invalid"), shared: v("narrowed"), shadow: v("edge"),
    reserved: "#ffffff", swapped: v("muted"), ballooned: v("ink"), untouched: v("invalid"),
  };
}

function frameColour(p, kind, who) {
  return [p.free, p.vm(who), p.shared, p.shadow, p.reserved][kind];
}

function pageColour(p, kind, vm) {
  return [p.untouched, p.vm(vm), p.shared, p.swapped, p.ballooned][kind];
}

function paintCells(canvas, cells, colour, cols) {
  const rows = Math.max(1, Math.ceil(cells.length / cols));
  canvas.width = cols * (CELL + GAP);
  canvas.height = rows * (CELL + GAP);
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  cells.forEach((c, i) => {
    g.fillStyle = colour(c, i);
    g.fillRect((i % cols) * (CELL + GAP), Math.floor(i / cols) * (CELL + GAP), CELL, CELL);
  });
}

function cellAt(canvas, ev, cols) {
  const r = canvas.getBoundingClientRect();
  const x = Math.floor((ev.clientX - r.left) / (CELL + GAP));
  const y = Math.floor((ev.clientY - r.top) / (CELL + GAP));
  return x >= 0 && x < cols ? y * cols + x : -1;
}

function bar(g, p) {
  const row = document.createElement("div");
  row.className = "vmlab-mm-bar";
  const parts = [["resident", g.resident - g.shared, p.vm(g.vm)], ["shared", g.shared, p.shared],
    ["swapped", g.swapped, p.swapped], ["ballooned", g.ballooned, p.ballooned]];
  const label = document.createElement("span");
  label.textContent = `VM ${g.vm} `;
  label.style.borderLeft = `6px solid ${p.vm(g.vm)}`;
  const track = document.createElement("span");
  track.className = "vmlab-mm-track";
  Object.assign(track.style, { display: "inline-flex", position: "relative", width: "300px",
    height: "10px", background: p.untouched, verticalAlign: "middle" });
  for (const [name, n, colour] of parts) {
    const s = document.createElement("span");
    s.style.width = `${(100 * n) / g.pages}%`;
    s.style.background = colour;
    s.title = `${name}: ${n} pages`;
    track.append(s);
  }
  if (g.target !== null) {
    const t = document.createElement("span");
    t.className = "vmlab-mm-target";
    Object.assign(t.style, { position: "absolute", top: "-2px", width: "2px", height: "14px",
      background: p.ballooned });
    t.style.left = `${100 - (100 * g.target) / g.pages}%`;
    t.title = `balloon target: ${g.target} pages`;
    track.append(t);
  }
  const words = document.createElement("span");
  words.textContent = ` ${g.resident}/${g.pages} resident · ${g.shared} shared · ` +
    `${g.swapped} swapped · ${g.ballooned} ballooned` + (g.target !== null ? ` · target ${g.target}` : "");
  row.append(label, track, words);
  return row;
}

function series(rows, p) {
  const W = 420, H = 110;
  if (rows.length < 2) return `<svg width="${W}" height="${H}"></svg>`;
  const keys = Object.keys(rows[0]).filter((k) => k !== "time");
  const t0 = rows[0].time, t1 = rows[rows.length - 1].time || 1;
  const max = Math.max(1, ...rows.flatMap((r) => keys.map((k) => r[k])));
  const colour = (k) => k === "free" ? p.shadow : k === "pages_sharing" ? p.shared :
    k.startsWith("swapped") ? p.swapped : p.vm(Number(k.slice(2)));
  let h = `<svg width="${W}" height="${H + 14}" class="vmlab-mm-series">`;
  keys.forEach((k, j) => {
    const pts = rows.map((r) => `${(W * (r.time - t0)) / Math.max(1, t1 - t0)},${H - (H * r[k]) / max}`);
    const dash = k.startsWith("swapped") ? ` stroke-dasharray="3 2"` : "";
    h += `<polyline fill="none" stroke="${colour(k)}" stroke-width="1.5"${dash} points="${pts.join(" ")}"><title>${k}</title></polyline>`;
    h += `<text x="${4 + 95 * j}" y="${H + 12}" font-size="10" fill="${colour(k)}">${k}</text>`;
  });
  return h + "</svg>";
}

function render({ model, el }) {
  el.classList.add("vmlab-memmap");
  const head = document.createElement("div");
  head.className = "vmlab-head";
  const grid = document.createElement("canvas");
  const tip = document.createElement("div");
  tip.className = "vmlab-mm-tip";
  tip.style.minHeight = "1.3em";
  const strips = document.createElement("div");
  const bars = document.createElement("div");
  const chart = document.createElement("div");
  const legend = document.createElement("div");
  legend.className = "vmlab-legend";
  el.replaceChildren(head, grid, tip, strips, bars, chart, legend);
  let renders = 0;
  const draw = () => {
    const p = palette(el);
    const f = model.get("frames");
    const h = f.host || {};
    const counts = [0, 0, 0, 0, 0];
    f.kind.forEach((k) => { counts[k] += 1; });
    head.textContent = `host frames: ${h.pool} in the pool · ${counts[1]} private · ${counts[2]} shared · ` +
      `${counts[3]} shadow tables · ${counts[0]} free` + (h.pages_sharing !== undefined ?
      ` · sharing saves ${h.pages_sharing} pages` : "") + ` · swap: ${h.swap_used} pages`;
    paintCells(grid, f.kind, (k, i) => frameColour(p, k, f.who[i]), COLS);
    strips.replaceChildren(...model.get("guests").map((g) => {
      const c = document.createElement("canvas");
      c.title = `VM ${g.vm}: its ${g.pages} guest pages` + (g.per_cell > 1 ? ` (${g.per_cell} a cell)` : "");
      paintCells(c, g.cells, (k) => pageColour(p, k, g.vm), COLS * 2);
      c.dataset.vm = g.vm;
      return c;
    }));
    bars.replaceChildren(...model.get("guests").map((g) => bar(g, p)));
    chart.innerHTML = series(model.get("series"), p);
    legend.innerHTML = [["VM (its colour)", p.vm(0)], ["shared", p.shared], ["shadow tables", p.shadow],
      ["free", p.free], ["swapped", p.swapped], ["ballooned", p.ballooned]].map(([w, c]) =>
      `<span><i style="background:${c};display:inline-block;width:10px;height:10px"></i> ${w}</span>`).join(" ");
    renders += 1;
    Object.assign(el.dataset, { renders, frames: f.kind.length, private: counts[1], shared: counts[2],
      shadow: counts[3], free: counts[0], guests: model.get("guests").length });
  };
  grid.addEventListener("mousemove", (ev) => {
    const f = model.get("frames");
    const i = cellAt(grid, ev, COLS);
    if (i < 0 || i >= f.kind.length) { tip.textContent = ""; return; }
    const hpa = (f.base + i * 4096).toString(16);
    const who = (model.get("owners")[String(i)] || []).join("; ");
    tip.textContent = `frame ${i} (hpa 0x${hpa}): ${FRAME_WORDS[f.kind[i]]}` +
      (f.kind[i] === 2 ? ` by ${f.who[i]} pages` : "") + (who ? ` — ${who}` : "");
    el.dataset.hover = tip.textContent;
  });
  strips.addEventListener("mousemove", (ev) => {
    const c = ev.target.closest("canvas");
    if (!c) return;
    const g = model.get("guests").find((x) => String(x.vm) === c.dataset.vm);
    const i = cellAt(c, ev, COLS * 2);
    if (!g || i < 0 || i >= g.cells.length) return;
    tip.textContent = `VM ${g.vm} guest page ${i * g.per_cell}: ${PAGE_WORDS[g.cells[i]]}`;
  });
  model.on("change:frames", draw);
  draw();
}
export default { render };
