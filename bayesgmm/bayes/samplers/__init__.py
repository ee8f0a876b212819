"""Posterior inference for the mixture model: one module per method, one registry.

Each module (``pymc``, ``nutpie``, ``numpyro``: NUTS; ``advi``: mean-field and
full-rank ADVI; ``map``: the mode) exposes

``run(model, starts, settings, *, rng, density=None) -> (idata, info)``

with the raw (not relabelled) draws in data units and what the sampler reports
beyond them. :func:`run_inference` picks the module by name, holds BLAS to one thread
and enters the model's context around it, raises a Ctrl-C that a sampler swallowed
(:func:`~bayesgmm.bayes.samplers.base.reraise_interrupts`), and times it. What they
share (settings, start values, seeds, the BLAS limit) is in
:mod:`~bayesgmm.bayes.samplers.base`.
"""

from __future__ import annotations

import importlib.util
import os
import time
from contextlib import nullcontext
from types import ModuleType
from typing import Any

import numpy as np

from ..density import PosteriorDensity
from . import advi, numpyro, nutpie, pymc
from . import map as map_
from .advi import VARIATIONAL_METHODS, resolve_batch_size
from .base import (
    RunSettings,
    chain_starts,
    limit_blas_threads,
    reraise_interrupts,
    start_values,
)
from .rows import RowSource

__all__ = [
    "METHODS",
    "VARIATIONAL_METHODS",
    "NUTS_SAMPLERS",
    "RowSource",
    "RunSettings",
    "chain_starts",
    "default_nuts_sampler",
    "get_sampler",
    "limit_blas_threads",
    "resolve_batch_size",
    "resolve_nuts_sampler",
    "run_inference",
    "start_values",
]

METHODS = ("nuts", "advi", "fullrank_advi", "map")
NUTS_SAMPLERS = ("auto", "pymc", "nutpie", "numpyro")
_SAMPLERS: dict[str, ModuleType] = {
    "pymc": pymc,
    "nutpie": nutpie,
    "numpyro": numpyro,
    "advi": advi,
    "fullrank_advi": advi,
    "map": map_,
}
"""Sampler name (a NUTS sampler, or a method other than NUTS) -> its module."""
_EXTRAS = {"nutpie": ("nutpie",), "numpyro": ("numpyro", "jax")}
_DENSITY_SAMPLERS = ("nutpie", "advi", "fullrank_advi")
"""Samplers that run on a PosteriorDensity without the PyMC model."""


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def default_nuts_sampler() -> str:
    """The fastest NUTS sampler installed: nutpie, else PyMC's own.

    Examples
    --------
    >>> default_nuts_sampler() in ("nutpie", "pymc")
    True
    """
    return "nutpie" if _installed("nutpie") else "pymc"


def resolve_nuts_sampler(name: str) -> str:
    """Check that the named sampler is installed; "auto" picks the fastest one.

    Raises
    ------
    ImportError
        Naming the package and the extra that installs it.

    Examples
    --------
    >>> resolve_nuts_sampler("pymc")
    'pymc'
    """
    if name == "auto":
        return default_nuts_sampler()
    missing = [module for module in _EXTRAS.get(name, ()) if not _installed(module)]
    if missing:
        raise ImportError(
            f"nuts_sampler={name!r} needs {' and '.join(missing)}, which is not installed. "
            "Install the extra with `pip install 'bayesgmm[nuts]'` (or `pip install "
            f"{' '.join(missing)}`), or use nuts_sampler='pymc'."
        )
    return name


