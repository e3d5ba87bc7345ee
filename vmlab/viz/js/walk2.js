// The two-stage walk, drawn (the scene comes from vmlab/viz/walk2.py): one step per memory
// reference, numbered as the hardware makes them; a new address animates its walk.  While a
// walk is hidden (predict=True) a field asks for the number of references first.
function render({ model, el }) {
  el.classList.add("vmlab-walk2");
  const { form, input: gva, access } = addressForm(model, "guest virtual address", "gva");
  const ask = predictForm(model, "how many memory references?");
  const count = document.createElement("div");
  count.className = "vmlab-count";
  const pic = document.createElement("div");
  const result = document.createElement("div");
  const verdict = document.createElement("div");
  verdict.className = "vmlab-verdict";
  el.replaceChildren(form, ask, count, pic, result, verdict);
  const inner = sceneView(pic, null, el);
  let total = 0;
  // the stepper drives this view: each step is one more memory reference, counted aloud
  const view = {
    draw: inner.draw,
    show(k) {
      inner.show(k);
      const made = Math.min(k, total);
      count.textContent = total === null ? "" :
        `memory references so far: ${made} of ${total}` + (k > total ? " (done)" : "");
      el.dataset.shownRefs = made;
    },
  };
  const steps = stepper(view, pic);
  let renders = 0, last = null;
  const draw = () => {
    const w = model.get("walk");
    const scene = model.get("scene");
    gva.value = w.gva || "";
    access.value = w.access || "load";
    result.className = w.ok ? "vmlab-ok" : "vmlab-fault";
    result.textContent = w.result || "";
    total = w.asking ? null : (w.refs || 0);
    inner.draw(scene);
    ask.style.display = w.asking ? "" : "none";
    verdict.textContent = model.get("verdict") || "";
    el.dataset.asking = w.asking ? "true" : "false";
    el.dataset.verdict = model.get("verdict") || "";
    el.dataset.refs = w.asking ? "" : String(w.refs);
    el.dataset.fault = w.fault === null || w.fault === undefined ? "" : w.fault;
    el.dataset.gva = w.gva;
    const key = w.gva + w.access + (w.asking ? "?" : "");
    steps.reset(scene.steps || 0, last !== null && key !== last);   // a new walk: animate it
    if (w.asking) count.textContent = "";
    last = key;
    renders += 1;
    el.dataset.renders = renders;
  };
  model.on("change:scene", draw);
  model.on("change:verdict", draw);
  draw();
}
export default { render };
