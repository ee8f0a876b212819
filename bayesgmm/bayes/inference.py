"""Posterior inference for the mixture model: NUTS, ADVI, full-rank ADVI and MAP.

Every method starts from the EM solution (``start_values``): chains that start
inside one labelling rarely switch labels, and the sampler spends its tuning on
the posterior instead of on finding it. While it runs, BLAS is held to one thread
(``limit_blas_threads``): a mixture's log-density is many tiny matrix products,
which multi-threaded OpenBLAS runs 10-20 times slower.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..covariance import get_covariance_model
from .density import PosteriorDensity
from .model import PARAMETER_NAMES, Standardisation, data_units
from .variational import fit_variational

__all__ = [
    "METHODS",
    "NUTS_SAMPLERS",
    "default_nuts_sampler",
    "limit_blas_threads",
    "start_values",
    "run_inference",
]

logger = logging.getLogger(__name__)

METHODS = ("nuts", "advi", "fullrank_advi", "map")
NUTS_SAMPLERS = ("auto", "pymc", "nutpie", "numpyro")
_EXTRAS = {"nutpie": ("nutpie",), "numpyro": ("numpyro", "jax")}


def _installed(module: str) -> bool:
    import importlib.util

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


@contextlib.contextmanager
def limit_blas_threads(n_threads: int = 1) -> Iterator[None]:
    """Hold BLAS (and OpenMP) to ``n_threads`` inside the block, here and in workers.

    threadpoolctl limits this process; the environment variables reach worker
    processes that PyMC starts for parallel chains. Both are restored afterwards.

    Examples
    --------
    >>> with limit_blas_threads(1):
    ...     pass
    """
    from threadpoolctl import threadpool_limits

    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    saved = {name: os.environ.get(name) for name in names}
    try:
        for name in names:
            os.environ[name] = str(n_threads)
        with threadpool_limits(limits=n_threads):
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _packed_lower(matrix: np.ndarray) -> np.ndarray:
    rows, cols = np.tril_indices(matrix.shape[-1])
    return np.linalg.cholesky(matrix)[..., rows, cols]


def start_values(
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    covariance_type: str,
    standard: Standardisation,
) -> dict[str, np.ndarray]:
    """Initial values of the model's free variables from parameters in data units.

    Parameters
    ----------
    weights, means, covariances : ndarray
        A fitted mixture (for example the EM solution), covariances shaped per type.
    covariance_type : {"full", "tied", "diag", "spherical"}
    standard : Standardisation
        The model's standardisation.

    Returns
    -------
    dict
        Untransformed values keyed by free-variable name, as ``pm.sample``'s
        ``initvals`` takes them.

    Examples
    --------
    >>> s = Standardisation(center=np.zeros(1), scale=np.full(1, 2.0))
    >>> start_values(np.array([1.0]), np.ones((1, 1)), np.full((1, 1), 4.0), "diag", s)["z_sds"]
    array([[1.]])
    """
    scale = standard.scale
    weights = np.clip(np.asarray(weights, dtype=np.float64), 1e-6, None)
    start = {
        "weights": weights / weights.sum(),
        "z_means": (np.asarray(means) - standard.center) / scale,
    }
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        z_cov = covariances / scale[None, :, None] / scale[None, None, :]
        for k, packed in enumerate(_packed_lower(z_cov)):
            start[f"z_chol_{k}"] = packed
    elif covariance_type == "tied":
        start["z_chol"] = _packed_lower(covariances / scale[:, None] / scale[None, :])
    elif covariance_type == "diag":
        start["z_sds"] = np.sqrt(covariances) / scale[None, :]
    else:
        start["z_sds"] = np.sqrt(covariances) / scale[0]
    return start


def _jitter(start: dict[str, np.ndarray], rng: np.random.Generator, size: float) -> dict:
    """A chain's start: means moved by ``size`` standardised units, weights and scales
    multiplied by ``exp(size * noise)``; correlations kept."""
    if size == 0:
        return {name: value.copy() for name, value in start.items()}
    out = {}
    for name, value in start.items():
        if name == "z_means":
            out[name] = value + size * rng.standard_normal(value.shape)
        elif name == "weights" or name == "z_sds":
            moved = value * np.exp(size * rng.standard_normal(value.shape))
            out[name] = moved / moved.sum() if name == "weights" else moved
        else:  # packed Cholesky factors of correlated scales: kept as they are
            out[name] = value.copy()
    return out


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


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
    density: PosteriorDensity | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Run one inference method on a model from :func:`~bayesgmm.bayes.model.build_model`.

    Parameters
    ----------
    model : pymc.Model
    method : {"nuts", "advi", "fullrank_advi", "map"}, default="nuts"
    starts : list of dict
        One start (untransformed values, :func:`start_values`) per chain; the
        variational methods and MAP use the first.
    draws, tune, chains : int
        Draws kept and tuning steps per chain; number of chains. The variational
        methods draw ``draws * chains`` values from the approximation, as one chain.
    cores : int or None, default=None
        Chains run in parallel (None: ``min(chains, os.cpu_count())``).
    nuts_sampler : {"auto", "pymc", "nutpie", "numpyro"}, default="auto"
    target_accept : float, default=0.8
    advi_max_iter : int, default=50000
        Most optimisation steps of (full-rank) ADVI.
    advi_tol : float, default=0.05
        Convergence criterion of ADVI (:mod:`~bayesgmm.bayes.variational`): the fit
        stops when, from one window of ``advi_window`` steps to the next, the
        window-averaged variational mean moves by less than ``advi_tol`` of the
        approximation's standard deviations and every log standard deviation by less
        than ``advi_tol``, in every parameter (unconstrained space). The steps are
        natural-gradient steps measured in posterior standard deviations, so the
        criterion means the same at every N.
    advi_window : int, default=50
    advi_learning_rate : float, default=0.2
        Initial natural-gradient step in (0, 1]; it decays as the windows pass.
    batch_size : int, "auto" or None, default=None
        Rows per ADVI step (:func:`~bayesgmm.bayes.variational.resolve_batch_size`):
        None uses every row; minibatches estimate the likelihood's gradient with a
        control variate around the EM solution.
    rng : numpy Generator
        Source of every seed, so that a ``random_state`` reproduces the draws.
    progressbar : bool, default=False
    density : PosteriorDensity or None, default=None
        The model's log posterior compiled by numba
        (:class:`~bayesgmm.bayes.density.PosteriorDensity`), for a model exactly as
        :func:`~bayesgmm.bayes.model.build_model` made it. nutpie and the variational
        methods then run on it instead of compiling the PyMC graph (no compile time per
        fit, and a faster gradient); None compiles the PyMC model.

    Returns
    -------
    idata : arviz.InferenceData
        Raw (not relabelled) draws of ``weights``, ``means`` and ``covariances`` in data
        units; ``sample_stats`` as the sampler writes them.
    info : dict
        ``method``, ``sampler``, ``seconds`` and, for ADVI, ``converged``, ``n_iter``,
        ``change``, ``n_grad_evals``, ``passes``, ``batch_size``, ``loss``, ``history``
        (:func:`~bayesgmm.bayes.variational.fit_variational`).
    """
    import pymc as pm

    started = time.perf_counter()
    info: dict[str, Any] = {"method": method}
    cores = min(chains, os.cpu_count() or 1) if cores is None else cores
    with limit_blas_threads(1), model:
        if method == "nuts":
            sampler = resolve_nuts_sampler(nuts_sampler)
            info["sampler"] = sampler
            if sampler == "nutpie":
                compiled = (
                    _compile_nutpie_pymc(model, starts[0], rng)
                    if density is None
                    else _compile_nutpie_density(model, density, starts[0], rng)
                )
                idata = _nutpie(
                    compiled, draws, tune, chains, cores, target_accept, rng, progressbar
                )
            else:
                kwargs = {"nuts_sampler": sampler}
                if sampler == "pymc":
                    kwargs.update(init="adapt_diag", initvals=starts, cores=cores)
                else:
                    kwargs.update(
                        initvals=starts,
                        # the chains start at the EM solution, jittered by us; PyMC's
                        # default jitter (uniform +-1 unconstrained) scatters them
                        # across modes
                        nuts_sampler_kwargs={
                            "chain_method": _numpyro_chain_method(chains),
                            "jitter": False,
                        },
                    )
                idata = pm.sample(
                    draws=draws,
                    tune=tune,
                    chains=chains,
                    target_accept=target_accept,
                    random_seed=_seed(rng),
                    progressbar=progressbar,
                    compute_convergence_checks=False,
                    var_names=list(PARAMETER_NAMES),
                    idata_kwargs={"log_likelihood": False},
                    **kwargs,
                )
        elif method in ("advi", "fullrank_advi"):
            idata, fitted = fit_variational(
                model,
                method,
                starts[0],
                n_draws=draws * chains,
                max_iter=advi_max_iter,
                tol=advi_tol,
                window=advi_window,
                learning_rate=advi_learning_rate,
                batch_size=batch_size,
                rng=rng,
                density=density,
            )
            info.update({key: value for key, value in fitted.items() if key != "precision"})
        elif method == "map":
            point = pm.find_MAP(start=starts[0], progressbar=progressbar, seed=_seed(rng))
            idata = _point_idata(model, point)
        else:  # pragma: no cover - validated by the estimator
            raise ValueError(f"method must be one of {METHODS}; got {method!r}.")
    info["seconds"] = time.perf_counter() - started
    for name in list(idata.groups()):  # the estimator adds the data groups in data units
        if name not in ("posterior", "sample_stats"):
            delattr(idata, name)
    return idata, info


