"""``vmlab guests``: ready-made guests that are not part of the package.

    vmlab guests fetch linux [--mirror URL]   # Debian's riscv64 kernel + busybox, via apt
    vmlab guests show linux                   # where the cached files are, or what is missing
"""
from __future__ import annotations

from vmlab.cli import UserError


def register(parser) -> None:
    parser.add_argument("action", choices=("fetch", "show"))
    parser.add_argument("guest", choices=("linux",))
    parser.add_argument("--mirror", metavar="URL",
                        help="Debian mirror to fetch from (default: the one apt is set up with)")


def main(args) -> int:
    from vmlab.guests import linux
    try:
        if args.action == "fetch":
            linux.fetch(mirror=args.mirror)
        kernel, initrd, cmdline = linux.boot_files()
    except linux.GuestMissing as exc:
        raise UserError(str(exc))
    print(f"kernel:  {kernel}\ninitrd:  {initrd}\ncmdline: {cmdline}")
    return 0
