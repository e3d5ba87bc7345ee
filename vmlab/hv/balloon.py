"""The balloon in the hypervisor: a virtio-balloon device per VM, wired to the host pool.

:class:`vmlab.machine.virtio_balloon.VirtioBalloon` is the device the guest's driver talks
to; this module plugs it into a VM (second virtio-mmio slot, PLIC wire 2, a node in the
VM's device tree -- so attach it before booting) and decides what the pages mean to the
host: an inflated page's frame goes straight back to the host's pool
(:meth:`GuestMemory.balloon`; the shadow forgets every mapping of it), a deflated page is
the guest's again and gets a fresh frame on its next touch::

    balloon = Balloon(vm)                      # before vm.boot(...)
    vm.boot(kernel=..., initrd=...)
    balloon.set_target(mib=32)                 # "give me 32 MiB back"
    vm.run(...)                                # the driver inflates; balloon.actual grows
    balloon.set_target(0)                      # and deflates

The host only ever *asks*: how fast, and whether at all, the guest answers is the guest's
business -- which is the point of a balloon (Waldspurger 2002: the guest, not the host,
knows which of its pages are least valuable).
"""
from __future__ import annotations

from vmlab.hv.memory import PAGE
from vmlab.machine.virtio_balloon import (BALLOON_BASE, BALLOON_IRQ, BALLOON_SIZE,
                                          VIRTIO_BALLOON_F_DEFLATE_ON_OOM, VirtioBalloon,
                                          add_dt_node)


class Balloon:
    """The balloon of ``vm``: ``set_target``, ``actual``, ``stats``, ``counters``."""

    def __init__(self, vm, deflate_on_oom: bool = True):
        self.vm = vm
        self.device = VirtioBalloon(self._inflate, self._deflate)
        if not deflate_on_oom:
            self.device.device_features &= ~(1 << VIRTIO_BALLOON_F_DEFLATE_ON_OOM)
        self.counters = {"inflated": 0, "deflated": 0, "ignored": 0}
        vm.devices.add_slot(BALLOON_BASE, BALLOON_SIZE, BALLOON_IRQ, self.device,
                            lambda tree: add_dt_node(tree, BALLOON_BASE, BALLOON_IRQ))
        self._slot = vm.devices.slots[-1]     # (the shadow pager treats every slot as MMIO)
        vm.balloon = self

    # --- what the host asks ---------------------------------------------------------------------
    def set_target(self, pages: int = 0, *, mib: int | None = None) -> None:
        """Ask the guest to put ``pages`` 4 KiB pages (or ``mib`` MiB) in the balloon."""
        if mib is not None:
            pages = (mib << 20) // PAGE
        if pages < 0 or pages > self.vm.mem.size // PAGE:
            raise ValueError(f"a balloon target must be 0..{self.vm.mem.size // PAGE} pages, not {pages}")
        self.device.set_target(pages)
        self.vm.devices.set_slot_irq(self._slot)

    def request_stats(self) -> bool:
        """Ask the driver for fresh statistics (they arrive in ``stats`` as it answers)."""
        asked = self.device.request_stats()
        self.vm.devices.set_slot_irq(self._slot)
        return asked

    @property
    def target(self) -> int:
        return self.device.num_pages

    @property
    def actual(self) -> int:
        """Pages the driver says the balloon holds."""
        return self.device.actual

    @property
    def stats(self) -> dict:
        return dict(self.device.stats)

    # --- what the guest gives ---------------------------------------------------------------------
    def _pages(self, pfns):
        mem = self.vm.mem
        for pfn in pfns:
            gpa = pfn * PAGE
            if mem.contains(gpa, PAGE):
                yield mem.page_of(gpa)
            else:
                self.counters["ignored"] += 1          # not guest RAM: nothing to give back

    def _inflate(self, pfns) -> None:
        for page in self._pages(pfns):
            self.counters["inflated"] += self.vm.mem.balloon(page)

    def _deflate(self, pfns) -> None:
        for page in self._pages(pfns):
            self.counters["deflated"] += self.vm.mem.unballoon(page)
