"""The picture widgets in Notebook 7 (the ``notebook`` package), in a real browser.

JupyterLab is not the only front-end students use: Notebook 7 is built from JupyterLab's
parts but is its own application, with its own page, shell and extension loading.  This
test serves ``viz-notebook7.ipynb`` (a copy) with ``jupyter notebook`` on 127.0.0.1, opens
it in Debian's Chromium driven by Playwright, runs every cell, and checks WalkView,
PageTableTree, TlbView and GuestVsShadow: each draws its SVG, and each *changes while the
guest runs* -- the test reads the pictures twice while the run control still says
"running" (the guest runs on a background thread, the kernel stays free), then pauses it.

Screenshots go to ``artifacts/screenshots/notebook7-*.png``.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from oracles import need_module  # (tests/: fail in CI, skip elsewhere)
# the browser and its settings are the lab tests' (one chromium set-up for every front-end)
from test_labs_in_browser import SHOTS, TIMEOUT_MS, browser, jupyter_server  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "viz-notebook7.ipynb"


@pytest.fixture(scope="module")
def notebook7(tmp_path_factory):
    """``jupyter notebook`` (Notebook 7) serving a copy of the scratch notebook."""
    need_module("notebook")
    import notebook
    assert int(notebook.__version__.split(".")[0]) >= 7, f"notebook {notebook.__version__} is not Notebook 7"
    work = tmp_path_factory.mktemp("nb7")
    shutil.copy(Path(__file__).parent / NOTEBOOK, work / NOTEBOOK)
    settings = tmp_path_factory.mktemp("settings") / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)                  # every cell attached to the DOM
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    with jupyter_server("notebook", "JupyterNotebookApp", work, settings.parents[1],
                        tmp_path_factory.mktemp("config"), "Notebook 7") as (base, token):
        yield base, token


IDLE = """() => {
    const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
    const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
    return !!k && k.status === 'idle';
}"""

CELLS_DONE = """() => {
    const prompts = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .map(p => p.textContent.trim());
    return prompts.length > 0 && prompts.every(t => /^\\[\\d+\\]:$/.test(t));
}"""

ERRORS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    const errs = [];
    for (let i = 0; i < cells.length; i++) {
        const c = cells.get(i);
        if (c.type !== 'code') continue;
        for (const o of c.outputs.toJSON())
            if (o.output_type === 'error') errs.push(o.ename + ': ' + o.evalue);
    }
    return errs;
}"""

#: what each picture shows now (its data-* attributes, set by its front-end on each draw)
LOOK = """() => {
    const d = sel => { const e = document.querySelector(sel); return e ? {...e.dataset} : null; };
    return {walk: d('.vmlab-walk'), tree: d('.vmlab-pagetable'), tlb: d('.vmlab-tlb'),
            shadow: d('.vmlab-shadow'), control: d('.vmlab-runcontrol'),
            app: document.body.dataset.notebook || ''};
}"""


