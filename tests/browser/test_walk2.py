"""The two-stage walk and the per-technique exit chart in a real browser (JupyterLab +
Debian's Chromium, as test_labs_in_browser): the SVG drawn, the walk stepped one memory
reference at a time with the count shown, a prediction typed and revealed, a new address
walked from the widget's own field; the exit chart drawn from a real ``vmlab nanobench``
report and switched to a log scale.  Screenshots go to ``artifacts/screenshots/``."""
from __future__ import annotations

import nbformat
from test_labs_in_browser import (  # noqa: F401  (fixtures, used by name)
    SHOTS, browser, lab_server, open_and_run)

SETUP = """\
from vmlab import sv39
from vmlab.machine import Machine
from vmlab.viz import ExitBreakdown, TwoStageWalkView
V, R, W, X, U, A, D = (sv39.PTE_V, sv39.PTE_R, sv39.PTE_W, sv39.PTE_X, sv39.PTE_U, sv39.PTE_A,
                       sv39.PTE_D)
RAM, GUEST = 0x8000_0000, 0x8040_0000          # guest RAM lives in host RAM from 4 MiB on
m = Machine(ram_size=8 << 20)

def put(hpa, pte):
    m.write_mem(hpa, pte.to_bytes(8, "little"))

def host(gpa):                                  # the G stage below maps guest RAM 1:1 to GUEST
    return gpa - RAM + GUEST

g_root, g_l1, g_l0 = RAM + 0x10000, RAM + 0x14000, RAM + 0x15000
put(g_root + 8 * 2, sv39.make_pte(g_l1, V))
put(g_l1, sv39.make_pte(g_l0, V))
for i in range(512):                           # 2 MiB of guest RAM in 4 KiB G-stage pages
    put(g_l0 + 8 * i, sv39.make_pte(host(RAM + 4096 * i), V | R | W | X | U | A | D))
gva = 0x4020_1008
vs_root, vs_l1, vs_l0, data = RAM + 0x1000, RAM + 0x2000, RAM + 0x3000, RAM + 0x10000
put(host(vs_root) + 8 * sv39.vpn(gva, 2), sv39.make_pte(vs_l1, V))
put(host(vs_l1) + 8 * sv39.vpn(gva, 1), sv39.make_pte(vs_l0, V))
put(host(vs_l0) + 8 * sv39.vpn(gva, 0), sv39.make_pte(data, V | R | W | A | D))
m.set_csr("hgatp", sv39.make_hgatp(g_root, vmid=1))
m.set_csr("vsatp", sv39.make_satp(vs_root))
sh_root, sh_l1, sh_l0 = RAM + 0x20000, RAM + 0x21000, RAM + 0x22000    # the shadow of gva
put(sh_root + 8 * sv39.vpn(gva, 2), sv39.make_pte(sh_l1, V))
put(sh_l1 + 8 * sv39.vpn(gva, 1), sv39.make_pte(sh_l0, V))
put(sh_l0 + 8 * sv39.vpn(gva, 0), sv39.make_pte(host(data), V | R | W | U | A | D))
walk = TwoStageWalkView(m, gva, shadow_satp=sv39.make_satp(sh_root))
walk"""
QUIZ = "quiz = TwoStageWalkView(m, gva, 'store', predict=True)\nquiz"
CHART = """\
from vmlab.bench.nanobench import nanobench
chart = ExitBreakdown(nanobench(n=10, names=["syscall", "ptemod"], repeats=1), metric="cycles")
chart"""


def _notebook(folder) -> str:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in (SETUP, QUIZ, CHART)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "walk2.ipynb")
    return "walk2.ipynb"


def _visible_refs(widget) -> int:
    return widget.evaluate("""el => [...el.querySelectorAll("g[data-id^='ref-']")]
        .filter(g => !g.classList.contains('vmlab-later')).length""")


