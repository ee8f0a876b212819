"""Compiled (numba) inner loops of the EM block kernel.

numpy has no SIMD float64 ``exp`` or ``log`` on AVX2 machines (5-10 ns a call), and
the log-sum-exp of a block made five passes over its (K, B) log-probabilities. Here
the whole step from log-probabilities to weighted responsibilities runs over chunks
of rows held in the first-level cache, with an ``exp`` and a ``log`` written as
polynomials that the compiler vectorises (``exp`` within 1 ulp of libm's, ``log``
within 3; about 1.2 ns an ``exp`` and 3-5 ns a term for the whole step, against 14 for
the numpy code). Float32 blocks have their own float32 version, float32 ``log`` of
each row's norm included (8 terms an instruction, 1.5 ns a term). The
feature block ``[q(x), x, 1]`` is written in one pass, and the stacked
full-covariance path's Mahalanobis sums and weighted rows in one pass each.

This module imports numba: :mod:`bayesgmm._blocks` imports it on the first fit (so
``import bayesgmm`` stays fast) and falls back to its numpy path without numba. The
functions compile on first use (about 4 s) and are cached on disk (``cache=True``),
so later processes load them in well under a second; they release the GIL, so the
engine's thread pool runs blocks in parallel. Inner loops index 1-d row views and use
``error_model="numpy"``: 2-d indexing and the ZeroDivisionError check both stop LLVM
from vectorising them.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba.core import types
from numba.extending import intrinsic

__all__ = [
    "QUADRATIC_CODES",
    "fill_features",
    "responsibilities",
    "responsibilities32",
    "stacked_log_densities",
    "weight_rows",
]

#: Covariance types' second-order features, as :func:`fill_features` knows them.
QUADRATIC_CODES = {"full": 0, "tied": 1, "diag": 2, "spherical": 3}


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


# Flags: contraction into FMAs, but no reassociation (it would fold SHIFTER's rounding
# away) and no finite-math assumptions.
_FLAGS = {"contract", "nsz", "arcp"}
# error_model="numpy": no ZeroDivisionError check, which would stop vectorisation
_inline = numba.njit(inline="always", fastmath=_FLAGS, error_model="numpy")
_kernel = numba.njit(
    cache=True, nogil=True, fastmath=_FLAGS, error_model="numpy", boundscheck=False
)
# Sums of squares may be reassociated (vectorised): no rounding trick depends on order.
_sum_kernel = numba.njit(
    cache=True,
    nogil=True,
    fastmath=_FLAGS | {"reassoc"},
    error_model="numpy",
    boundscheck=False,
)


@_inline
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


@_inline
def _fast_exp(x):
    """exp(x) for x in [-708, 0]: 2**n e**r with |r| <= ln2/2, degree-13 Taylor."""
    t = x * LOG2E + SHIFTER
    n = t - SHIFTER
    r = x - n * LN2_HI
    r = r - n * LN2_LO
    p = horner(r, EXP_TAYLOR)
    # the integer n sits in t's low mantissa bits: 2**n = (n + 1023) << 52
    return p * _int_as_float((_float_as_int(t) + 1023) << 52)


SQRT_HALF = 0.7071067811865476


@_inline
def _fast_log(x):
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


@_inline
def _fast_log32(x):
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


@_inline
def _fast_exp32(x):
    """float32 exp(x) for x in [-87, 0]: 2**n e**r, degree-7 Taylor (error 5e-9)."""
    t = x * LOG2E32 + SHIFTER32
    n = t - SHIFTER32
    r = x - n * LN2_HI32
    r = r - n * LN2_LO32
    p = horner(r, EXP_TAYLOR32)
    return p * _pow2_of_rounded32(t)


#: Rows of a block processed together (their (K, CHUNK) terms stay in cache).
CHUNK = 256
#: exp below this is subnormal: such a term counts as 0.
LOWEST = -708.0


@_kernel
def responsibilities(L, weights, offsets):
    """In place: log-probabilities ``L`` (K, B) -> responsibilities times row weights.

    ``offsets`` (K,) are added to the log-probabilities first, in float64 (a float32
    block's log-weights and constants rounded to float32 would bias every row of a
    component alike). Every entry must be finite (an empty component's log-weight is
    a large negative number, not -inf). Returns the weighted sum of the rows'
    log-likelihoods.
    """
    n_components, n_rows = L.shape
    if weights.shape[0] != n_rows or offsets.shape[0] != n_components:
        raise ValueError("responsibilities: L must be (K, B), weights (B,) and offsets (K,)")
    top = np.empty(CHUNK)
    norm = np.empty(CHUNK)
    work = np.empty((n_components, CHUNK))
    partial = np.zeros(CHUNK)
    # 1-d row views in the inner loops: 2-d indexing there does not vectorise
    for start in range(0, n_rows, CHUNK):
        width = min(CHUNK, n_rows - start)
        stop = start + width
        for b in range(width):
            top[b] = -np.inf
            norm[b] = 0.0
        for k in range(n_components):
            source = L[k, start:stop]
            row = work[k]
            offset = offsets[k]
            for b in range(width):
                row[b] = np.float64(source[b]) + offset
            for b in range(width):
                top[b] = row[b] if row[b] > top[b] else top[b]
        for k in range(n_components):
            row = work[k]
            for b in range(width):
                row[b] -= top[b]
            for b in range(width):  # in place: the fastest form of this loop
                d = row[b]
                e = _fast_exp(d if d > LOWEST else LOWEST)
                row[b] = e if d >= LOWEST else 0.0
            for b in range(width):
                norm[b] += row[b]
        row_weights = weights[start:stop]
        for b in range(width):  # norm is in [1, K]: the largest term is exp(0) = 1
            w = row_weights[b]
            partial[b] += w * (top[b] + _fast_log(norm[b]))
            norm[b] = w / norm[b]
        for k in range(n_components):
            target = L[k, start:stop]
            row = work[k]
            for b in range(width):
                target[b] = row[b] * norm[b]
    total = 0.0
    for b in range(CHUNK):
        total += partial[b]
    return total


@_kernel
def responsibilities32(L, weights):
    """:func:`responsibilities` for float32 blocks, in float32 (8 terms an instruction).

    The log-likelihood is summed in float64; what float32 coefficients lose is added
    by the caller through the feature sums.
    """
    n_components, n_rows = L.shape
    if weights.shape[0] != n_rows:
        raise ValueError("responsibilities32: L must be (K, B) and weights (B,)")
    top = np.empty(CHUNK, dtype=np.float32)
    norm = np.empty(CHUNK, dtype=np.float32)
    scale = np.empty(CHUNK, dtype=np.float32)
    partial = np.zeros(CHUNK)
    for start in range(0, n_rows, CHUNK):
        width = min(CHUNK, n_rows - start)
        stop = start + width
        for b in range(width):
            top[b] = -np.inf
            norm[b] = 0.0
        for k in range(n_components):
            row = L[k, start:stop]
            for b in range(width):
                top[b] = row[b] if row[b] > top[b] else top[b]
        for k in range(n_components):
            row = L[k, start:stop]
            for b in range(width):
                row[b] -= top[b]
            for b in range(width):
                d = row[b]
                e = _fast_exp32(d if d > LOWEST32 else LOWEST32)
                row[b] = e if d >= LOWEST32 else np.float32(0.0)
            for b in range(width):
                norm[b] += row[b]
        row_weights = weights[start:stop]
        for b in range(width):  # norm is in [1, K]: the largest term is exp(0) = 1
            w = row_weights[b]
            partial[b] += w * (np.float64(top[b]) + np.float64(_fast_log32(norm[b])))
            scale[b] = np.float32(w) / norm[b]
        for k in range(n_components):
            row = L[k, start:stop]
            for b in range(width):
                row[b] *= scale[b]
    total = 0.0
    for b in range(CHUNK):
        total += partial[b]
    return total


@_inline
def n_quadratic(quadratic, n_features):
    """Rows of the second-order features ``q(x)`` of a type's ``QUADRATIC_CODES`` entry."""
    if quadratic == 0:
        return n_features * (n_features + 1) // 2
    if quadratic == 1:
        return 0
    if quadratic == 2:
        return n_features
    return 1


