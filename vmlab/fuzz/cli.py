"""``vmlab fuzz``: run random hostile guests for hours and report what broke.

    vmlab fuzz --hours 2 --both            # bare machine and hypervisor, in turn
    vmlab fuzz --words 10000000 --bare --seed 7
    vmlab fuzz --paths --hours 1             # the fast path against the Python one
    vmlab fuzz --replay fuzz-findings/fuzz-hv-7000021.json

Exit status 0: nothing found; 1: findings (each saved as a reproducer file) or bad input.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from vmlab.cli import UserError


def _positive(kind, what: str):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be a number, not {text!r}") from None
        if not (math.isfinite(v) and v > 0):
            raise argparse.ArgumentTypeError(f"{what} must be positive and finite, not {text!r}")
        return v
    return parse


def _seed(text: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer, not {text!r}") from None
    if not 0 <= v < 1 << 32:
        raise argparse.ArgumentTypeError(f"seed must be between 0 and 2**32-1, not {text}")
    return v


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--hours", type=_positive(float, "--hours"), default=None,
                   help="stop after this many hours (default: when --words are run)")
    p.add_argument("--words", type=_positive(int, "--words"), default=None,
                   help="stop after this many guest instructions (default 1,000,000)")
    p.add_argument("--seed", type=_seed, default=1, help="campaign seed (default 1)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--bare", dest="targets", action="store_const", const=["bare"],
                       help="only the bare machine")
    which.add_argument("--hv", dest="targets", action="store_const", const=["hv"],
                       help="only guests of the hypervisor")
    which.add_argument("--both", dest="targets", action="store_const", const=["bare", "hv"],
                       help="both, in turn (the default)")
    which.add_argument("--paths", dest="targets", action="store_const", const=["paths"],
                       help="guests of the hypervisor run twice, exits in Python and on the "
                            "compiled fast path: any difference is a finding")
    p.add_argument("--guest-words", type=_positive(int, "--guest-words"), default=4000,
                   help="code slots per random guest (default 4000)")
    p.add_argument("--budget", type=_positive(int, "--budget"), default=200_000,
                   help="instructions per guest (default 200,000)")
    p.add_argument("--out", default="fuzz-findings", help="directory for reproducer files")
    p.add_argument("--replay", metavar="FILE", help="run one reproducer file again")


def main(args) -> int:
    if args.replay:
        return replay(Path(args.replay))
    if args.guest_words > 65536:
        raise UserError(f"--guest-words is at most 65536, not {args.guest_words}")
    from vmlab.fuzz.campaign import campaign, report
    from vmlab.fuzz.runner import fuzz_one
    targets = args.targets or ["bare", "hv"]
    seconds = args.hours * 3600 if args.hours else math.inf
    total = args.words or (1_000_000 if args.hours is None else 1 << 62)
    print(f"vmlab fuzz: {', '.join(targets)}, seed {args.seed}; compiling ...", flush=True)
    for t in targets:                                   # compile outside the watchdog
        fuzz_one(t, 0, "S", True, 16, 100, watchdog=0)
    tally = campaign(targets, args.seed, seconds, total, args.guest_words, args.budget,
                     Path(args.out), progress=lambda s: print(s, flush=True))
    print(report(tally), flush=True)
    return 1 if tally.findings else 0


def replay(path: Path) -> int:
    from vmlab.fuzz.runner import TARGETS, fuzz_one
    try:
        r = json.loads(path.read_text())
        args = (r["target"], int(r["seed"]), r["mode"], bool(r["paging"]), int(r["words"]),
                int(r["budget"]))
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{path} is not a reproducer file ({exc})") from None
    if args[0] not in TARGETS or args[2] not in ("M", "S", "U") or not \
            (0 < args[4] <= 65536 and 0 < args[5] < 1 << 40 and args[1] >= 0):
        raise UserError(f"{path} is not a reproducer file (bad target, mode or sizes)")
    o = fuzz_one(*args)
    print(f"{o.describe()}: {o.reason or 'raised'} after {o.instructions:,} instructions")
    print(f"finding: {o.finding}" if o.finding else "no finding: the promise holds now")
    return 1 if o.finding else 0
