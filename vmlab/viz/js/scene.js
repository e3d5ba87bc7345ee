// Shared by every picture widget: draws a scene (boxes, texts, arrows computed in Python,
// see vmlab/viz/scene.py) as one SVG.  Shapes keep their ids from one refresh to the next,
// so what changed can flash; shapes with a later "step" than the one shown stay hidden,
// which is how the walk animates level by level.  Colours come from CSS classes
// (vmlab.css), never from here: one visual language for every widget.

const SVGNS = "http://www.w3.org/2000/svg";
const ARROW_COLOURS = ["vpn2", "vpn1", "vpn0", "offset", "fault", "shadow", "guest", "host",
  "narrowed", "muted"];
let sceneCounter = 0;

function esc(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function markers(prefix) {
  let h = "<defs>";
  for (const c of ["default", ...ARROW_COLOURS]) {
    const fill = c === "default" ? "var(--vmlab-edge)" : `var(--vmlab-${c === "shadow" ? "vpn0" :
      c === "guest" ? "vpn2" : c === "host" ? "vpn1" : c})`;
    h += `<marker id="${prefix}-${c}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" ` +
      `markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" style="fill:${fill}"/></marker>`;
  }
  return h + "</defs>";
}

function textLines(x, y, label, anchor, cls) {
  const lines = String(label).split("\n");
  let h = `<text class="lbl ${cls}" x="${x}" y="${y}" text-anchor="${anchor}">`;
  lines.forEach((line, i) => {
    h += `<tspan x="${x}" dy="${i ? "1.2em" : 0}">${esc(line)}</tspan>`;
  });
  return h + "</text>";
}

function boxSvg(s) {
  const lines = s.label ? String(s.label).split("\n").length : 0;
  const start = s.align === "start";
  const tx = start ? s.x + 6 : s.x + s.w / 2;
  const ty = s.y + s.h / 2 - (lines - 1) * 0.6 * 12 + 4;
  let h = `<rect class="${esc(s.cls || "")}" x="${s.x}" y="${s.y}" width="${s.w}" height="${s.h}" rx="3"` +
    (s.dash ? ` stroke-dasharray="4 3"` : "") + "/>";
  if (s.label) h += textLines(tx, ty, s.label, start ? "start" : "middle", esc(s.cls || ""));
  return h;
}

function arrowSvg(s, prefix) {
  const { x1, y1, x2, y2 } = s;
  const bend = s.bend || 0;
  const mx = (x1 + x2) / 2 - bend * (y2 - y1), my = (y1 + y2) / 2 + bend * (x2 - x1);
  const colour = ARROW_COLOURS.find((c) => (s.cls || "").split(" ").includes(c)) || "default";
  return `<path class="arrow ${esc(s.cls || "")}" d="M${x1},${y1} Q${mx},${my} ${x2},${y2}" ` +
    `marker-end="url(#${prefix}-${colour})"/>`;
}

function shapeSvg(s, prefix) {
  let inner;
  if (s.t === "box") inner = boxSvg(s);
  else if (s.t === "arrow") inner = arrowSvg(s, prefix);
  else inner = textLines(s.x, s.y, s.label, s.anchor || "start", esc(s.cls || ""));
  const title = s.title ? `<title>${esc(s.title)}</title>` : "";
  const click = s.click ? ` data-click="${esc(JSON.stringify(s.click))}" style="cursor:pointer"` : "";
  return `<g data-id="${esc(s.id)}" data-step="${s.step || 0}"${click}>${title}${inner}</g>`;
}

function signature(s) {
  return `${s.cls}|${s.label}|${s.dash}`;   // what it says, not where: a moved row is not news
}

// Make a scene view inside `holder`; returns {draw(scene), show(step)}.  The widget's
// element `root` gets data-shapes, data-flashed and data-step (what tests read).
function sceneView(holder, onClick, root) {
  root = root || holder;
  const prefix = `vmlab-m${++sceneCounter}`;
  let previous = null;
  let shownStep = Infinity;
  const legend = document.createElement("div");
  legend.className = "vmlab-legend";
  const box = document.createElement("div");
  box.className = "vmlab-svgbox";
  holder.append(box, legend);
  box.addEventListener("click", (e) => {
    const g = e.target.closest("[data-click]");
    if (g && onClick) onClick(JSON.parse(g.dataset.click));
  });
  function show(step) {
    shownStep = step;
    for (const g of box.querySelectorAll("g[data-step]")) {
      g.classList.toggle("vmlab-later", Number(g.dataset.step) > step);
    }
    root.dataset.step = step;
  }
  function draw(scene) {
    const shapes = scene.shapes || [];
    let h = `<svg xmlns="${SVGNS}" class="vmlab-scene" width="${scene.width}" height="${scene.height}" ` +
      `viewBox="0 0 ${scene.width} ${scene.height}">${markers(prefix)}`;
    for (const s of shapes) if (s.under) h += shapeSvg(s, prefix);     // beneath the boxes
    for (const s of shapes) if (!s.under) h += shapeSvg(s, prefix);
    box.innerHTML = h + "</svg>";
    const now = new Map(shapes.map((s) => [s.id, signature(s)]));
    let flashed = 0;
    if (previous) {
      for (const g of box.querySelectorAll("g[data-id]")) {
        const id = g.dataset.id;
        if (previous.get(id) !== now.get(id)) {
          g.classList.add("vmlab-flash");
          flashed += 1;
        }
      }
    }
    previous = now;
    legend.innerHTML = (scene.legend || []).map(([cls, words]) =>
      `<span><svg width="14" height="12"><rect class="${esc(cls)}" x="1" y="1" width="12" height="10" rx="2"/></svg>` +
      `${esc(words)}</span>`).join("");
    root.dataset.shapes = shapes.length;
    root.dataset.flashed = flashed;
    show(shownStep);
  }
  return { draw, show };
}

// Buttons and a slider that step through a scene's animation; `play()` animates from step 0.
function stepper(view, holder) {
  const bar = document.createElement("div");
  bar.className = "vmlab-stepper";
  const back = document.createElement("button");
  const fwd = document.createElement("button");
  const play = document.createElement("button");
  const slider = document.createElement("input");
  back.textContent = "◀ step";
  fwd.textContent = "step ▶";
  play.textContent = "▶ animate";
  for (const b of [back, fwd, play]) b.className = "vmlab-btn";
  slider.type = "range";
  slider.min = 0;
  const label = document.createElement("span");
  bar.append(back, slider, fwd, play, label);
  let steps = 0, timer = null;
  const set = (k) => {
    k = Math.max(0, Math.min(steps, k));
    slider.value = k;
    label.textContent = ` step ${k} of ${steps}`;
    view.show(k);
  };
  back.onclick = () => { stopAnim(); set(Number(slider.value) - 1); };
  fwd.onclick = () => { stopAnim(); set(Number(slider.value) + 1); };
  slider.oninput = () => { stopAnim(); set(Number(slider.value)); };
  const stopAnim = () => { if (timer) clearInterval(timer); timer = null; };
  const animate = () => {
    stopAnim();
    set(0);
    timer = setInterval(() => {
      if (Number(slider.value) >= steps) return stopAnim();
      set(Number(slider.value) + 1);
    }, 450);
  };
  play.onclick = animate;
  holder.prepend(bar);
  return {
    reset(n, animateNow) {
      steps = n;
      slider.max = n;
      if (animateNow) animate(); else set(n);
    },
  };
}

// The walk widgets' address line: an address, load/store/fetch and a "walk" button that sends
// {type: "walk", [key]: address, access}.  Returns the line and its two fields.
function addressForm(model, label, key) {
  const form = document.createElement("div");
  const input = document.createElement("input");
  input.className = "vmlab-va";
  const access = document.createElement("select");
  for (const a of ["load", "store", "fetch"]) access.add(new Option(a, a));
  const go = document.createElement("button");
  go.textContent = "walk";
  go.className = "vmlab-btn";
  const send = () => model.send({ type: "walk", [key]: input.value, access: access.value });
  go.addEventListener("click", send);
  input.addEventListener("keydown", (e) => { if (e.key === "Enter") send(); });
  form.append(label + " ", input, " ", access, " ", go);
  return { form, input, access };
}

// Predict-then-reveal: a field for the student's answer while a walk is hidden, sent as
// {type: "predict", answer}.
function predictForm(model, placeholder) {
  const ask = document.createElement("div");
  ask.className = "vmlab-predict";
  const guess = document.createElement("input");
  guess.className = "vmlab-guess";
  guess.placeholder = placeholder;
  const reveal = document.createElement("button");
  reveal.textContent = "reveal";
  reveal.className = "vmlab-btn vmlab-reveal";
  const answer = () => model.send({ type: "predict", answer: guess.value });
  reveal.addEventListener("click", answer);
  guess.addEventListener("keydown", (e) => { if (e.key === "Enter") answer(); });
  ask.append("your prediction ", guess, " ", reveal);
  return ask;
}
