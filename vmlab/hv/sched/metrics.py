"""What a scheduler did, in numbers: per vCPU, per VM, per pCPU.

- run time: ns on a pCPU; ready time: runnable but waiting for one (steal time, as the
  guest sees it); co-stop: part of the ready time spent held back by co-scheduling
- wake latency: from becoming runnable to running (mean and worst)
- share: run time / elapsed time (1.0 = one whole pCPU), against the *entitlement* that
  the weights and caps promise (:func:`entitlements`)
- pCPU utilisation (busy / elapsed) and context switches
"""
from __future__ import annotations

from statistics import mean, pstdev

from vmlab.hv.sched.policy import READY


def ready_ns(v, now: int) -> int:
    """Ready time so far: the waits that ended in a run, and the one going on now (a vCPU
    that never got a pCPU has waited all along)."""
    return v._ready_ns + (max(0, now - v._since) if v._state == READY else 0)


def vcpu_rows(host) -> list[dict]:
    """One dict per vCPU, in the host's order."""
    elapsed = max(1, host.now)
    rows = []
    for v in host.vcpus:
        rows.append({
            "vcpu": v.name, "vm": v.vm, "state": v.state, "pcpu": v.last_pcpu,
            "run_ms": v.runtime / 1e6, "ready_ms": ready_ns(v, host.now) / 1e6,
            "costop_ms": v._costop_ns / 1e6, "switches": v._switches,
            "wake_latency_us": v._wake_lat_sum / v._wakes / 1e3 if v._wakes else 0.0,
            "wake_latency_max_us": v._wake_lat_max / 1e3,
            "share": v.runtime / elapsed,
        })
    return rows


def vm_shares(host) -> dict[int, float]:
    """Each VM's run time as a fraction of the elapsed time (1.0 = one pCPU)."""
    elapsed = max(1, host.now)
    out: dict[int, float] = {}
    for v in host.vcpus:
        out[v.vm] = out.get(v.vm, 0.0) + v.runtime / elapsed
    return out


def entitlements(host, busy=None) -> dict[int, float]:
    """What weights and caps promise each VM (in pCPUs), if every vCPU of the VMs in
    ``busy`` (default: all) always wants to run: the pCPUs shared by weight, a VM never
    given more than its cap or its vCPU count -- what it cannot use goes to the others."""
    vms = {}
    for v in host.vcpus:
        if busy is None or v.vm in busy:
            w, limit = vms.get(v.vm, (v.weight, 0.0))
            cap = v.cap / 100 if v.cap else float("inf")
            vms[v.vm] = (w, min(limit + 1.0, cap))
    left, out, open_ = float(len(host.pcpus)), {}, set(vms)
    while open_:
        total = sum(vms[m][0] for m in open_)
        fair = {m: left * vms[m][0] / total for m in open_}
        full = {m for m in open_ if fair[m] >= vms[m][1]}
        if not full:
            out.update(fair)
            break
        for m in sorted(full):
            out[m] = vms[m][1]
            left -= vms[m][1]
        open_ -= full
    return out


def pcpu_rows(host) -> list[dict]:
    elapsed = max(1, host.now)
    return [{"pcpu": p.id, "utilisation": p.busy_ns / elapsed, "idle_ms": p.idle_ns / 1e6,
             "switches": p.switches} for p in host.pcpus]


def balance(host) -> dict:
    """Mean and standard deviation of pCPU utilisation (the load-balancing target)."""
    u = [r["utilisation"] for r in pcpu_rows(host)]
    return {"mean": mean(u), "stdev": pstdev(u)}


def table(host) -> str:
    """A plain-text summary (for terminals and reports)."""
    lines = [f"{'vCPU':8} {'state':8} {'run ms':>9} {'ready ms':>9} {'costop':>7} "
             f"{'wake µs':>8} {'switch':>6} {'share':>6}"]
    for r in vcpu_rows(host):
        lines.append(f"{r['vcpu']:8} {r['state']:8} {r['run_ms']:9.2f} {r['ready_ms']:9.2f} "
                     f"{r['costop_ms']:7.2f} {r['wake_latency_us']:8.1f} {r['switches']:6} "
                     f"{r['share']:6.1%}")
    for r in pcpu_rows(host):
        lines.append(f"pCPU {r['pcpu']}: {r['utilisation']:.1%} busy, {r['switches']} switches")
    return "\n".join(lines)
