"""The console: the guest's UART output, and a line of input to type into it."""
from __future__ import annotations

import traitlets

from vmlab.viz._base import Widget, esm

KEEP = 20_000      # characters kept in the browser: enough to scroll back, cheap to resend


class Console(Widget):
    """``refresh()`` shows what the guest printed; a line typed in the box goes to the UART.

    Typed input reaches the kernel only when the kernel is free to read messages -- after
    the cell, or at once while a :class:`RunControl` runs the guest in the background.
    """

    _esm = esm("console")
    text = traitlets.Unicode("").tag(sync=True)

    def __init__(self, machine, **kwargs):
        super().__init__(**kwargs)
        self.machine = machine
        self.on_msg(self._on_msg)
        self.refresh()

    def refresh(self) -> None:
        out = self.machine.console_output[-KEEP:]
        if out != self.text:
            with self.hold_sync():
                self.text = out
                self.updates += 1

    def type(self, text: str) -> None:
        """Send ``text`` to the guest's UART, as typing into the box does."""
        self.machine.send_input(text)

    def _on_msg(self, widget, content, buffers) -> None:
        if content.get("type") == "input":
            self.type(content.get("text", ""))
