// Guest vs shadow, drawn (the scene comes from vmlab/viz/shadow.py): gva -> gpa (the
// guest's tables), gpa -> hpa (the hypervisor's map), and the shadow's own gva -> hpa,
// solid once filled.  A row that changed since the last refresh flashes.
function render({ model, el }) {
  el.classList.add("vmlab-shadow");
  const bar = document.createElement("div");
  bar.className = "vmlab-toolbar";
  const pick = document.createElement("select");
  pick.addEventListener("change", () => model.send({ type: "tree", index: Number(pick.value) }));
  const head = document.createElement("div");
  head.className = "vmlab-head";
  bar.append("shadow tree ", pick);
  const pic = document.createElement("div");
  el.replaceChildren(head, bar, pic);
  const view = sceneView(pic, null, el);
  let renders = 0, maxFilled = 0;
  const filledSeen = new Set(), unfilledSeen = new Set();
  const draw = () => {
    pick.replaceChildren(...model.get("trees").map((t, i) => new Option(t, String(i))));
    pick.value = String(model.get("selected"));
    head.textContent = model.get("summary");       // text, not HTML
    head.style.borderLeft = `6px solid ${model.get("colour")}`;
    head.style.paddingLeft = "6px";
    const scene = model.get("scene");
    view.draw(scene);
    // rows seen unfilled and later filled: the shadow filling in while the guest runs
    let went = 0;
    for (const s of scene.shapes || []) {
      if (!s.id.startsWith("hpa-")) continue;
      if ((s.cls || "").includes("unfilled")) unfilledSeen.add(s.id);
      else if ((s.cls || "").includes("filled")) filledSeen.add(s.id);
    }
    for (const id of filledSeen) if (unfilledSeen.has(id)) went += 1;
    const c = model.get("counts");
    maxFilled = Math.max(maxFilled, c.filled || 0);
    renders += 1;
    el.dataset.renders = renders;
    el.dataset.filled = c.filled || 0;
    el.dataset.unfilled = c.unfilled || 0;
    el.dataset.narrowed = c.narrowed || 0;
    el.dataset.rows = (c.filled || 0) + (c.unfilled || 0) + (c.stale || 0);
    el.dataset.becameFilled = went;
  };
  model.on("change:scene", draw);
  model.on("change:trees", draw);
  draw();
}
export default { render };
