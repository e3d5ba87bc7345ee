"""A pinning manager that solves the load-balancing project (lab 04's solution, for tests)."""


class Manager:
    """Each vCPU's load is its CPU time per ns since the pins last changed (a long average:
    little noise).  When the pCPUs' loads differ by more than 8% of their mean, re-pack the
    vCPUs largest first onto the least-loaded pCPU -- if that is clearly better -- and then
    wait a few intervals to measure again: balance, without chasing noise."""

    def __init__(self, patience: int = 3):
        self.since, self.base, self.calls, self.patience = 0, {}, 0, patience

    def loads(self, conn):
        loads, where = {}, {}
        for dom in conn.listAllDomains():
            info, maps = dom.vcpus()
            for (num, _state, cpu_time, _cpu), cpumap in zip(info, maps):
                key = (dom.ID(), num)
                loads[key] = cpu_time - self.base.get(key, 0)
                where[key] = cpumap.index(True) if sum(cpumap) == 1 else 0
        return loads, where

    @staticmethod
    def spread(loads, placement, n):
        per = [0] * n
        for key, p in placement.items():
            per[p] += loads[key]
        return (max(per) - min(per)) / (sum(per) / n or 1)

    def __call__(self, conn):
        n = conn.getCPUMap()[0]
        self.calls += 1
        loads, where = self.loads(conn)
        if self.calls - self.since < self.patience or not any(loads.values()):
            return
        per, packing = [0] * n, {}
        for key in sorted(loads, key=lambda k: (-loads[k], k)):
            p = per.index(min(per))
            per[p] += loads[key]
            packing[key] = p
        now = self.spread(loads, where, n)
        if now <= 0.08 or now - self.spread(loads, packing, n) < 0.05:
            return
        for key, p in packing.items():
            if where[key] != p:
                conn.lookupByID(key[0]).pinVcpu(key[1], [q == p for q in range(n)])
        self.since = self.calls
        self.base = {k: self.base.get(k, 0) + v for k, v in loads.items()}
