// Exit counts by cause (vmlab/viz/exitcounts.py); while "asking", one field per cause for
// the student's prediction and a reveal button: the counts arrive only after the answer.
function render({ model, el }) {
  el.classList.add("vmlab-exitcounts");
  const table = document.createElement("table");
  const reveal = document.createElement("button");
  reveal.textContent = "reveal";
  reveal.className = "vmlab-btn vmlab-reveal";
  const verdict = document.createElement("div");
  verdict.className = "vmlab-verdict";
  el.replaceChildren(table, reveal, verdict);
  const fields = {};
  reveal.addEventListener("click", () => {
    const answer = {};
    for (const [cause, f] of Object.entries(fields)) answer[cause] = f.value;
    model.send({ type: "predict", answer });
  });
  const draw = () => {
    const asking = model.get("asking");
    table.replaceChildren();
    for (const r of model.get("rows")) {
      const tr = table.insertRow();
      tr.className = "exit-" + r.kind;
      tr.insertCell().textContent = r.cause;
      const cell = tr.insertCell();
      if (asking) {
        const f = fields[r.cause] || document.createElement("input");
        f.className = "vmlab-guess";
        f.size = 6;
        fields[r.cause] = f;
        cell.appendChild(f);
      } else {
        cell.textContent = r.count;
      }
    }
    reveal.style.display = asking ? "" : "none";
    verdict.textContent = model.get("verdict") || "";
    el.dataset.asking = asking ? "true" : "false";
    el.dataset.verdict = model.get("verdict") || "";
  };
  model.on("change:rows", draw);
  model.on("change:asking", draw);
  model.on("change:verdict", draw);
  draw();
}
export default { render };
