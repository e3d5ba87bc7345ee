"""Random hostile guests on the bare machine and as guests of the hypervisor (vmlab.fuzz).

Each example is a whole random guest -- random words in M, S or U mode, with or without
random Sv39 tables, device stores, virtio rings and descriptors, CSR corners, SBI calls --
run for a bounded budget.  The promise: the host never raises, the run ends within its
budget, the state stays well formed, and (hv) no host frame outside the guest's changes."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vmlab.fuzz.campaign import CONFIGS
from vmlab.fuzz.runner import MAX_CALLS, fuzz_one

SEEDS = st.integers(0, 2**32 - 1)
WORDS, BUDGET = 600, 20_000
BARE_BUDGET = 50_000             # the bare machine runs random code at ~1 M instructions/s


def check(o, budget=BUDGET):
    assert o.finding is None, f"{o.describe()}: {o.finding}"
    assert 0 <= o.instructions <= budget and 1 <= o.calls <= MAX_CALLS, o
    assert o.reason, o


@settings(settings.get_profile("robust"), max_examples=60)
@given(seed=SEEDS, config=st.sampled_from(CONFIGS))
def test_bare_machine_survives_random_guests(seed, config):
    check(fuzz_one("bare", seed, *config, 2 * WORDS, BARE_BUDGET), BARE_BUDGET)


@settings(settings.get_profile("robust"), max_examples=10)
@given(seed=SEEDS, config=st.sampled_from(CONFIGS),
       mix=st.sampled_from([("device",), ("virtio",), ("csr",), ("csr", "words")]))
def test_bare_machine_survives_devices_dma_and_csrs(seed, config, mix):
    check(fuzz_one("bare", seed, *config, 200, BUDGET, mix=mix))


@settings(settings.get_profile("robust"), max_examples=15)
@given(seed=SEEDS, config=st.sampled_from(CONFIGS))
def test_hypervisor_survives_random_guests(seed, config):
    check(fuzz_one("hv", seed, *config, WORDS, BUDGET))


@settings(settings.get_profile("robust"), max_examples=10)
@given(seed=SEEDS, config=st.sampled_from(CONFIGS),
       mix=st.sampled_from([("device",), ("virtio",), ("csr",), ("sbi",)]))
def test_hypervisor_survives_devices_dma_csrs_and_sbi(seed, config, mix):
    check(fuzz_one("hv", seed, *config, 200, BUDGET, mix=mix))


@settings(settings.get_profile("robust"), max_examples=12)
@given(seed=SEEDS, config=st.sampled_from(CONFIGS),
       mix=st.sampled_from([None, ("device",), ("virtio",), ("csr",), ("sbi",), ("csr", "words")]))
def test_fast_path_and_python_path_agree_on_random_guests(seed, config, mix):
    # the same random guest with its exits in Python and on the compiled fast path: the same
    # trace record for record, registers, clock, console, RAM and pager counters
    check(fuzz_one("paths", seed, *config, WORDS if mix is None else 200, BUDGET, mix=mix))


def test_a_path_difference_is_a_finding(monkeypatch):
    """The comparison itself can fail: a Python path that forgets to count the instructions
    it emulates (minstret) differs from the fast path in the vCPU's row."""
    from vmlab.hv.vcpu import VCpu
    monkeypatch.setattr(VCpu, "retire", lambda self, insn=0: None)
    o = fuzz_one("paths", 0, "S", False, 200, BUDGET, mix=("csr",))
    assert o.finding and "the fast path differs from the Python path: vCPU row" in o.finding


def test_hv_high_tval_reproducer():
    """The smallest known reproducer of the finding above (seed 1 of the campaign)."""
    check(fuzz_one("hv", 1, "S", False, 500, BUDGET))


def test_a_finding_is_reported_not_raised(monkeypatch):
    """The harness itself: a host exception becomes a finding naming where it came from."""
    from vmlab.fuzz import runner

    def broken(g, budget, drive, out):
        raise ValueError("descriptor outside RAM")
    monkeypatch.setitem(runner.RUNNERS, "bare", broken)
    o = fuzz_one("bare", 3, "M", False, 10, 100)
    assert o.finding.startswith("ValueError: descriptor outside RAM [") and "test_random" in o.finding


def test_same_seed_same_guest():
    from vmlab.fuzz.guest import make_guest
    a, b = (make_guest(42, "U", True, 300, 0x8000_0000, 4 << 20) for _ in range(2))
    c = make_guest(43, "U", True, 300, 0x8000_0000, 4 << 20)
    assert a == b and a.image != c.image
