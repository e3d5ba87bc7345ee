// Console: what the guest wrote to its UART, and a line of input typed into it.
function render({ model, el }) {
  el.classList.add("vmlab-console");
  const pre = document.createElement("pre");
  const input = document.createElement("input");
  input.placeholder = "type a line for the guest, then Enter";
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      model.send({ type: "input", text: input.value + "\n" });
      input.value = "";
    }
  });
  let renders = 0;
  const draw = () => {
    pre.textContent = model.get("text");
    pre.scrollTop = pre.scrollHeight;
    renders += 1;
    el.dataset.renders = renders;
    el.dataset.chars = model.get("text").length;
  };
  model.on("change:text", draw);
  el.replaceChildren(pre, input);
  draw();
}
export default { render };
