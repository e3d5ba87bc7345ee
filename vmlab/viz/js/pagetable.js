// The page-table tree, drawn (the scene comes from vmlab/viz/pagetable.py): tables as
// boxes of valid entries, arrows to next-level tables.  Clicks on a table or a "more" row
// and the search box go to the kernel, which lays the picture out again.
function render({ model, el }) {
  el.classList.add("vmlab-pagetable");
  const bar = document.createElement("div");
  bar.className = "vmlab-toolbar";
  const head = document.createElement("span");
  head.className = "vmlab-head";
  const q = document.createElement("input");
  q.placeholder = "find a virtual address…";
  q.className = "vmlab-va";
  q.addEventListener("keydown", (e) => {
    if (e.key === "Enter") model.send({ type: "find", va: q.value });
  });
  bar.append(head, "  ", q);
  const pic = document.createElement("div");
  el.replaceChildren(bar, pic);
  const view = sceneView(pic, (msg) => model.send(msg), el);
  let renders = 0;
  const draw = () => {
    const t0 = performance.now();
    head.textContent = model.get("summary");
    view.draw(model.get("scene"));
    renders += 1;
    el.dataset.renders = renders;
    el.dataset.leaves = model.get("leaves");
    el.dataset.valid = model.get("valid");
    el.dataset.drawMs = (performance.now() - t0).toFixed(1);
  };
  model.on("change:scene", draw);
  draw();
}
export default { render };
