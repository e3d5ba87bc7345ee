"""Errors every layer may raise, kept at the bottom so that none has to import a layer above.

:class:`UserError` is a mistake in what the user asked for (a file that is not there, a
size that makes no sense): the command line prints it as one line and exits with status 1,
no traceback.  Any layer can raise it for input it was handed; only the top catches it.
"""
from __future__ import annotations


class UserError(Exception):
    """An error caused by the user's input: printed without a traceback, exit status 1."""


class InternalError(Exception):
    """A defect of vmlab itself, met while running a guest (never the guest's fault: anything
    a guest does has a defined, guest-visible outcome).  The run stops with this one-line
    message naming where the guest was; the machine stays as it was, to be inspected."""
