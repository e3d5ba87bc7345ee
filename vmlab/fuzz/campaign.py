"""Many random guests in a row: the long mode behind ``vmlab fuzz``.

Guests cycle through every configuration -- target (bare, hv, or the hypervisor's two exit
paths compared) x mode (M, S, S with Sv39, U, U with Sv39) -- each from its own seed (the campaign's seed and the guest's number), so
any guest can be replayed alone.  A finding (a host exception, a budget overrun, a broken
invariant) is written to a reproducer file: JSON naming the target, seed, mode and sizes,
which ``vmlab fuzz --replay FILE`` runs again.  The same broken promise found many times is
reported once, with its count and its first reproducers.
"""
from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from vmlab.fuzz.runner import Outcome, fuzz_one

CONFIGS = [("M", False), ("S", False), ("S", True), ("U", False), ("U", True)]
KEEP_PER_SIGNATURE = 3


def guest_seed(campaign_seed: int, n: int) -> int:
    return campaign_seed * 1_000_003 + n


def signature(finding: str) -> str:
    """What makes two findings the same bug: the message without its numbers, and where."""
    return re.sub(r"0x[0-9a-f]+|\d+", "N", finding)


@dataclass
class Tally:
    guests: int = 0
    words: int = 0                     # code slots generated
    instructions: int = 0              # guest instructions run (trapping ones included)
    seconds: float = 0.0
    per_config: Counter = field(default_factory=Counter)    # "bare M+sv39" -> instructions
    causes: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    findings: dict[str, list] = field(default_factory=dict)  # signature -> [count, files]

    def add(self, o: Outcome, words: int) -> None:
        self.guests += 1
        self.words += words
        self.instructions += o.instructions
        self.per_config[f"{o.target} {o.mode}{'+sv39' if o.paging else ''}"] += o.instructions
        self.causes.update(o.causes)
        self.reasons[o.reason or "raised"] += 1


def save_reproducer(out_dir: Path, o: Outcome, words: int) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"fuzz-{o.target}-{o.seed}.json"
    path.write_text(json.dumps({"target": o.target, "seed": o.seed, "mode": o.mode,
                                "paging": o.paging, "words": words, "budget": o.budget,
                                "finding": o.finding}, indent=1) + "\n")
    return path


def record(tally: Tally, o: Outcome, words: int, out_dir: Path) -> None:
    if o.finding is None:
        return
    entry = tally.findings.setdefault(signature(o.finding), [0, [], o.finding])
    entry[0] += 1
    if len(entry[1]) < KEEP_PER_SIGNATURE:
        entry[1].append(str(save_reproducer(out_dir, o, words)))


def campaign(targets: list[str], seed: int, seconds: float, max_instructions: int,
             words: int, budget: int, out_dir: Path, progress=print) -> Tally:
    """Run guests until the time or the instruction total is spent."""
    tally, start, last = Tally(), time.monotonic(), 0.0
    n = 0
    while tally.instructions < max_instructions and time.monotonic() - start < seconds:
        target = targets[n % len(targets)]
        mode, paging = CONFIGS[(n // len(targets)) % len(CONFIGS)]
        o = fuzz_one(target, guest_seed(seed, n), mode, paging, words, budget)
        tally.add(o, words)
        record(tally, o, words, out_dir)
        n += 1
        tally.seconds = time.monotonic() - start
        if tally.seconds - last >= 10:
            last = tally.seconds
            progress(progress_line(tally))
    return tally


def progress_line(t: Tally) -> str:
    rate = t.instructions / max(t.seconds, 1e-9)
    return (f"[{t.seconds:7.0f} s] {t.guests} guests, {t.instructions:,} instructions "
            f"({rate:,.0f}/s), {sum(c for c, *_ in t.findings.values())} findings")


def report(t: Tally) -> str:
    lines = [f"guests: {t.guests}   code words: {t.words:,}   instructions run: "
             f"{t.instructions:,}   time: {t.seconds:.0f} s   rate: "
             f"{t.instructions / max(t.seconds, 1e-9):,.0f} instructions/s"]
    lines.append("per target and mode: " + ", ".join(
        f"{k} {v:,}" for k, v in sorted(t.per_config.items())))
    lines.append("runs ended by: " + ", ".join(f"{k} {v}" for k, v in t.reasons.most_common()))
    lines.append("traps and exits by cause: " + ", ".join(
        f"{k} {v:,}" for k, v in t.causes.most_common()))
    if not t.findings:
        lines.append("findings: none")
    for count, files, first in t.findings.values():
        lines.append(f"finding x{count}: {first}")
        lines += [f"  reproducer: {f}" for f in files]
    return "\n".join(lines)
