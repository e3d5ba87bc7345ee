// The scheduling timeline (the scene comes from vmlab/viz/timeline.py): one lane per pCPU,
// slices coloured by VM, hover for the policy's decision; zoom and pan buttons; the
// metrics table below.  data-updates / data-slices on the element are what tests read.
function render({ model, el }) {
  el.classList.add("vmlab-timeline");
  const head = document.createElement("div");
  head.className = "vmlab-head";
  const bar = document.createElement("div");
  bar.className = "vmlab-toolbar";
  const button = (label, msg) => {
    const b = document.createElement("button");
    b.className = "vmlab-btn";
    b.textContent = label;
    b.onclick = () => model.send(msg);
    bar.append(b);
  };
  button("zoom in", { type: "zoom", factor: 0.5 });
  button("zoom out", { type: "zoom", factor: 2 });
  button("◀ pan", { type: "pan", by: -0.5 });
  button("pan ▶", { type: "pan", by: 0.5 });
  button("follow", { type: "follow" });
  const pic = document.createElement("div");
  const table = document.createElement("table");
  el.replaceChildren(head, bar, pic, table);
  const view = sceneView(pic, null, el);
  let renders = 0;
  const cols = ["vcpu", "state", "run_ms", "ready_ms", "costop_ms", "wake_latency_us",
    "switches", "share"];
  const draw = () => {
    head.textContent = model.get("summary");
    const scene = model.get("scene");
    view.draw(scene);
    table.innerHTML = "<tr>" + cols.map((c) => `<th>${c}</th>`).join("") + "</tr>";
    for (const r of model.get("rows")) {
      const tr = document.createElement("tr");
      for (const c of cols) {
        const td = document.createElement("td");
        const v = r[c];
        td.textContent = c === "share" ? (100 * v).toFixed(1) + "%" :
          typeof v === "number" && !Number.isInteger(v) ? v.toFixed(2) : v;
        tr.append(td);
      }
      table.append(tr);
    }
    renders += 1;
    el.dataset.renders = renders;
    el.dataset.slices = (scene.shapes || []).filter((s) => s.id.startsWith("s-")).length;
  };
  model.on("change:scene", draw);
  draw();
}
export default { render };