def test_two_stage_walk_and_exit_chart(browser, lab_server):
    page = open_and_run(browser, lab_server, _notebook(lab_server[2]))
    walk = page.locator(".vmlab-walk2").nth(0)
    assert walk.get_attribute("data-refs") == "15"
    assert walk.locator("svg.vmlab-scene g[data-id^='ref-']").count() == 15
    assert walk.locator("svg.vmlab-scene g[data-id^='shadow-']").count() >= 3
    assert "3 memory references" in walk.inner_text()
    # step through it: back to the address alone, then one memory reference at a time
    back, forward = walk.locator("button", has_text="◀ step"), walk.locator("button", has_text="step ▶")
    for _ in range(17):
        back.click()
    assert walk.get_attribute("data-step") == "0" and _visible_refs(walk) == 0
    for k in (1, 2, 3, 4):
        forward.click()
        assert walk.get_attribute("data-step") == str(k) and _visible_refs(walk) == k
    assert "memory references so far: 4 of 15" in walk.locator(".vmlab-count").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    walk.scroll_into_view_if_needed()
    walk.screenshot(path=str(SHOTS / "walk2-step4.png"))
    for _ in range(12):
        forward.click()
    assert _visible_refs(walk) == 15 and "(done)" in walk.locator(".vmlab-count").inner_text()
    walk.screenshot(path=str(SHOTS / "walk2-fifteen.png"))
    # a new address from the widget's own field: a page the guest has not mapped
    walk.locator("input.vmlab-va").fill("0x40202008")
    walk.locator("button", has_text="walk").first.click()
    page.wait_for_function("() => document.querySelector('.vmlab-walk2').dataset.gva === '0x40202008'")
    assert walk.get_attribute("data-fault") == "13" and walk.get_attribute("data-refs") == "12"
    page.wait_for_timeout(13 * 450 + 500)                # the new walk animates: let it finish
    walk.screenshot(path=str(SHOTS / "walk2-fault.png"))
    # predict, then reveal: nothing drawn until the answer
    quiz = page.locator(".vmlab-walk2").nth(1)
    assert quiz.get_attribute("data-asking") == "true" and _visible_refs(quiz) == 0
    quiz.locator("input.vmlab-guess").fill("15")
    quiz.locator("button.vmlab-reveal").click()
    page.wait_for_function("() => document.querySelectorAll('.vmlab-walk2')[1].dataset.asking === 'false'")
    assert quiz.get_attribute("data-verdict").endswith("right") and quiz.get_attribute("data-refs") == "15"
    # the exit chart: 2 benchmarks x 4 techniques (hw not measured yet), a log scale on request
    chart = page.locator(".vmlab-exitchart").first
    assert chart.get_attribute("data-bars") == "8" and int(chart.get_attribute("data-segments")) >= 6
    assert "not measured" in chart.inner_text() and "sfence" in chart.inner_text()
    chart.scroll_into_view_if_needed()
    chart.screenshot(path=str(SHOTS / "exitchart-linear.png"))
    chart.locator("button.vmlab-scale").click()
    page.wait_for_function("() => document.querySelector('.vmlab-exitchart').dataset.scale === 'log'")
    assert "log scale" in chart.inner_text()
    chart.screenshot(path=str(SHOTS / "exitchart-log.png"))
    page.close()


def test_both_need_only_anywidgets_contract(browser):
    """As test_notebook7 checks for the other pictures: each module draws on a blank page that
    gives only anywidget's contract (what VS Code's renderer gives), and redraws on a change."""
    from test_notebook7 import HOST, _module, _synced
    from vmlab import sv39
    from vmlab.viz import ExitBreakdown, TwoStageWalkView
    mem = {}
    g_root, vs_root = 0x8001_0000, 0x8000_1000           # G: a 1 GiB page; VS: a 1 GiB page
    mem[g_root + 8 * 2] = sv39.make_pte(0x8000_0000, 0xDF)
    mem[vs_root + 8 * 1] = sv39.make_pte(0x8000_0000, 0xC3)
    walk = TwoStageWalkView(lambda pa: mem.get(pa, 0), 0x4000_1000, vsatp=sv39.make_satp(vs_root),
                            hgatp=sv39.make_hgatp(g_root))
    report = {"techniques": ["shadow", "hw"], "results": {"syscall": {
        "shadow": {"handlers": {"csr": 2.0, "sret": 1.0}, "cycles": 1011.0},
        "hw": {"handlers": {}, "cycles": 11.0}}}, "cost_model": {"exit": {"switch": 300}}}
    chart = ExitBreakdown(report)
    before = {"walk": _synced(walk), "chart": _synced(chart)}
    walk.show(0x4000_2000 | 1 << 50)                     # not canonical: a fault, no references
    chart.metric = "cycles"
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_content("<!doctype html><html><body></body></html>")
    for name, widget in (("walk2", walk), ("exitchart", chart)):
        state, after = before["walk" if name == "walk2" else "chart"], _synced(widget)
        changed = {k: v for k, v in after.items() if v != state.get(k)}
        seen = page.evaluate(HOST, {"esm": _module(widget), "css": widget._css, "state": state,
                                    "next": changed})
        assert seen["before"]["svgs"] == 1 and seen["before"]["shapes"] > 0, (name, seen)
        assert int(seen["after"]["renders"]) > int(seen["before"]["renders"]), (name, seen)
        if name == "walk2":
            assert (seen["before"]["refs"], seen["after"]["refs"]) == ("3", "0")
            assert seen["after"]["fault"] == "13"
        else:
            assert (seen["before"]["metric"], seen["after"]["metric"]) == ("exits", "cycles")
            assert seen["after"]["bars"] == "2"
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"anywidget-contract-{name}.png"), full_page=True)
    assert errors == []
    page.close()
