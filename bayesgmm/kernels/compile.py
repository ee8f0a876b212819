"""The numba decorators every kernel uses, with the flags that make them fast and exact.

``contract`` allows fused multiply-adds; there is no reassociation (it would fold the
rounding tricks of :mod:`bayesgmm.kernels.fastmath` away) and no finite-math
assumption (-inf and NaN keep their meaning), except in :data:`sum_kernel`, whose sums
of products may be reassociated (vectorised): no rounding trick depends on their order.
``error_model="numpy"`` drops the ZeroDivisionError check, which stops vectorisation.
Kernels compile on first use and are cached on disk (``cache=True``); they release the
GIL (``nogil``), so threads run blocks in parallel.
"""

from __future__ import annotations

import numba

__all__ = ["kernel", "sum_kernel", "inline", "FLAGS"]

FLAGS = frozenset({"contract", "nsz", "arcp"})

#: Inlined into its callers (helpers of the kernels).
inline = numba.njit(inline="always", fastmath=set(FLAGS), error_model="numpy")
#: A cached, GIL-free kernel.
kernel = numba.njit(
    cache=True, nogil=True, fastmath=set(FLAGS), error_model="numpy", boundscheck=False
)
#: A kernel whose sums may be reassociated (vectorised).
sum_kernel = numba.njit(
    cache=True,
    nogil=True,
    fastmath=set(FLAGS) | {"reassoc"},
    error_model="numpy",
    boundscheck=False,
)
