"""nutpie's native model of the compiled log posterior: C callbacks, no Python per step.

nutpie samples a PyMC model through two C functions (log-density with gradient, and the
expansion of a draw into the reported variables) that its Rust threads call directly;
a Python callback (``nutpie.compiled_pyfunc.from_pyfunc``) instead takes the GIL at every
gradient, so two chains on two cores ran no faster than on one. Here the two C
functions are numba ``cfunc`` wrappers of :func:`~bayesgmm.bayes.density.log_posterior`
and :func:`~bayesgmm.bayes.density.expand_parameters`, cached on disk like the rest of
the density, reading the data and constants from one float64 array
(:meth:`~bayesgmm.bayes.density.PosteriorDensity.packed`) whose address nutpie hands
back on every call.

The model object follows nutpie's own ``CompiledPyMCModel`` (``nutpie/compile_pymc.py``),
which builds its sampler from the same private classes (``nutpie._lib.LogpFunc``,
``ExpandFunc``, ``PyMcModel``, ``PySampler.from_pymc``); :func:`available` checks that
they exist, and the nutpie sampler falls back to the Python callback where they do not.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from ..density import PosteriorDensity, expand_parameters, log_posterior
from ..model import PARAMETER_NAMES

__all__ = ["NativeModel", "available", "callbacks", "native_model"]

_HEADER = 5  # D, N, type code, K, number of row weights (PosteriorDensity.packed)
_PRIVATE = ("LogpFunc", "ExpandFunc", "PyMcModel", "PyVariable", "PySampler")


def available() -> bool:
    """Whether the installed nutpie has the classes a native model is built from.

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    try:
        from nutpie import _lib
    except ImportError:
        return False
    return all(hasattr(_lib, name) for name in _PRIVATE) and hasattr(_lib.PySampler, "from_pymc")


@numba.njit(cache=True, nogil=True)
def _unpack(address):  # pragma: no cover - compiled
    """Views of the packed array at ``address``: constants, centre/scale, rows, weights."""
    head = numba.carray(address, (_HEADER,), dtype=np.float64)
    d, n, k, n_weights = int(head[0]), int(head[1]), int(head[3]), int(head[4])
    total = _HEADER + 4 + k + 2 * d + d * n + n_weights
    packed = numba.carray(address, (total,), dtype=np.float64)
    position = _HEADER
    hyper = packed[position : position + 4]
    position += 4
    alpha = packed[position : position + k]
    position += k
    center = packed[position : position + d]
    scale = packed[position + d : position + 2 * d]
    position += 2 * d
    zt = packed[position : position + d * n].reshape((d, n))
    weights = packed[position + d * n : total]
    return int(head[2]), k, hyper, alpha, center, scale, zt, weights


def _logp(n_dim, theta_address, grad_address, logp_address, data_address):  # pragma: no cover
    """nutpie's log-density callback: 0, or 3/4 (recoverable) off the support."""
    code, k, hyper, alpha, _, _, zt, weights = _unpack(data_address)
    theta = numba.carray(theta_address, (n_dim,))
    grad = numba.carray(grad_address, (n_dim,))
    logp = numba.carray(logp_address, (1,))
    value = log_posterior(theta, zt, weights, code, k, hyper, alpha, grad)
    logp[0] = value
    if not np.isfinite(value):
        return 4
    for i in range(n_dim):
        if not np.isfinite(grad[i]):
            return 3
    return 0


def _expand(n_dim, n_out, theta_address, out_address, data_address):  # pragma: no cover
    """nutpie's expansion callback: the reported variables, one after another."""
    code, k, _, _, center, scale, _, _ = _unpack(data_address)
    theta = numba.carray(theta_address, (n_dim,))
    out = numba.carray(out_address, (n_out,))
    expand_parameters(theta, code, k, center, scale, out)
    return 0


