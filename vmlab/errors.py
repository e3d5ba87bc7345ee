"""Errors every layer may raise, kept at the bottom so that none has to import a layer above.

:class:`UserError` is a mistake in what the user asked for (a file that is not there, a
size that makes no sense): the command line prints it as one line and exits with status 1,
no traceback.  Any layer can raise it for input it was handed; only the top catches it.
"""
from __future__ import annotations


class UserError(Exception):
    """An error caused by the user's input: printed without a traceback, exit status 1."""

