"""``python -m vmlab`` is the same as the ``vmlab`` command."""
from vmlab.cli import main

raise SystemExit(main())