def _numpyro_chain_method(chains: int) -> str:
    """All chains at once on an accelerator; one per device on CPUs if there are enough
    (``XLA_FLAGS=--xla_force_host_platform_device_count=4``), else one after another."""
    import jax

    if jax.default_backend() != "cpu":
        return "vectorized"
    return "parallel" if jax.local_device_count() >= chains else "sequential"


def _compile_nutpie_pymc(model: Any, start: dict, rng: np.random.Generator) -> Any:
    import dataclasses

    import nutpie

    compiled = nutpie.compile_pymc_model(
        model, initial_points=start, jitter_rvs=set(), var_names=list(PARAMETER_NAMES)
    )
    return dataclasses.replace(
        compiled, initial_point_func=_jittered(compiled.initial_point_func, rng)
    )


def _compile_nutpie_density(
    model: Any, density: PosteriorDensity, start: dict, rng: np.random.Generator
) -> Any:
    """A nutpie model that evaluates ``density`` and reports draws as PyMC's would."""
    import nutpie
    from nutpie.compiled_pyfunc import from_pyfunc

    del nutpie  # imported for its error message when missing
    center = np.asarray(model["center"].get_value(), dtype=np.float64)
    scale = np.asarray(model["scale"].get_value(), dtype=np.float64)
    k, d, kind = density.n_components, density.n_features, density.covariance_type
    shapes = {
        "weights": (k,),
        "means": (k, d),
        "covariances": {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[kind],
    }
    logp = density.logp_function()
    initial = density.to_unconstrained(start)

    def expand(theta: np.ndarray, **_: Any) -> dict[str, np.ndarray]:
        values = density.expand(theta)
        return {
            "weights": values["weights"],
            "means": center + scale * values["z_means"],
            "covariances": data_units(kind, values["z_covariances"], scale),
        }

    dims = {name: tuple(model.named_vars_to_dims[name]) for name in PARAMETER_NAMES}
    import pandas as pd

    coords = {
        name: pd.Index(model.coords[name]) for name in ("component", "feature", "feature_bis")
    }
    return from_pyfunc(
        ndim=density.n_dim,
        make_logp_fn=lambda: logp,
        make_expand_fn=lambda *seeds: expand,
        expanded_dtypes=[np.dtype("float64")] * len(PARAMETER_NAMES),
        expanded_shapes=[shapes[name] for name in PARAMETER_NAMES],
        expanded_names=list(PARAMETER_NAMES),
        coords=coords,
        dims=dims,
        make_initial_point_fn=_jittered(lambda seed: initial, rng),
    )


def _nutpie(compiled, draws, tune, chains, cores, target_accept, rng, progressbar):
    import nutpie

    return nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        seed=_seed(rng),
        target_accept=target_accept,
        progress_bar=progressbar,
        save_warmup=False,
    )


