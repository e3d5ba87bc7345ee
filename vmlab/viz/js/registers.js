// Registers: a grid of the 31 x registers, pc and privilege; the ones that changed since
// the previous update are highlighted.  data-renders counts updates drawn (tests read it).
function render({ model, el }) {
  el.classList.add("vmlab-registers");
  let renders = 0;
  const seen = new Set();   // distinct instruction counts drawn: > 1 means it moved while shown
  const draw = () => {
    const regs = model.get("regs");
    const changed = new Set(model.get("changed"));
    const grid = document.createElement("div");
    grid.className = "vmlab-reg-grid";
    for (const [name, value] of regs) {
      const cell = document.createElement("div");
      cell.className = "vmlab-reg" + (changed.has(name) ? " vmlab-changed" : "");
      cell.dataset.reg = name;
      cell.innerHTML = `<span class="vmlab-reg-name">${name}</span><code>${value}</code>`;
      grid.appendChild(cell);
    }
    const head = document.createElement("div");
    head.className = "vmlab-reg-head";
    head.textContent = `pc ${model.get("pc")}  ·  ${model.get("priv")}-mode  ·  ` +
      `${model.get("instret").toLocaleString()} instructions`;
    const parts = [head, grid];
    const csrs = model.get("csrs") || [];     // a vCPU's virtual CSRs (none for a machine)
    if (csrs.length) {
      const title = document.createElement("div");
      title.className = "vmlab-reg-head";
      title.textContent = "virtual CSRs (emulated by the hypervisor)";
      const box = document.createElement("div");
      box.className = "vmlab-reg-grid vmlab-csr-grid";
      for (const [name, value] of csrs) {
        const cell = document.createElement("div");
        cell.className = "vmlab-reg" + (changed.has(name) ? " vmlab-changed" : "");
        cell.dataset.csr = name;
        cell.innerHTML = `<span class="vmlab-reg-name">${name}</span><code>${value}</code>`;
        box.appendChild(cell);
      }
      parts.push(title, box);
    }
    el.dataset.csrs = csrs.length;
    el.replaceChildren(...parts);
    renders += 1;
    el.dataset.renders = renders;
    el.dataset.pc = model.get("pc");
    if (!el.dataset.firstPc) el.dataset.firstPc = model.get("pc");
    el.dataset.instret = model.get("instret");
    seen.add(model.get("instret") + ":" + model.get("pc"));
    el.dataset.distinct = seen.size;
  };
  model.on("change:updates", draw);
  draw();
}
export default { render };
