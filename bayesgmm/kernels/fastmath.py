"""Vectorisable ``exp`` and ``log`` written as polynomials, in float64 and float32.

numba's ``math.exp`` is a scalar libm call (5-10 ns); these compile to SIMD code in the
kernels' loops. Accuracy (asserted against libm in ``tests/test_kernels.py``): float64
``exp`` within 1 ulp on [-708, 0], ``log`` within 3 ulps on normal numbers; float32
``exp`` within 5e-9 relative on [-87, 0], ``log`` within 3e-7 absolute on [1, K].
The bit-shift ``exp`` relies on a rounding trick that reassociation would fold away:
kernels that use it must not be compiled with ``reassoc``.
"""

from __future__ import annotations

import math

import numpy as np
from numba.core import types
from numba.extending import intrinsic

from .compile import inline

__all__ = [
    "horner",
    "fast_exp",
    "fast_log",
    "fast_exp32",
    "fast_log32",
    "EXP_TAYLOR",
    "LOWEST",
    "LOWEST32",
]


def _bitcast(source, target):
    """A compiled-only function reinterpreting a ``source`` number's bits as ``target``."""

    def reinterpret(typingctx, value):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], context.get_value_type(target))

        return target(source), codegen

    return intrinsic(reinterpret)


_int_as_float = _bitcast(types.int64, types.float64)
_float_as_int = _bitcast(types.float64, types.int64)
_float32_as_int32 = _bitcast(types.float32, types.int32)
_int32_as_float32 = _bitcast(types.int32, types.float32)


@intrinsic
def _pow2_of_rounded32(typingctx, value):
    """``2**n`` for the integer n held in the low mantissa bits of float32 ``t``."""

    def codegen(context, builder, signature, args):
        int32 = context.get_value_type(types.int32)
        bits = builder.bitcast(args[0], int32)
        biased = builder.add(bits, int32(127))
        shifted = builder.shl(biased, int32(23))
        return builder.bitcast(shifted, context.get_value_type(types.float32))

    return types.float32(types.float32), codegen


@inline
def horner(x, coefficients):
    """The polynomial with ``coefficients`` (highest degree first) at ``x``, by Horner."""
    total = coefficients[0]
    for coefficient in coefficients[1:]:
        total = total * x + coefficient
    return total


#: Taylor coefficients of exp, 1/13! down to 1/0!, and of 2 atanh(f) / (2 f) in f**2,
#: 1/23 down to 1 (highest degree first, for :func:`horner`).
EXP_TAYLOR = tuple(1.0 / math.factorial(n) for n in range(13, -1, -1))
ATANH_SERIES = tuple(1.0 / n for n in range(23, 0, -2))
EXP_TAYLOR32 = tuple(np.float32(1.0 / math.factorial(n)) for n in range(7, -1, -1))
ATANH_SERIES32 = tuple(np.float32(1.0 / n) for n in range(9, 0, -2))
LOG2E = 1.4426950408889634
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
SHIFTER = 6755399441055744.0  # 1.5 * 2**52: adding it rounds to an integer


@inline
def fast_exp(x):
    """exp(x) for x in [-708, 0]: 2**n e**r with |r| <= ln2/2, degree-13 Taylor."""
    t = x * LOG2E + SHIFTER
    n = t - SHIFTER
    r = x - n * LN2_HI
    r = r - n * LN2_LO
    p = horner(r, EXP_TAYLOR)
    # the integer n sits in t's low mantissa bits: 2**n = (n + 1023) << 52
    return p * _int_as_float((_float_as_int(t) + 1023) << 52)


SQRT_HALF = 0.7071067811865476


@inline
def fast_log(x):
    """log(x) for positive normal x: e ln2 + 2 atanh((m-1)/(m+1)), m in [0.707, 1.414)."""
    bits = _float_as_int(x)
    # the exponent as a double without an int64 -> double conversion (none in AVX2)
    e = _int_as_float(0x4330000000000000 | (bits >> 52)) - (4503599627370496.0 + 1023.0)
    m = _int_as_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    big = m > 2.0 * SQRT_HALF
    m = 0.5 * m if big else m
    e = e + 1.0 if big else e
    f = (m - 1.0) / (m + 1.0)
    s = horner(f * f, ATANH_SERIES)
    return e * LN2_HI + (2.0 * f * s + e * LN2_LO)


SQRT2_32 = np.float32(1.4142135623730951)
LN2_32 = np.float32(0.6931471805599453)


@inline
def fast_log32(x):
    """float32 log(x) for normal x > 0: e ln2 + 2 atanh((m-1)/(m+1)) (error 1e-7)."""
    bits = _float32_as_int32(x)
    e = np.float32((bits >> 23) - 127)
    m = _int32_as_float32((bits & 0x007FFFFF) | 0x3F800000)
    big = m > SQRT2_32
    m = np.float32(0.5) * m if big else m
    e = e + np.float32(1.0) if big else e
    f = (m - np.float32(1.0)) / (m + np.float32(1.0))
    s = horner(f * f, ATANH_SERIES32)
    return e * LN2_32 + np.float32(2.0) * f * s


LOG2E32 = np.float32(1.4426950408889634)
LN2_HI32 = np.float32(0.693359375)  # 9 significant bits: n * LN2_HI32 is exact
LN2_LO32 = np.float32(-2.12194440e-4)
SHIFTER32 = np.float32(12582912.0)  # 1.5 * 2**23
#: float32 exp below this is subnormal: such a term counts as 0.
LOWEST32 = np.float32(-87.0)


@inline
def fast_exp32(x):
    """float32 exp(x) for x in [-87, 0]: 2**n e**r, degree-7 Taylor (error 5e-9)."""
    t = x * LOG2E32 + SHIFTER32
    n = t - SHIFTER32
    r = x - n * LN2_HI32
    r = r - n * LN2_LO32
    p = horner(r, EXP_TAYLOR32)
    return p * _pow2_of_rounded32(t)


#: float64 exp below this is subnormal: such a term counts as 0.
LOWEST = -708.0
