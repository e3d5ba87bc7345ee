// The per-technique exit chart (the scene comes from vmlab/viz/exitchart.py): two toggles,
// exits/cycles and linear/log, each redrawn by Python.
function render({ model, el }) {
  el.classList.add("vmlab-exitchart");
  const bar = document.createElement("div");
  bar.className = "vmlab-toolbar";
  const metric = document.createElement("button");
  const scale = document.createElement("button");
  metric.className = "vmlab-btn vmlab-metric";
  scale.className = "vmlab-btn vmlab-scale";
  metric.addEventListener("click", () => model.send({ type: "toggle", what: "metric" }));
  scale.addEventListener("click", () => model.send({ type: "toggle", what: "scale" }));
  bar.append(metric, scale);
  const pic = document.createElement("div");
  el.replaceChildren(bar, pic);
  const view = sceneView(pic, null, el);
  let renders = 0;
  const draw = () => {
    const m = model.get("metric"), s = model.get("scale");
    metric.textContent = m === "exits" ? "show cycles" : "show exits";
    scale.textContent = s === "linear" ? "log scale" : "linear scale";
    view.draw(model.get("scene"));
    el.dataset.metric = m;
    el.dataset.scale = s;
    el.dataset.bars = pic.querySelectorAll("g[data-id^='label-']").length;
    el.dataset.segments = pic.querySelectorAll("g[data-id^='seg-']").length;
    renders += 1;
    el.dataset.renders = renders;
  };
  model.on("change:scene", draw);
  draw();
}
export default { render };
