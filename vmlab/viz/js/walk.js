// Translation walk: a virtual address cut into VPN[2] VPN[1] VPN[0] offset, then each PTE
// the walker read, then the physical address or the fault and why.
function render({ model, el }) {
  el.classList.add("vmlab-walk");
  const form = document.createElement("div");
  const va = document.createElement("input");
  const access = document.createElement("select");
  for (const a of ["load", "store", "fetch"]) access.add(new Option(a, a));
  const go = document.createElement("button");
  go.textContent = "walk";
  go.addEventListener("click", () => model.send({ type: "walk", va: va.value, access: access.value }));
  form.append("virtual address ", va, " ", access, " ", go);
  const out = document.createElement("div");
  const draw = () => {
    const w = model.get("walk");
    va.value = w.va || "";
    access.value = w.access || "load";
    let h = `<div class="vmlab-fields">`;
    for (const [name, value] of w.fields || []) h += `<span><small>${name}</small><code>${value}</code></span>`;
    h += `</div><table><tr><th>level</th><th>table</th><th>index</th><th>PTE address</th><th>PTE</th><th>flags</th></tr>`;
    for (const s of w.steps || []) {
      h += `<tr><td>${s.level}</td><td><code>${s.table}</code></td><td>${s.index}</td>` +
           `<td><code>${s.pte_pa}</code></td><td><code>${s.pte}</code></td><td><code>${s.flags}</code></td></tr>`;
    }
    h += `</table><p class="${w.ok ? "vmlab-ok" : "vmlab-fault"}">${w.result || ""}</p>`;
    out.innerHTML = h;
    el.dataset.ok = w.ok;
  };
  model.on("change:walk", draw);
  el.replaceChildren(form, out);
  draw();
}
export default { render };