def _run_all(browser, base: str, token: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{base}/notebooks/{NOTEBOOK}?token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    page.wait_for_function(IDLE, polling=250)
    # Do not return the command's promise: awaiting it from evaluate can hang forever.
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(f"() => ({CELLS_DONE})() && ({IDLE})() || ({ERRORS})().length > 0",
                           polling=250)
    assert page.evaluate(ERRORS) == []
    return page


def _shot(page, selector: str, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    loc = page.locator(selector).first
    loc.scroll_into_view_if_needed()
    loc.screenshot(path=str(SHOTS / f"notebook7-{name}.png"))


def _svg(page, selector: str):
    svg = page.locator(selector).first.locator("svg.vmlab-scene")
    assert svg.count() == 1, f"no picture drawn in {selector}"
    return svg


def test_pictures_change_while_the_guest_runs_in_notebook7(browser, notebook7):
    page = _run_all(browser, *notebook7)
    # Notebook 7's own application, not JupyterLab: its notebook page and shell
    assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
    assert page.locator("#main-panel, .jp-NotebookPanel").count() >= 1
    page.wait_for_function("() => document.querySelector('.vmlab-runcontrol').dataset.state === 'running'")
    page.wait_for_function("() => +document.querySelector('.vmlab-pagetable').dataset.leaves >= 4")
    first = page.evaluate(LOOK)
    page.wait_for_function(f"""() => {{
        const now = ({LOOK})(), was = {json.dumps(first)};
        return now.walk.va !== was.walk.va && +now.tree.leaves > +was.tree.leaves
            && +now.tlb.misses > +was.tlb.misses;
    }}""", polling=250)
    second = page.evaluate(LOOK)
    # still running when the second look was taken: the pictures changed *during* the run
    assert first["control"]["state"] == second["control"]["state"] == "running"
    # the walk followed the newest fault; by the time it is drawn, the handler has mapped
    # that page, so the walk ends at the page (in the demand-paged range)
    assert int(second["walk"]["addresses"]) >= 2 and second["walk"]["ok"] == "true"
    assert 0x4040_0000 <= int(second["walk"]["va"], 16) < 0x4060_0000
    assert int(second["tree"]["renders"]) > int(first["tree"]["renders"])
    assert int(second["tlb"]["hits"]) > int(first["tlb"]["hits"])

    walk = _svg(page, ".vmlab-walk")
    assert walk.locator('g[data-id^="slot-2-"]').count() >= 1           # the root table's slots
    tree = _svg(page, ".vmlab-pagetable")
    assert tree.locator("g[data-id^='row-']").count() >= 3
    assert "VRW---AD" in tree.text_content()                             # a demand-mapped leaf
    assert _svg(page, ".vmlab-tlb").locator("rect.inuse").count() >= 2

    # the shadow tree of teachos's user process filled in while teachos ran
    page.wait_for_function("() => +document.querySelector('.vmlab-shadow').dataset.becameFilled >= 1")
    shadow = page.evaluate(LOOK)["shadow"]
    assert int(shadow["filled"]) > 0 and int(shadow["renders"]) >= 2
    assert _svg(page, ".vmlab-shadow").locator('g[data-id^="shadow-"] path.shadow').count() > 0

    # the pause button reaches the kernel while the guest runs; paused means paused
    control = page.locator(".vmlab-runcontrol").first
    control.locator("button.vmlab-pause").click()
    page.wait_for_function("() => document.querySelector('.vmlab-runcontrol').dataset.state === 'paused'")
    stopped = page.evaluate(LOOK)
    page.wait_for_timeout(1000)
    assert page.evaluate(LOOK)["tlb"]["misses"] == stopped["tlb"]["misses"]
    page.wait_for_timeout(1500)                       # the last walk's animation has ended
    for selector, name in ((".vmlab-walk", "walk"), (".vmlab-pagetable", "tree"),
                           (".vmlab-tlb", "tlb"), (".vmlab-shadow", "shadow")):
        _shot(page, selector, name)
    page.locator(".vmlab-runcontrol").first.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "notebook7.png"))
    page.close()


# ---- anywidget's contract alone (what VS Code's notebook renderer gives a widget) ----------
#
# VS Code draws ipywidgets with its own renderer, and anywidget's front-end there hands a
# widget's module the same small contract as everywhere: ``render({model, el})`` with
# ``model.get/set/on/off/send/save_changes``.  VS Code itself cannot run here; what can be
# checked is that each picture's module needs nothing more: a blank page (no Jupyter at
# all) implements only that contract, loads the module as anywidget does, renders the
# widget's synced state, then delivers a change as "change:<trait>" events.

