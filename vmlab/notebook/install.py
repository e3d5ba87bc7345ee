"""Install vmlab's two kernelspecs: ``python -m vmlab.notebook.install [--user | --prefix P]``.

A wheel install already puts them in ``<prefix>/share/jupyter/kernels`` (hatchling
shared-data); this command is for an editable checkout, or to install them per user.
Default: into the running Python's prefix (``sys.prefix``), which is what a virtual
environment or a Binder image wants.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

KERNELS = ("vmlab", "vmlab-asm")


def kernels_dir() -> Path:
    """``kernels/`` of this checkout (next to the package), or the copy in the wheel's data."""
    here = Path(__file__).resolve().parents[2] / "kernels"
    if here.is_dir():
        return here
    return Path(sys.prefix) / "share" / "jupyter" / "kernels"


def install(user: bool = False, prefix: str | None = None) -> list[str]:
    from jupyter_client.kernelspec import KernelSpecManager
    ksm = KernelSpecManager()
    if not user and prefix is None:
        prefix = sys.prefix
    done = []
    for name in KERNELS:
        source = kernels_dir() / name
        target = Path(prefix) / "share" / "jupyter" / "kernels" / name if not user else None
        if target is not None and target.resolve() == source.resolve():
            # A wheel install: the spec already is where it would go.  Installing it onto
            # itself would delete the source before copying it.
            done.append(str(target))
            continue
        done.append(ksm.install_kernel_spec(str(source), kernel_name=name,
                                            user=user, prefix=None if user else prefix))
    return done


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m vmlab.notebook.install", description=__doc__.splitlines()[0])
    p.add_argument("--user", action="store_true", help="install for this user only")
    p.add_argument("--prefix", default=None, help="install under this prefix (default: sys.prefix)")
    a = p.parse_args(argv)
    for path in install(a.user, a.prefix):
        print(f"installed {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
