"""A table a student can filter in the browser (text search plus one menu per facet)."""
from __future__ import annotations

import traitlets

from vmlab.viz._base import Widget, esm


class FilterTable(Widget):
    """``FilterTable(columns, rows, facets=("Type",))``: filtering happens in the browser."""

    _esm = esm("table")
    columns = traitlets.List([]).tag(sync=True)
    rows = traitlets.List([]).tag(sync=True)
    facets = traitlets.List([]).tag(sync=True)

    def __init__(self, columns, rows, facets=(), **kwargs):
        super().__init__(columns=list(columns), rows=[[str(c) for c in r] for r in rows],
                         facets=list(facets), **kwargs)

    def where(self, **equal) -> list[list[str]]:
        """The rows whose columns equal the given values (the same filter, from Python)."""
        idx = {k: self.columns.index(k) for k in equal}
        return [r for r in self.rows if all(r[idx[k]] == v for k, v in equal.items())]
