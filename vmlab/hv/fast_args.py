"""One array argument instead of many: the Python path's compiled calls, made cheaper.

A call from Python into compiled code converts every argument first, and an array costs
about 40-80 ns of that (its type checked, its data pointer, shape and strides read into a
struct).  The Python path makes its compiled calls on every exit -- ``run_between`` takes
eleven arrays, the machine's ``exec_csr`` three -- so a fifth of such a call was spent on
its arguments before any work.  These arrays live as long as the VM and never move, so
they are described once in a small table (:func:`table`: each array's address and shape)
and the compiled side looks at the same memory through it (:func:`view`), which costs
nothing at run time.  The functions called are the same compiled code either way.

The table holds raw addresses, so whoever keeps a table must keep its arrays alive (a
VCpu holds both: the arrays are its VM's and its machine's).
"""
from __future__ import annotations

import numpy as np
from numba import types
from numba.extending import intrinsic
from numba.np.arrayobj import np_cfarray

from vmlab.hv.fast_jit import jit

ADDRESS, SHAPE = 0, 1          # a table row: the array's address, then its shape
ROW_WORDS = 5                  # (up to four dimensions)


def table(*arrays: np.ndarray) -> np.ndarray:
    """One int64 row per array: its data's address and its shape."""
    t = np.zeros((len(arrays), ROW_WORDS), dtype=np.int64)
    for i, a in enumerate(arrays):
        if not a.flags.c_contiguous or a.ndim > ROW_WORDS - SHAPE:
            raise ValueError(f"argument {i}: only C-contiguous arrays of up to 4 dimensions")
        t[i, ADDRESS] = a.ctypes.data
        t[i, SHAPE:SHAPE + a.ndim] = a.shape
    return t


@intrinsic
def view(typingctx, address, shape, dtype):
    """The C-contiguous array of ``dtype`` and ``shape`` (a tuple) whose data is at
    ``address``: what numba's ``carray`` makes of a pointer, made here from an address
    (numba's own code builds it, np_cfarray: an array without reference counting, as every
    array of this compiled code is -- vmlab.machine.jit)."""
    array_t = types.Array(dtype.dtype, len(shape), "C")
    pointer_t = types.CPointer(dtype.dtype)

    def codegen(context, builder, signature, args):
        data = builder.inttoptr(args[0], context.get_value_type(pointer_t))
        return np_cfarray(context, builder, array_t(pointer_t, signature.args[1]),
                          [data, args[1]])
    return array_t(address, shape, dtype), codegen


@jit(inline="always")
def shape1(t, i):
    """Row ``i``'s shape: ``view(t[i, ADDRESS], shape1(t, i), dtype)`` is its array."""
    return (t[i, SHAPE],)


@jit(inline="always")
def shape2(t, i):
    return (t[i, SHAPE], t[i, SHAPE + 1])


@jit(inline="always")
def shape4(t, i):
    return (t[i, SHAPE], t[i, SHAPE + 1], t[i, SHAPE + 2], t[i, SHAPE + 3])
