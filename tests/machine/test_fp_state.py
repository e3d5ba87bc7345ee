"""fpstate: the fflags/frm/fcsr windows and the FS/SD bookkeeping, on a bare cpu row."""
from __future__ import annotations

import numpy as np
import pytest

from vmlab.machine import fpstate as F
from vmlab.machine.layout import CPU_WORDS, FCSR, FFLAGS, FRM, MSTATUS


def row(fs=F.FS_INITIAL, fcsr=0):
    c = np.zeros(CPU_WORDS, dtype=np.int64)
    c[MSTATUS], c[FCSR] = fs, fcsr
    return c


def test_fflags_and_frm_are_windows_onto_fcsr():
    c = row(fcsr=0b101_10011)
    reads = [F.fp_csr_read(c, n) for n in (FFLAGS, FRM, FCSR)]
    assert reads == [0b10011, 0b101, 0b10110011]
    F.fp_csr_write(c, FRM, 0xFFFF_FFFA)          # only 3 bits of frm exist
    assert c[FCSR] == 0b010_10011
    F.fp_csr_write(c, FFLAGS, 0x1E4)             # only 5 bits of fflags
    assert c[FCSR] == 0b010_00100
    F.fp_csr_write(c, FCSR, -1)                  # fcsr is 8 bits
    assert c[FCSR] == 0xFF


@pytest.mark.parametrize("num", [FFLAGS, FRM, FCSR])
def test_writing_fp_csrs_makes_the_state_dirty(num):
    c = row(fs=F.FS_CLEAN)
    F.fp_csr_write(c, num, 0)
    assert c[MSTATUS] & F.FS_MASK == F.FS_DIRTY
    assert c[MSTATUS] < 0                        # SD, bit 63


@pytest.mark.parametrize("fs,enabled", [(F.FS_OFF, False), (F.FS_INITIAL, True), (F.FS_CLEAN, True),
                                        (F.FS_DIRTY, True)])
def test_fs_off_disables(fs, enabled):
    assert F.fp_enabled(row(fs=fs)) == enabled


@pytest.mark.parametrize("fs", [F.FS_OFF, F.FS_INITIAL, F.FS_CLEAN, F.FS_DIRTY])
def test_sd_summarises_fs_dirty(fs):
    for stale in (0, F.SD):
        assert (F.with_sd(fs | stale) < 0) == (fs == F.FS_DIRTY)
