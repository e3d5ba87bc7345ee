"""The rich displays are registered by module and class *name*: a class that moves to another
module silently loses its display.  Check that every registered name still is that class."""
import importlib
from types import SimpleNamespace

from vmlab.notebook import reprs


class _Recorder:
    def __init__(self):
        self.names = []

    def for_type_by_name(self, module, name, func):
        self.names.append((module, name))


def test_every_registered_name_is_a_class_where_it_says():
    formatters = {"text/html": _Recorder(), "text/plain": _Recorder()}
    reprs.register(SimpleNamespace(display_formatter=SimpleNamespace(formatters=formatters)))
    names = formatters["text/html"].names + formatters["text/plain"].names
    assert ("vmlab.hv.vm", "VM") in names
    for module, name in names:
        cls = getattr(importlib.import_module(module), name, None)
        assert isinstance(cls, type) and cls.__module__ == module, f"{module}.{name}"
