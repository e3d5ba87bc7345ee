// The translation walk, drawn (the scene comes from vmlab/viz/walk.py): a new address
// animates level by level; the stepper's buttons and slider go back and forth.
function render({ model, el }) {
  el.classList.add("vmlab-walk");
  const { form, input: va, access } = addressForm(model, "virtual address", "va");
  const result = document.createElement("div");
  const pic = document.createElement("div");
  // predict-then-reveal: a field for the student's answer while a walk is hidden
  const ask = predictForm(model, "0x... or page fault / access fault");
  const verdict = document.createElement("div");
  verdict.className = "vmlab-verdict";
  el.replaceChildren(form, ask, pic, result, verdict);
  const view = sceneView(pic, null, el);
  const steps = stepper(view, pic);
  let renders = 0, lastVa = null;
  const seen = new Set();
  const draw = () => {
    const w = model.get("walk");
    const scene = model.get("scene");
    va.value = w.va || "";
    access.value = w.access || "load";
    result.className = w.ok ? "vmlab-ok" : "vmlab-fault";
    result.textContent = w.result || "";
    view.draw(scene);
    ask.style.display = w.asking ? "" : "none";
    verdict.textContent = model.get("verdict") || "";
    el.dataset.asking = w.asking ? "true" : "false";
    el.dataset.verdict = model.get("verdict") || "";
    const isNew = lastVa !== null && (w.va + w.access) !== lastVa;
    steps.reset(scene.steps || 0, isNew);         // a new address: animate its walk
    lastVa = w.va + w.access;
    renders += 1;
    seen.add(w.va + " " + w.access);
    el.dataset.renders = renders;
    el.dataset.ok = w.ok;
    el.dataset.va = w.va;
    el.dataset.fault = w.fault === null || w.fault === undefined ? "" : w.fault;
    el.dataset.addresses = seen.size;
  };
  model.on("change:scene", draw);
  model.on("change:verdict", draw);
  draw();
}
export default { render };
