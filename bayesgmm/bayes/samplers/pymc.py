"""PyMC's own NUTS (``pm.sample``) on the PyMC model: the reference, and the slowest."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..density import PosteriorDensity
from ..model import reported_names
from .base import RunSettings, seed, worker_blas_threads
from .rows import RowSource

__all__ = ["run", "sample"]


def sample(model: Any, settings: RunSettings, rng: np.random.Generator, **kwargs: Any) -> Any:
    """``pm.sample`` of the parameters, without convergence checks or log-likelihood.

    The estimator computes both itself after relabelling (the log-likelihood in the
    data's units). ``kwargs`` go to ``pm.sample`` (``nuts_sampler``, ``initvals``, ...).
    Call inside ``with model:``.
    """
    import pymc as pm

    return pm.sample(
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        target_accept=settings.target_accept,
        random_seed=seed(rng),
        progressbar=settings.progressbar,
        compute_convergence_checks=False,
        var_names=list(reported_names(model)),
        idata_kwargs={"log_likelihood": False},
        **kwargs,
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
    """NUTS by PyMC from one start per chain (``density`` and ``rows`` are not used).

    Returns
    -------
    idata : arviz.InferenceData
        Raw draws of ``weights``, ``means``, ``covariances``; PyMC's ``sample_stats``.
    info : dict
        Empty: PyMC's sampler reports nothing beyond ``sample_stats``.
    """
    with worker_blas_threads():  # parallel chains run in worker processes
        idata = sample(
            model,
            settings,
            rng,
            nuts_sampler="pymc",
            init="adapt_diag",
            initvals=starts,
            cores=settings.cores,
        )
    return idata, {}