HOST = """async ({esm, css, state, next}) => {
    const data = {...state}, listeners = {};
    const fire = (ev) => (listeners[ev] || []).slice().forEach(f => f());
    const model = {
        get: (k) => data[k],
        set: (k, v) => { data[k] = v; },
        on: (ev, f) => { for (const e of ev.split(' ')) (listeners[e] = listeners[e] || []).push(f); },
        off: (ev, f) => { for (const e of ev.split(' '))
                            listeners[e] = (listeners[e] || []).filter(g => f && g !== f); },
        send: (msg) => { window.sent = (window.sent || []).concat([msg]); },
        save_changes: () => {},
    };
    const style = document.createElement('style');
    style.textContent = css;
    document.head.appendChild(style);
    const el = document.createElement('div');
    document.body.replaceChildren(el);
    const mod = await import(URL.createObjectURL(new Blob([esm], {type: 'text/javascript'})));
    const widget = typeof mod.default === 'function' ? await mod.default() : mod.default;
    await widget.render({model, el});
    const look = () => ({...el.dataset, svgs: el.querySelectorAll('svg.vmlab-scene').length,
                         shapes: el.querySelectorAll('svg.vmlab-scene g[data-id]').length});
    const before = look();
    Object.assign(data, next);                  // as Backbone does: all set, then the events
    for (const k of Object.keys(next)) fire('change:' + k);
    fire('change');
    return {before, after: look()};
}"""


def _synced(widget) -> dict:
    """The state anywidget sends to the front-end: every synced trait but the module."""
    state = widget.get_state()
    return {k: v for k, v in state.items() if not k.startswith("_") and k not in ("layout",)}


def _module(widget) -> str:
    esm = widget._esm
    return esm if isinstance(esm, str) else Path(esm).read_text()


def _pictures():
    """Each picture widget, before and after its model changed (a real guest ran on)."""
    from vmlab import sv39
    from vmlab.guests import teachos
    from vmlab.hv import Hypervisor
    from vmlab.viz import GuestVsShadow, PageTableTree, TlbView, WalkView
    mem = {}
    root, l1, l0 = 0x8010_0000, 0x8010_1000, 0x8010_2000
    mem[root + 8 * sv39.vpn(0x4020_0000, 2)] = sv39.make_pte(l1, sv39.PTE_V)
    mem[l1 + 8 * sv39.vpn(0x4020_0000, 1)] = sv39.make_pte(l0, sv39.PTE_V)
    mem[l0] = sv39.make_pte(0x8020_0000, sv39.PTE_V | sv39.PTE_R)
    guest = Hypervisor().create_vm(ram_size=64 << 20)
    guest.boot(kernel=teachos.build().elf)
    guest.run(instructions=1_000_000)
    views = {"walk": WalkView(lambda pa: mem.get(pa, 0), sv39.make_satp(root), 0x4020_0010),
             "tree": PageTableTree(lambda pa: mem.get(pa, 0), root),
             "tlb": TlbView(guest.machine), "shadow": GuestVsShadow(guest)}
    before = {name: _synced(w) for name, w in views.items()}
    mem[l0 + 8] = sv39.make_pte(0x8030_0000, sv39.PTE_V | sv39.PTE_R | sv39.PTE_W)
    views["walk"].show(0x4020_1008)                     # another address: a new walk
    guest.run(instructions=2_000_000)
    for name in ("tree", "tlb", "shadow"):
        views[name].refresh()
    return [(name, w, before[name], _synced(w)) for name, w in views.items()]


def test_pictures_need_only_anywidgets_contract(browser):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content("<!doctype html><html><body></body></html>")
    for name, widget, state, after in _pictures():
        changed = {k: v for k, v in after.items() if v != state.get(k)}
        assert changed, f"{name}: the model did not change"
        seen = page.evaluate(HOST, {"esm": _module(widget), "css": widget._css,
                                    "state": state, "next": changed})
        assert seen["before"]["svgs"] == 1 and seen["before"]["shapes"] > 0, (name, seen)
        assert int(seen["after"]["renders"]) > int(seen["before"]["renders"]), (name, seen)
        if name == "walk":
            assert (seen["before"]["va"], seen["after"]["va"]) == ("0x40200010", "0x40201008")
        if name == "tree":
            assert (seen["before"]["leaves"], seen["after"]["leaves"]) == ("1", "2")
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"anywidget-contract-{name}.png"), full_page=True)
    assert errors == []
    page.close()
