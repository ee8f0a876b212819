"""numba kernels: the compiled inner loops of the EM engine and of the posterior draws.

No public API. Modules: :mod:`~bayesgmm.kernels.compile` (the decorators and their
flags), :mod:`~bayesgmm.kernels.fastmath` (vectorisable ``exp``/``log`` with their
accuracy contract), :mod:`~bayesgmm.kernels.rows` (log-sum-exp to responsibilities),
:mod:`~bayesgmm.kernels.features` (the feature block of each kernel layout),
:mod:`~bayesgmm.kernels.stacked` (the full layout with many features),
:mod:`~bayesgmm.kernels.plugins` (objects that compiled code can call: covariance models
and engines). Importing a kernel module imports numba (half a second); the package
root does not.
"""

__all__: list[str] = []
