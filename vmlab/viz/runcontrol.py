"""Run / pause / step / reset for a guest, with live views that follow it.

Why a background thread: a Jupyter kernel reads messages from the browser only between
cells, so a "pause" click would wait for a long run to end.  Running the guest on a worker
thread leaves the kernel free to hear the click (ipykernel >= 7.0.1), while the worker
refreshes the views between chunks of guest instructions -- at most a few times a second,
so that watching costs the guest only a few percent of its speed.
"""
from __future__ import annotations

import threading
import time

import traitlets

from vmlab.viz._base import Throttle, Widget, esm

#: instructions in the first chunk; after it, each chunk is sized to take about
#: CHUNK_SECONDS (a pause is heard that soon, and the per-call cost of entering the machine
#: from Python -- ~60 us -- stays a fraction of a percent, whether the guest runs at 200
#: MIPS on a bare machine or far slower under a hypervisor with many exits; at most
#: CHUNK_RANGE[1], so that a guest that suddenly slows down is still paused soon)
CHUNK = 1_000_000
CHUNK_SECONDS = 0.02
CHUNK_RANGE = (10_000, 4_000_000)


class RunControl(Widget):
    """Buttons and a Python API (:meth:`run`, :meth:`pause`, :meth:`step`, :meth:`reset`).

    - ``machine``: what runs -- a Machine, or a hypervisor VM (anything with
      ``run(instructions=)``); with ``recorder`` (a :class:`~vmlab.viz.TrapRecorder`) the
      runs go through it, so traps are logged.
    - ``views``: widgets with ``refresh()`` (registers, console, trap log ...).
    - ``on_reset``: called after ``machine.reset()``, e.g. to load the program again.
    """

    _esm = esm("runcontrol")
    state = traitlets.Unicode("paused").tag(sync=True)
    instructions = traitlets.Int(0).tag(sync=True)
    mips = traitlets.Float(0.0).tag(sync=True)
    message = traitlets.Unicode("").tag(sync=True)

    def __init__(self, machine, views=(), *, recorder=None, on_reset=None, rate: float = 5.0,
                 chunk: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.machine, self.views, self.recorder = machine, list(views), recorder
        self.on_reset, self.rate = on_reset, rate
        self.chunk = chunk or CHUNK
        self._fixed_chunk = chunk is not None     # given: kept; else sized by time
        self._total = 0                      # instructions run through this control
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_result = None
        self.on_msg(self._on_msg)

    # ---- the Python API ---------------------------------------------------------------------
    def run(self, instructions: int | None = None, *, background: bool = True):
        """Run the guest (forever, or ``instructions``); in the background unless told not to."""
        if self.running:
            return None
        self._stop.clear()
        if not background:
            return self._loop(instructions)
        self._thread = threading.Thread(target=self._loop, args=(instructions,), daemon=True,
                                        name="vmlab-run")
        self._thread.start()
        return None

    def pause(self) -> None:
        self._stop.set()

    def wait(self, timeout: float | None = None) -> None:
        """Block until a background run ends (pause, halt, budget)."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def step(self) -> None:
        if self.running:
            return
        self._run_some(1)
        self.refresh()

    def reset(self) -> None:
        if not hasattr(self.machine, "reset") and self.on_reset is None:
            self.message = "reset: not available here (run the cell that made it again)"
            return
        self.pause()
        self.wait()
        if hasattr(self.machine, "reset"):
            self.machine.reset()
        self._total = 0
        if self.on_reset:
            self.on_reset(self.machine)
        self.state, self.message = "paused", "reset"
        self.refresh()

    def refresh(self, live: bool = False) -> None:
        """Redraw every view now.  The run loop calls this throttled with ``live=True``:
        then a view whose drawing is expensive may skip a turn (``Widget.live_refresh``)."""
        with self.hold_sync():
            self.instructions = self._total
            self.updates += 1
        for v in self.views:
            getattr(v, "live_refresh", v.refresh)() if live else v.refresh()

    # ---- the loop ---------------------------------------------------------------------------
    def _run_some(self, n: int):
        r = self.recorder.run(n) if self.recorder is not None else self.machine.run(instructions=n)
        self._total += r.instructions
        return r

    def _loop(self, instructions: int | None):
        throttle = Throttle(self.rate)
        done, started, result = 0, time.perf_counter(), None
        self.state, self.message = "running", ""
        try:
            while not self._stop.is_set():
                n = self.chunk if instructions is None else min(self.chunk, instructions - done)
                if n <= 0:
                    break
                t = time.perf_counter()
                result = self._run_some(n)
                done += result.instructions
                self._size_chunk(result.instructions, time.perf_counter() - t)
                if throttle.ready():
                    self.mips = done / max(1e-9, time.perf_counter() - started) / 1e6
                    self.refresh(live=True)
                if result.reason not in ("budget",):
                    break
        except Exception as exc:            # shown in the widget: a thread has no cell to fail
            self.message = f"error: {exc}"
            raise
        finally:
            # The views get their final values first and the state flips last, so whoever
            # sees "paused" also sees where the guest stopped.
            self.mips = done / max(1e-9, time.perf_counter() - started) / 1e6
            reason = "paused" if self._stop.is_set() else (result.reason if result else "budget")
            self.last_result = result
            self.refresh()
            if not self.message:
                self.message = reason
            self.state = "halted" if reason == "halt" else "paused"
        return result

    def _size_chunk(self, ran: int, seconds: float) -> None:
        """The next chunk: as many instructions as the last ones ran in CHUNK_SECONDS."""
        if self._fixed_chunk or ran < self.chunk // 2:     # a short chunk says nothing
            return
        lo, hi = CHUNK_RANGE
        self.chunk = min(hi, max(lo, int(ran * CHUNK_SECONDS / max(seconds, 1e-6))))

    def _on_msg(self, widget, content, buffers) -> None:
        if content.get("type") != "cmd":
            return
        cmd = content.get("cmd")
        if cmd == "run":
            self.run()
        elif cmd == "pause":
            self.pause()
        elif cmd == "step":
            self.step()
        elif cmd == "reset":
            self.reset()
