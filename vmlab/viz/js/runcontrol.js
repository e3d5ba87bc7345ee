// Run control: buttons send commands to the kernel, where a background thread runs the
// guest, so "pause" is heard while the guest is running.
function render({ model, el }) {
  el.classList.add("vmlab-runcontrol");
  const bar = document.createElement("div");
  for (const cmd of ["run", "pause", "step", "reset"]) {
    const b = document.createElement("button");
    b.textContent = cmd;
    b.className = "vmlab-btn vmlab-" + cmd;
    b.addEventListener("click", () => model.send({ type: "cmd", cmd }));
    bar.appendChild(b);
  }
  const status = document.createElement("span");
  status.className = "vmlab-status";
  bar.appendChild(status);
  const draw = () => {
    status.textContent = ` ${model.get("state")} · ${model.get("instructions").toLocaleString()}` +
      ` instructions · ${model.get("mips").toFixed(1)} MIPS · ${model.get("message")}`;
    el.dataset.state = model.get("state");
  };
  for (const k of ["state", "instructions", "mips", "message"]) model.on("change:" + k, draw);
  el.replaceChildren(bar);
  draw();
}
export default { render };
