"""Start JupyterLab on a lab: ``python -m vmlab.notebook.lab [labs/00-welcome.ipynb]``.

What ``make lab`` runs.  Three things a bare ``jupyter lab`` would get wrong here:

- the two vmlab kernels must be installed (into this Python's prefix);
- inside a virtual environment that reuses the system's packages (``make`` creates one with
  ``--system-site-packages``), the front-end halves of ipywidgets and anywidget live in the
  *base* interpreter's ``share/jupyter``, which Jupyter does not search from a venv: without
  them every widget shows as plain text.  :func:`jupyter_env` adds that folder to
  ``JUPYTER_PATH``;
- the server listens on 127.0.0.1 only (and, run as root, needs ``--allow-root``).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


def jupyter_env(env: dict | None = None) -> dict:
    """A copy of ``env`` (default: os.environ) in which Jupyter finds the base interpreter's
    data files (kernels, front-end extensions) when running inside a virtual environment."""
    env = dict(os.environ if env is None else env)
    base = Path(sys.base_prefix) / "share" / "jupyter"
    if sys.prefix != sys.base_prefix and base.is_dir():
        parts = [p for p in env.get("JUPYTER_PATH", "").split(os.pathsep) if p]
        if str(base) not in parts:
            env["JUPYTER_PATH"] = os.pathsep.join(parts + [str(base)])
    return env


def command(notebook: str, extra: list[str] = ()) -> list[str]:
    cmd = [sys.executable, "-m", "jupyterlab", notebook, "--ServerApp.ip=127.0.0.1", *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    notebook = argv.pop(0) if argv and not argv[0].startswith("-") else "labs/00-welcome.ipynb"
    from vmlab.notebook.install import install
    install()
    cmd = command(notebook, argv)
    print("vmlab:", " ".join(cmd), flush=True)
    os.execvpe(cmd[0], cmd, jupyter_env())
    return 0                               # not reached


if __name__ == "__main__":
    raise SystemExit(main())