def _jittered(start: Any, rng: np.random.Generator) -> Any:
    """nutpie's per-chain start: ``start(seed)`` (the EM point, unconstrained) moved by
    0.05 in every coordinate, a fixed offset per chain seed."""
    jitter_rng = np.random.default_rng(_seed(rng))
    offsets: dict[str, np.ndarray] = {}

    def initial_point(seed: Any) -> np.ndarray:
        point = np.asarray(start(seed), dtype=np.float64)
        key = repr(seed)
        if key not in offsets:
            offsets[key] = 0.05 * jitter_rng.standard_normal(point.shape)
        return point + offsets[key]

    return initial_point


def _point_idata(model: Any, point: dict[str, np.ndarray]) -> Any:
    import arviz as az

    dims = {name: list(model.named_vars_to_dims.get(name, ())) for name in PARAMETER_NAMES}
    coords = {name: np.asarray(values) for name, values in model.coords.items()}
    posterior = {name: np.asarray(point[name])[None, None] for name in PARAMETER_NAMES}
    return az.from_dict(posterior=posterior, coords=coords, dims=dims)


def covariance_draws(posterior: Any, covariance_type: str) -> np.ndarray:
    """Covariances of every draw as full matrices, ``(chain, draw, K, D, D)``."""
    kind = get_covariance_model(covariance_type)
    k = posterior.sizes["component"]
    d = posterior.sizes["feature"]
    return np.asarray(kind.to_full(posterior["covariances"].values, k, d))
