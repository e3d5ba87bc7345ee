// Guest vs shadow: for one shadow tree, each guest mapping (gva -> gpa, the guest's own
// tables) beside the shadow entries the hypervisor built from it (gva -> hpa, what the
// real MMU walks).  Unfilled rows are mappings the guest has not touched yet.
function render({ model, el }) {
  el.classList.add("vmlab-shadow");
  const pick = document.createElement("select");
  pick.addEventListener("change", () => model.send({ type: "tree", index: Number(pick.value) }));
  const out = document.createElement("div");
  let renders = 0;
  const draw = () => {
    pick.replaceChildren(...model.get("trees").map((t, i) => new Option(t, String(i))));
    pick.value = String(model.get("selected"));
    const head = document.createElement("div");
    head.className = "vmlab-head";
    head.textContent = model.get("summary");       // text, not HTML: it quotes Python reprs
    let h = `<table><tr>` +
      `<th>guest virtual</th><th>guest physical</th><th>guest flags</th><th></th>` +
      `<th>host physical</th><th>shadow flags</th></tr>`;
    for (const r of model.get("rows")) {
      const cls = r.stale ? "vmlab-fault" : (r.hpa ? "" : "vmlab-dim");
      h += `<tr class="${cls}"><td><code>${r.gva}</code></td><td><code>${r.gpa}</code></td>` +
        `<td><code>${r.gflags}</code></td><td>→</td><td><code>${r.hpa || "(not filled yet)"}</code></td>` +
        `<td><code>${r.sflags}</code>${r.stale ? " stale" : ""}</td></tr>`;
    }
    out.innerHTML = h + "</table>";
    out.prepend(head);
    renders += 1;
    el.dataset.renders = renders;
    el.dataset.rows = model.get("rows").length;
  };
  model.on("change:rows", draw);
  model.on("change:trees", draw);
  el.replaceChildren(pick, out);
  draw();
}
export default { render };
