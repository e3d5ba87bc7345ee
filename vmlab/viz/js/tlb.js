// The TLB, drawn (the scene comes from vmlab/viz/tlb.py): three direct-mapped TLBs of 64
// sets; above them, the lookups since the last look as a hit/miss bar.
function render({ model, el }) {
  el.classList.add("vmlab-tlb");
  const head = document.createElement("div");
  head.className = "vmlab-head";
  const bar = document.createElement("div");
  bar.className = "vmlab-hitbar";
  const hit = document.createElement("span");
  hit.className = "vmlab-hit";
  const miss = document.createElement("span");
  miss.className = "vmlab-miss";
  bar.append(hit, miss);
  const pic = document.createElement("div");
  el.replaceChildren(head, bar, pic);
  const view = sceneView(pic, null, el);
  let renders = 0, maxFlushed = 0;
  const draw = () => {
    const st = model.get("stats");
    const n = st.new_hits + st.new_misses;
    const rate = n ? (100 * st.new_hits / n) : 0;
    head.textContent = `${st.in_use} entries in use · ${st.hits.toLocaleString()} hits, ` +
      `${st.misses.toLocaleString()} misses · since the last look: +${st.new_hits.toLocaleString()} hits, ` +
      `+${st.new_misses.toLocaleString()} misses` + (n ? ` (${rate.toFixed(1)}% hit)` : "") +
      (st.flushed ? ` · ${st.flushed} flushed` : "");
    hit.style.width = n ? `${rate}%` : "0";
    miss.style.width = n ? `${100 - rate}%` : "0";
    view.draw(model.get("scene"));
    renders += 1;
    maxFlushed = Math.max(maxFlushed, st.flushed);
    el.dataset.renders = renders;
    el.dataset.inUse = st.in_use;
    el.dataset.hits = st.hits;
    el.dataset.misses = st.misses;
    el.dataset.maxFlushed = maxFlushed;
  };
  model.on("change:scene", draw);
  draw();
}
export default { render };
