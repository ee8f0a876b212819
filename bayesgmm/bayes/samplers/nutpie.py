"""NUTS by nutpie, the default: on the numba log posterior, or on the PyMC model.

With a :class:`~bayesgmm.bayes.density.PosteriorDensity` nutpie samples that compiled
function (no compile time per fit, a faster gradient) and reports its draws as PyMC's
model would: through C callbacks that its threads call without the GIL
(:mod:`~bayesgmm.bayes.samplers.native`), or, for a density that changes the log
posterior in Python (the mixture-IS target of LOO) or a nutpie without the classes the
callbacks need, through a Python callback. Without a density it compiles the PyMC model
through PyTensor's numba backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..density import PosteriorDensity
from ..model import PARAMETER_NAMES, reported_names
from . import native
from .base import RunSettings, seed
from .rows import RowSource

__all__ = ["run"]


def _jittered(start: Any, rng: np.random.Generator) -> Any:
    """nutpie's per-chain start: ``start(seed)`` (the EM point, unconstrained) moved by
    0.05 in every coordinate, a fixed offset per chain seed."""
    jitter_rng = np.random.default_rng(seed(rng))
    offsets: dict[str, np.ndarray] = {}

    def initial_point(chain_seed: Any) -> np.ndarray:
        point = np.asarray(start(chain_seed), dtype=np.float64)
        key = repr(chain_seed)
        if key not in offsets:
            offsets[key] = 0.05 * jitter_rng.standard_normal(point.shape)
        return point + offsets[key]

    return initial_point


def _compile_pymc(model: Any, start: dict, rng: np.random.Generator) -> Any:
    import dataclasses

    import nutpie

    compiled = nutpie.compile_pymc_model(
        model, initial_points=start, jitter_rvs=set(), var_names=list(reported_names(model))
    )
    return dataclasses.replace(
        compiled, initial_point_func=_jittered(compiled.initial_point_func, rng)
    )


def _compile_density(density: PosteriorDensity, start: dict, rng: np.random.Generator) -> Any:
    """A nutpie model that evaluates ``density`` and reports draws as PyMC's would:
    native (C callbacks) where it can be, else through a Python callback."""
    import nutpie
    import pandas as pd
    from nutpie.compiled_pyfunc import from_pyfunc

    del nutpie  # imported for its error message when missing
    initial = density.to_unconstrained(start)
    start_point = _jittered(lambda chain_seed: initial, rng)
    if type(density) is PosteriorDensity and native.available():
        return native.native_model(density, start_point)
    logp = density.logp_function()

    def expand(theta: np.ndarray, **_: Any) -> dict[str, np.ndarray]:
        return density.parameters(theta)

    return from_pyfunc(
        ndim=density.n_dim,
        make_logp_fn=lambda: logp,
        make_expand_fn=lambda *seeds: expand,
        expanded_dtypes=[np.dtype("float64")] * len(PARAMETER_NAMES),
        expanded_shapes=[density.shapes[name] for name in PARAMETER_NAMES],
        expanded_names=list(PARAMETER_NAMES),
        coords={name: pd.Index(values) for name, values in density.coords.items()},
        dims=density.dims,
        make_initial_point_fn=start_point,
    )


def run(
    model: Any,
    starts: list[dict[str, np.ndarray]],
    settings: RunSettings,
    *,
    rng: np.random.Generator,
    density: PosteriorDensity | None = None,
    rows: RowSource | None = None,
) -> tuple[Any, dict[str, Any]]:
    """NUTS by nutpie from the first start; each chain moves it by 0.05 (unconstrained);
    ``rows`` is not used.

    Returns
    -------
    idata : arviz.InferenceData
        Raw draws of ``weights``, ``means``, ``covariances``; nutpie's ``sample_stats``.
    info : dict
        ``nutpie_model``: "native" (the density's C callbacks), "python" (its Python
        callback) or "pymc" (the PyMC model compiled by PyTensor).
    """
    import nutpie

    if density is None:
        compiled, kind = _compile_pymc(model, starts[0], rng), "pymc"
    else:
        compiled = _compile_density(density, starts[0], rng)
        kind = "native" if isinstance(compiled, native.NativeModel) else "python"
    sampler = nutpie.sample(
        compiled,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        cores=settings.cores,
        seed=seed(rng),
        target_accept=settings.target_accept,
        progress_bar=settings.progressbar,
        save_warmup=False,
        blocking=False,
    )
    try:
        idata = sampler.wait()
    except BaseException:  # Ctrl-C: nutpie's blocking call would return the partial trace
        sampler.cancel()
        raise
    return idata, {"nutpie_model": kind}
