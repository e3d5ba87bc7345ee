"""The memory map and lab 05 in a real browser (JupyterLab + Debian's Chromium, as in
test_labs_in_browser): the lab runs top to bottom without an error, the map is drawn and
redrawn while its guests run, hovering a frame names its owners.  Screenshots go to
``artifacts/screenshots/``."""
from __future__ import annotations

from test_labs_in_browser import SHOTS, browser, lab_server, open_and_run, shoot  # noqa: F401


def test_lab05_memory_map_live(browser, lab_server):  # noqa: F811  (fixtures imported above)
    page = open_and_run(browser, lab_server, "05-memory.ipynb")
    maps = page.locator(".vmlab-memmap")
    assert maps.count() == 2
    first, three = maps.nth(0), maps.nth(1)
    assert int(first.get_attribute("data-renders")) >= 3          # redrawn while it ran
    assert int(first.get_attribute("data-private")) > 0
    assert int(three.get_attribute("data-guests")) == 3
    frames = int(three.get_attribute("data-frames"))
    private, free = int(three.get_attribute("data-private")), int(three.get_attribute("data-free"))
    assert private > 0.8 * frames and free < 0.05 * frames         # overcommitted: the pool is full
    grid = first.locator("canvas").first
    grid.scroll_into_view_if_needed()
    grid.hover(position={"x": 2, "y": 2})                         # frame 0: the guest's first page
    page.wait_for_function("() => (document.querySelector('.vmlab-memmap').dataset.hover || '').includes('gpa')")
    assert "VM 0 gpa 0x80000000" in first.get_attribute("data-hover")
    shoot(page, "05-memory", [".vmlab-memmap"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    three.scroll_into_view_if_needed()
    three.screenshot(path=str(SHOTS / "05-memory-overcommit.png"))
    page.close()