#: Rows longer than this many bytes are transposed in memory order (see fill_features).
ROW_BYTES = 32


@_kernel
def fill_features(X, shift, Z, quadratic):
    """Write ``[q(x - shift), x - shift, 1]`` of rows X (B, D) into Z (P, B)."""
    n_rows, n_features = X.shape
    q = n_quadratic(quadratic, n_features)
    if Z.shape[0] != q + n_features + 1 or Z.shape[1] != n_rows:
        raise ValueError("fill_features: Z must have shape (Q + D + 1, B)")
    flat = Z.reshape(-1)  # Z is C-ordered
    for start in range(0, n_rows, CHUNK):
        width = min(CHUNK, n_rows - start)
        stop = start + width
        if n_features * X.itemsize > ROW_BYTES:
            # long rows are read in memory order (writes go to Z's cached columns):
            # reading one feature of every row is a strided walk through X that runs
            # 3x slower when X comes from memory. Unsigned flat indices: numba checks
            # signed ones for wraparound, which keeps the loop scalar
            for b in range(start, stop):
                x = X[b]
                base = np.uint64(q * n_rows + b)
                for d in range(n_features):
                    flat[base + np.uint64(d * n_rows)] = np.float64(x[d]) - shift[d]
        else:  # short rows: one feature of every row at a time, vectorised over rows
            for d in range(n_features):
                row = Z[q + d, start:stop]
                centre = shift[d]
                for b in range(width):
                    row[b] = np.float64(X[start + b, d]) - centre
        ones = Z[q + n_features, start:stop]
        for b in range(width):
            ones[b] = 1.0
        if quadratic == 0:
            out = 0
            for i in range(n_features):
                left = Z[q + i, start:stop]
                for j in range(i, n_features):
                    right = Z[q + j, start:stop]
                    target = Z[out, start:stop]
                    for b in range(width):
                        target[b] = left[b] * right[b]
                    out += 1
        elif quadratic == 2:
            for d in range(n_features):
                source = Z[q + d, start:stop]
                target = Z[d, start:stop]
                for b in range(width):
                    target[b] = source[b] * source[b]
        elif quadratic == 3:
            target = Z[0, start:stop]
            for b in range(width):
                target[b] = 0.0
            for d in range(n_features):
                source = Z[q + d, start:stop]
                for b in range(width):
                    target[b] += source[b] * source[b]


