"""The scheduling timeline in a real browser: drawn live while the host runs (its DOM
changes during the run, not only at the end), and drawn again from the finished trace.

The notebook is written here (a copy in the server's folder, like the labs): one cell
makes the host and shows the timeline, the next runs the guests for a few seconds of wall
time, the last shows a new timeline of the finished run.  Screenshots join the others in
``artifacts/screenshots/``.
"""
from __future__ import annotations

import json
import time

import nbformat
from test_labs_in_browser import (  # noqa: F401  (fixtures, used by name)
    SHOTS, TIMEOUT_MS, _cells_done, _errors, _kernel_idle, _wait, browser, lab_server,
    open_and_run, shot_of)

SETUP = """\
from vmlab.hv.vm import Hypervisor
from vmlab.machine import Machine
from vmlab.hv.sched import Credit, Host, MS
from vmlab.hv.sched import workloads
from vmlab.viz.timeline import Timeline
hv = Hypervisor(Machine(ram_size=64 << 20))
for name in ("spin", "spin", "iobound"):
    workloads.boot(hv, name)
host = Host(hv, pcpus=2, policy=Credit(slice_ns=MS // 10, tick_ns=MS // 30, period_ns=MS // 10),
            window_ns=MS // 100)
live = Timeline(host, span_ns=2 * MS)
live"""
RUN = "# the run\nlive.run(60 * MS, chunk_ns=MS // 2)"
AFTER = "# the finished trace\nafter = Timeline(host)\nafter"


def _notebook(folder):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in (SETUP, RUN, AFTER)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, folder / "timeline-live.ipynb")


def _renders(page, index: int = 0) -> int:
    loc = page.locator(".vmlab-timeline")
    if loc.count() <= index:
        return 0
    return int(loc.nth(index).get_attribute("data-renders") or 0)


def test_timeline_draws_live_and_from_a_finished_trace(browser, lab_server):
    base, token, work = lab_server
    _notebook(work)
    name = "timeline-live.ipynb"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{base}/lab/workspaces/timeline/tree/{name}?reset&token={token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    _wait(page, lambda: _kernel_idle(page) and page.evaluate(
        f"() => window.jupyterapp.shell.currentWidget.context.path === {json.dumps(name)}"),
        "the kernel to start")
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    seen = set()
    end = time.monotonic() + 240
    while time.monotonic() < end and not (_cells_done(page) and _kernel_idle(page)):
        if _errors(page):
            break
        if not _cells_done(page):                      # only while the cells still run
            seen.add(_renders(page))
        page.wait_for_timeout(100)
    assert _errors(page) == []
    page.wait_for_timeout(500)
    final = _renders(page)
    during = {r for r in seen if 0 < r < final}
    assert len(during) >= 2, (seen, final)             # redrawn during the run, not just after
    live = page.locator(".vmlab-timeline").first
    assert int(live.get_attribute("data-slices")) > 5
    after = page.locator(".vmlab-timeline").nth(1)
    assert int(after.get_attribute("data-slices")) > 5
    assert "60.000 ms simulated" in after.inner_text()
    assert after.locator("svg.vmlab-scene rect.vm0").count() > 0
    assert after.locator("svg.vmlab-scene rect.vm2").count() > 0
    assert "pCPU 1" in after.inner_text() and "vm2.0" in after.inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    live.scroll_into_view_if_needed()
    live.screenshot(path=str(SHOTS / "timeline-live.png"))
    after.scroll_into_view_if_needed()
    after.screenshot(path=str(SHOTS / "timeline-finished.png"))
    page.close()


def test_lab04_in_the_browser(browser, lab_server):
    """Lab 04 runs top to bottom in JupyterLab: shares printed, the timeline drawn with a
    lane per pCPU and slices of all three VMs, the project's check passed."""
    page = open_and_run(browser, lab_server, "04-scheduling.ipynb")
    timeline = page.locator(".vmlab-timeline").first
    assert int(timeline.get_attribute("data-slices")) > 10
    for vm in range(3):
        assert timeline.locator(f"svg.vmlab-scene rect.vm{vm}").count() > 0
    text = page.locator(".jp-NotebookPanel").first.inner_text()
    assert "credit       VM 0:  14.2%" in text
    assert "all correct" in text
    shot_of(page, ".vmlab-timeline", "04-scheduling-timeline")
    page.close()