@functools.cache
def callbacks() -> tuple[Any, Any]:
    """The two compiled C callbacks (numba ``cfunc``), compiled once and cached on disk.

    Examples
    --------
    >>> logp, expand = callbacks()
    >>> logp.address > 0
    True
    """
    double_p = numba.types.CPointer(numba.types.double)
    u64, i64, void_p = numba.types.uint64, numba.types.int64, numba.types.voidptr
    logp = numba.cfunc(i64(u64, double_p, double_p, double_p, void_p), cache=True)(_logp)
    expand = numba.cfunc(i64(u64, u64, double_p, double_p, void_p), cache=True)(_expand)
    return logp, expand


@dataclass(frozen=True, kw_only=True)
class NativeModel:
    """A nutpie model of a :class:`PosteriorDensity` through its C callbacks.

    Build it with :func:`native_model`. ``initial_point(seed)`` gives each chain's
    unconstrained start. It has what ``nutpie.sample`` reads of a model (nutpie's
    ``CompiledModel`` interface: ``n_dim``, ``shapes``, ``coords``, ``dims`` and
    ``_make_sampler``).
    """

    packed: np.ndarray
    n_parameters: int
    variable_shapes: dict[str, tuple[int, ...]]
    dims: dict[str, tuple[str, ...]]
    variable_coords: dict[str, Any]
    initial_point: Any

    @property
    def n_dim(self) -> int:
        return self.n_parameters

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return self.variable_shapes

    @property
    def coords(self) -> dict[str, Any]:
        return self.variable_coords

    def _make_sampler(self, settings, init_mean, cores, progress_type, store):  # noqa: ANN001
        from nutpie import _lib

        model = self._make_model(init_mean)
        return _lib.PySampler.from_pymc(settings, cores, model, progress_type, store)

    def _make_model(self, init_mean: Any) -> Any:
        from nutpie import _lib

        logp, expand = callbacks()
        address = self.packed.ctypes.data
        n_out = sum(int(np.prod(shape)) for shape in self.variable_shapes.values())
        sizes = {name: len(values) for name, values in self.variable_coords.items()}
        names = list(PARAMETER_NAMES)
        variables = _lib.PyVariable.new_variables(
            names,
            ["float64"] * len(names),
            [self.variable_shapes[name] for name in names],
            sizes,
            self.dims,
        )
        return _lib.PyMcModel(
            _lib.LogpFunc(logp.address, address, self),
            _lib.ExpandFunc(self.n_parameters, n_out, expand.address, address, self),
            variables,
            self.n_parameters,
            sizes,
            self.variable_coords,
            self.initial_point,
            None,
        )


def native_model(density: PosteriorDensity, initial_point: Any) -> Any:
    """A nutpie model that samples ``density`` through its C callbacks.

    Parameters
    ----------
    density : PosteriorDensity
        Exactly that class (a subclass may change the log-density in Python).
    initial_point : callable
        ``seed -> ndarray (n_dim,)``, each chain's unconstrained start.

    Returns
    -------
    NativeModel
        A ``nutpie.sample``-able model whose draws are ``weights``, ``means`` and
        ``covariances`` in the data's units (the density's ``standardisation``).

    Examples
    --------
    >>> from bayesgmm.bayes.priors import Priors
    >>> density = PosteriorDensity(np.zeros((4, 1)), 2, "diag", Priors())
    >>> model = native_model(density, lambda seed: np.zeros(density.n_dim))
    >>> model.n_dim, model.shapes["covariances"]
    (5, (2, 1))
    """
    import pandas as pd

    if type(density) is not PosteriorDensity:
        raise TypeError(
            f"native_model samples a PosteriorDensity's own log posterior; got "
            f"{type(density).__name__}, which may change it: use its logp_function."
        )
    coords = {name: pd.Index(values) for name, values in density.coords.items()}
    return NativeModel(
        packed=density.packed(),
        n_parameters=density.n_dim,
        variable_shapes=density.shapes,
        dims=density.dims,
        variable_coords=coords,
        initial_point=initial_point,
    )