def get_sampler(method: str, nuts_sampler: str = "auto") -> tuple[str, ModuleType]:
    """The sampler's name and module for a method (and, for NUTS, a sampler name).

    Examples
    --------
    >>> get_sampler("fullrank_advi")[1].__name__
    'bayesgmm.bayes.samplers.advi'
    >>> get_sampler("nuts", "pymc")[0]
    'pymc'
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    name = resolve_nuts_sampler(nuts_sampler) if method == "nuts" else method
    return name, _SAMPLERS[name]


def run_inference(
    model: Any,
    *,
    method: str = "nuts",
    starts: list[dict[str, np.ndarray]],
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    cores: int | None = None,
    nuts_sampler: str = "auto",
    target_accept: float = 0.8,
    advi_max_iter: int = 50_000,
    advi_tol: float = 0.05,
    advi_window: int = 50,
    advi_learning_rate: float = 0.2,
    batch_size: Any = None,
    rng: np.random.Generator,
    progressbar: bool = False,
    progress_delay: float = 0.0,
    density: PosteriorDensity | None = None,
    rows: RowSource | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Run one inference method on a model from :func:`~bayesgmm.bayes.model.build_model`.

    Parameters
    ----------
    model : pymc.Model or None
        None where ``density`` defines the posterior alone (nutpie, ADVI); PyMC's NUTS,
        numpyro and MAP need the model.
    method : {"nuts", "advi", "fullrank_advi", "map"}, default="nuts"
    starts : list of dict
        One start (untransformed values, :func:`start_values`) per chain; nutpie, the
        variational methods and MAP use the first.
    draws, tune, chains, cores : int
        Draws kept and tuning steps per chain; chains (ADVI: ``draws * chains`` draws);
        chains in parallel (None: ``min(chains, os.cpu_count())``).
    nuts_sampler : {"auto", "pymc", "nutpie", "numpyro"}, default="auto"
    target_accept : float, default=0.8
    advi_max_iter, advi_tol, advi_window, advi_learning_rate, batch_size
        ADVI's most steps, convergence criterion, window, initial natural-gradient step
        and rows per step (:func:`~bayesgmm.bayes.samplers.advi.fit_variational`).
    rng : numpy Generator
        Source of every seed, so that a ``random_state`` reproduces the draws.
    progressbar, progress_delay : bool, float, default=False, 0.0
        The sampler's bar, and the seconds before a bar of our own loops (ADVI's) shows.
    density : PosteriorDensity or None, default=None
        The model's log posterior compiled by numba, for a model exactly as
        :func:`~bayesgmm.bayes.model.build_model` made it: nutpie and the variational
        methods then run on it instead of compiling the PyMC graph; None compiles it.
    rows : RowSource or None, default=None
        The variational methods' rows in the data's units, read instead of the
        density's (a dask array's: :mod:`~bayesgmm.bayes.samplers.rows`).

    Returns
    -------
    idata : arviz.InferenceData
        Raw (not relabelled) draws of ``weights``, ``means`` and ``covariances`` in data
        units, and ``sample_stats`` as the sampler writes them.
    info : dict
        ``method``, ``sampler`` (NUTS), ``seconds`` and what the sampler reports (ADVI:
        :func:`~bayesgmm.bayes.samplers.advi.fit_variational`'s info).
    """
    name, sampler = get_sampler(method, nuts_sampler)
    if model is None and (density is None or name not in _DENSITY_SAMPLERS):
        raise ValueError(
            f"{name} samples a PyMC model: pass the model from build_model (only nutpie and "
            "the variational methods run on a PosteriorDensity alone)."
        )
    if rows is not None and method not in VARIATIONAL_METHODS:
        raise ValueError(f"rows are read by the variational methods only; method={method!r}.")
    settings = RunSettings(
        method=method,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=min(chains, os.cpu_count() or 1) if cores is None else cores,
        target_accept=target_accept,
        progressbar=progressbar,
        progress_delay=progress_delay,
        advi_max_iter=advi_max_iter,
        advi_tol=advi_tol,
        advi_window=advi_window,
        advi_learning_rate=advi_learning_rate,
        batch_size=batch_size,
    )
    started = time.perf_counter()
    info: dict[str, Any] = {"method": method, **({"sampler": name} if method == "nuts" else {})}
    context = nullcontext() if model is None else model
    with reraise_interrupts(), limit_blas_threads(1), context:
        idata, reported = sampler.run(model, starts, settings, rng=rng, density=density, rows=rows)
    info.update(reported)
    info["seconds"] = time.perf_counter() - started
    for group in list(idata.groups()):  # the estimator adds the data groups in data units
        if group not in ("posterior", "sample_stats"):
            delattr(idata, group)
    return idata, info
