"""vmlab.fuzz: random hostile guests, run on the bare machine and under the hypervisor.

The promise this package checks is the robustness one: whatever a guest does, the host
never raises, every run ends within its budget, and a guest of the hypervisor changes no
host frame that is not its own.  Modules:

- ``values``  the numbers worth trying: every corner of the 64-bit space, device and RAM
  addresses, SBI extension ids, CSR numbers
- ``encode``  the handful of instruction encoders the generator needs
- ``guest``   seed -> a random guest image (words, device stores, SBI calls, CSR writes,
  Sv39 tables, virtio rings), the same bytes for the same seed
- ``runner``  runs one guest on a target (bare or hv) in a mode (M/S/U, paging or not) and
  checks the promises; a broken promise is a :class:`Finding`
- ``campaign`` many guests in batches, a report, reproducer files
- ``cli``     ``vmlab fuzz``

The short mode lives in ``tests/robust`` (hypothesis); the long mode is ``vmlab fuzz``.
"""
