// Trap / exit log: one row per trap the guest took (or exit the hypervisor handled),
// newest at the bottom, with the cause, the pc, the instruction and tval.
function render({ model, el }) {
  el.classList.add("vmlab-traplog");
  const draw = () => {
    const rows = model.get("rows");
    const table = document.createElement("table");
    table.innerHTML = "<tr><th>#</th><th>time ns</th><th>cause</th><th>pc</th>" +
      "<th>instruction</th><th>tval</th><th>handled by</th></tr>";
    for (const r of rows) {
      const tr = document.createElement("tr");
      for (const v of [r.seq, r.time, r.cause, r.pc, r.insn, r.tval, r.handler]) {
        const td = document.createElement("td");
        td.textContent = v;
        tr.appendChild(td);
      }
      tr.children[2].className = "vmlab-exit vmlab-exit-" + (r.kind || "other");   // colour by kind
      table.appendChild(tr);
    }
    const head = document.createElement("div");
    head.className = "vmlab-head";
    const n = model.get("total");
    head.textContent = `${n} ${n === 1 ? "trap" : "traps"}` + (rows.length < model.get("total") ?
      ` (latest ${rows.length} shown)` : "");
    const box = document.createElement("div");
    box.className = "vmlab-scroll";
    box.appendChild(table);
    el.replaceChildren(head, box);
    box.scrollTop = box.scrollHeight;
    el.dataset.total = model.get("total");
  };
  model.on("change:rows", draw);
  model.on("change:total", draw);
  draw();
}
export default { render };
