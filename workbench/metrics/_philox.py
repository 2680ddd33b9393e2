"""numpy's ``Philox4x64`` bit generator, compiled, for the bootstrap's Poisson counts.

Imported only by :func:`workbench.metrics.bootstrap.fill_poisson_counts`'s lazy kernel (this
module imports numba at the top; the kernels are module-level so that numba's on-disk cache
can reuse them: functions closing over an intrinsic are compiled again in every process).

``philox_raw(key0, key1, replicate, out)`` writes what
``np.random.Philox(key=[key0, key1], counter=[0, replicate, 0, 0]).random_raw(out.size)``
returns (``out.size`` a multiple of 4): numpy increments the counter before each block of four
64-bit outputs, so block ``j`` is Random123's 10 rounds on counter ``(j + 1, replicate, 0, 0)``.
numpy computes one block at a time behind a function call per 64-bit draw; here two blocks
are in flight per iteration (two independent chains of multiplications for the core), ~2x
less CPU. ``tests/metrics/test_bootstrap.py`` compares the counts with numpy's bits.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

__all__ = ["philox_counts", "philox_raw"]

_M0, _M1 = np.uint64(0xD2E7470EE14C6C93), np.uint64(0xCA5A826395121157)  # round multipliers
_W0, _W1 = np.uint64(0x9E3779B97F4A7C15), np.uint64(0xBB67AE8584CAA73B)  # Weyl key increments
_ZERO = np.uint64(0)


def _mulhilo_typer(typingctx, a, b):  # pragma: no cover - compiled
    """(high, low) 64-bit halves of the 128-bit product ``a * b``: one ``mul`` instruction."""
    sig = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64)

    def codegen(context, builder, signature, args):
        i128, i64 = ir.IntType(128), ir.IntType(64)
        prod = builder.mul(builder.zext(args[0], i128), builder.zext(args[1], i128))
        high = builder.trunc(builder.lshr(prod, ir.Constant(i128, 64)), i64)
        return context.make_tuple(builder, signature.return_type, (high, builder.trunc(prod, i64)))

    return sig, codegen


_mulhilo: Any = intrinsic(_mulhilo_typer)  # called as _mulhilo(a, b) in compiled code


@numba.njit(nogil=True, cache=True, boundscheck=False)
def philox_raw(key0, key1, replicate, out):  # pragma: no cover - compiled
    n_blocks = out.size // 4
    for j in range(0, n_blocks, 2):
        a0, a1, a2, a3 = np.uint64(j + 1), replicate, _ZERO, _ZERO
        b0, b1, b2, b3 = np.uint64(j + 2), replicate, _ZERO, _ZERO
        k0, k1 = key0, key1
        for rnd in range(10):
            if rnd > 0:
                k0 += _W0
                k1 += _W1
            ha0, la0 = _mulhilo(_M0, a0)
            ha1, la1 = _mulhilo(_M1, a2)
            hb0, lb0 = _mulhilo(_M0, b0)
            hb1, lb1 = _mulhilo(_M1, b2)
            a0, a1, a2, a3 = ha1 ^ a1 ^ k0, la1, ha0 ^ a3 ^ k1, la0
            b0, b1, b2, b3 = hb1 ^ b1 ^ k0, lb1, hb0 ^ b3 ^ k1, lb0
        o = 4 * j
        out[o], out[o + 1], out[o + 2], out[o + 3] = a0, a1, a2, a3
        if j + 1 < n_blocks:
            out[o + 4], out[o + 5], out[o + 6], out[o + 7] = b0, b1, b2, b3


@numba.njit(nogil=True, cache=True, boundscheck=False)
def philox_counts(key0, key1, start, cuts, bits, out):  # pragma: no cover - compiled
    """Replicates ``start ..`` into ``out`` (k, n) uint8: each row's 16-bit draw (the uint64
    draws read as little-endian uint16) against the eight count cuts; ``bits`` is uint64 work
    space of 4 * ceil(n / 16)."""
    c1, c2, c3, c4, c5, c6, c7, c8 = cuts[0], cuts[1], cuts[2], cuts[3], cuts[4], cuts[5], cuts[6], cuts[7]
    draws = bits.view(np.uint16)
    for r in range(out.shape[0]):
        philox_raw(key0, key1, start + np.uint64(r), bits)
        row = out[r]
        for i in range(out.shape[1]):
            b = draws[i]
            row[i] = ((b >= c1) + (b >= c2) + (b >= c3) + (b >= c4)
                      + (b >= c5) + (b >= c6) + (b >= c7) + (b >= c8))