@_sum_kernel
def stacked_log_densities(Y, offsets, L):
    """``L[k, b] -= |Y[b, kW:(k+1)W] - offsets[kW:(k+1)W]|^2 / 2``, W = Y's width / K.

    ``Y`` (B, K W) holds the rows times the K stacked precision factors (or a block of
    their columns); ``L`` (K, B) starts at the components' constants and ends as the
    weighted log-densities of the full-covariance components.
    """
    n_rows, width = Y.shape
    n_components = L.shape[0]
    n_columns = width // n_components
    if width != n_components * n_columns or L.shape[1] != n_rows:
        raise ValueError("stacked_log_densities: Y must be (B, K W) and L (K, B)")
    if offsets.shape[0] != width:
        raise ValueError("stacked_log_densities: offsets must be (K W,)")
    for b in range(n_rows):
        row = Y[b]
        for k in range(n_components):
            total = 0.0
            base = k * n_columns
            for d in range(n_columns):
                value = np.float64(row[base + d]) - np.float64(offsets[base + d])
                total += value * value
            L[k, b] -= 0.5 * total


@_kernel
def weight_rows(R, X, first, out):
    """``out[b, k W + d] = R[k, b] X[b, first + d]``: a block of W columns of the rows,
    once per component, weighted by its responsibilities."""
    n_components, n_rows = R.shape
    n_columns = out.shape[1] // n_components
    if X.shape[0] != n_rows or out.shape[0] != n_rows:
        raise ValueError("weight_rows: R, X and out disagree on B")
    if out.shape[1] != n_components * n_columns or first + n_columns > X.shape[1] or first < 0:
        raise ValueError("weight_rows: out must be (B, K W) with W columns of X from first")
    for b in range(n_rows):
        row = X[b]
        target = out[b]
        for k in range(n_components):
            weight = R[k, b]
            base = k * n_columns
            for d in range(n_columns):
                target[base + d] = weight * row[first + d]
