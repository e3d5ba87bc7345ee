// Sv39 page-table tree: valid entries only, each table level a collapsible <details>;
// a leaf shows its virtual range, flags and physical target.  "graph" shows graphviz's drawing.
function node(n) {
  const flags = `<code class="vmlab-flags">${n.flags}</code>`;
  if (n.children) {
    const d = document.createElement("details");
    d.open = n.level >= 1;
    d.innerHTML = `<summary>L${n.level}[${n.index}] → table <code>${n.target}</code> ${flags}</summary>`;
    for (const c of n.children) d.appendChild(node(c));
    return d;
  }
  const div = document.createElement("div");
  div.className = "vmlab-leaf";
  div.innerHTML = `L${n.level}[${n.index}] <code>${n.va}</code> → <code>${n.target}</code> ` +
    `${n.size} ${flags}`;
  return div;
}
function render({ model, el }) {
  el.classList.add("vmlab-pagetable");
  let renders = 0;
  const draw = () => {
    const head = document.createElement("div");
    head.className = "vmlab-head";
    head.textContent = `root ${model.get("root")} · ${model.get("leaves")} mappings`;
    const tree = document.createElement("div");
    tree.className = "vmlab-tree";
    for (const n of model.get("tree")) tree.appendChild(node(n));
    const parts = [head, tree];
    if (model.get("svg")) {
      const g = document.createElement("details");
      g.innerHTML = "<summary>graph</summary>" + model.get("svg");
      parts.push(g);
    }
    el.replaceChildren(...parts);
    renders += 1;
    el.dataset.renders = renders;
    el.dataset.leaves = model.get("leaves");
  };
  model.on("change:tree", draw);
  model.on("change:svg", draw);
  draw();
}
export default { render };
