"""Ctrl-C as a flag: a run stops cleanly between chunks of work, and can go on afterwards.

Python delivers SIGINT as a KeyboardInterrupt wherever the interpreter happens to be --
possibly half-way through copying a guest's registers or handling an exit.  While a run is
in progress we catch the signal instead and only set a flag, which the run loop looks at
between chunks (the compiled loop returns to Python every few milliseconds), so a run
interrupted by the user always stops at a consistent point.  Signals can only be caught on
the main thread; elsewhere (a notebook's background thread) nothing is installed.
"""
from __future__ import annotations

import signal
import threading


class CtrlCFlag:
    """``with CtrlCFlag() as stop: ... if stop.hit: ...``"""

    def __init__(self):
        self.hit = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        self.hit = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False
