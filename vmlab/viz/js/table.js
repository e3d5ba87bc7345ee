// A filterable table: a text filter and one drop-down per column listed in "facets".
function render({ model, el }) {
  el.classList.add("vmlab-filtertable");
  const columns = model.get("columns");
  const rows = model.get("rows");
  const bar = document.createElement("div");
  const text = document.createElement("input");
  text.placeholder = "filter…";
  text.className = "vmlab-filter";
  bar.appendChild(text);
  const selects = {};
  for (const f of model.get("facets")) {
    const i = columns.indexOf(f);
    const s = document.createElement("select");
    s.add(new Option(`${f}: any`, ""));
    for (const v of [...new Set(rows.map((r) => r[i]))].sort()) s.add(new Option(v, v));
    s.addEventListener("change", draw);
    selects[i] = s;
    bar.append(" ", s);
  }
  const table = document.createElement("table");
  function draw() {
    const q = text.value.toLowerCase();
    let h = "<tr>" + columns.map((c) => `<th>${c}</th>`).join("") + "</tr>";
    let shown = 0;
    for (const r of rows) {
      if (q && !r.join(" ").toLowerCase().includes(q)) continue;
      if (Object.entries(selects).some(([i, s]) => s.value && r[i] !== s.value)) continue;
      h += "<tr>" + r.map((v) => `<td>${v}</td>`).join("") + "</tr>";
      shown += 1;
    }
    table.innerHTML = h;
    el.dataset.shown = shown;
  }
  text.addEventListener("input", draw);
  el.replaceChildren(bar, table);
  draw();
}
export default { render };
