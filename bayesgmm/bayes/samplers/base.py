"""What every sampler shares: its settings, the chains' starts, seeds and the BLAS limit.

Every method starts from the EM solution (:func:`start_values`): chains that start
inside one labelling rarely switch labels, and the sampler spends its tuning on the
posterior instead of on finding it. While a sampler runs, BLAS is held to one thread
(:func:`limit_blas_threads`, and :func:`worker_blas_threads` for PyMC's worker
processes): a mixture's log-density is many tiny matrix products, which multi-threaded
OpenBLAS runs 10-20 times slower.

PyMC's samplers and optimiser catch ``KeyboardInterrupt`` and return what they have;
:func:`~bayesgmm.interrupts.reraise_interrupts` raises it again once the sampler has
returned.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...interrupts import reraise_interrupts
from ...threads import single_threaded_blas
from ..model import DOF_NAME, PARAMETER_NAMES, Standardisation, reported_names

__all__ = [
    "RunSettings",
    "chain_starts",
    "limit_blas_threads",
    "model_frame",
    "posterior_idata",
    "reraise_interrupts",
    "seed",
    "start_values",
    "worker_blas_threads",
]


@dataclass(frozen=True)
class RunSettings:
    """What the estimator asks of a sampler; each sampler reads the fields it uses.

    Parameters
    ----------
    method : {"nuts", "advi", "fullrank_advi", "map"}, default="nuts"
    draws, tune, chains : int, default=1000, 1000, 4
        Draws kept and tuning steps per chain; chains. The variational methods draw
        ``draws * chains`` values from the approximation, as one chain.
    cores : int, default=1
        Chains run in parallel.
    target_accept : float, default=0.8
    progressbar : bool, default=False
    progress_delay : float, default=0.0
        Seconds before a bar of our own loops (ADVI's) appears.
    advi_max_iter, advi_tol, advi_window, advi_learning_rate, batch_size
        The variational fit's settings (:func:`~bayesgmm.bayes.samplers.advi.fit_variational`).

    Examples
    --------
    >>> RunSettings(draws=10).draws
    10
    """

    method: str = "nuts"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    cores: int = 1
    target_accept: float = 0.8
    progressbar: bool = False
    progress_delay: float = 0.0
    advi_max_iter: int = 50_000
    advi_tol: float = 0.05
    advi_window: int = 50
    advi_learning_rate: float = 0.2
    batch_size: Any = None


_ENV_NAMES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
_env_lock = threading.Lock()
_env_holders = 0
_env_saved: dict[str, str | None] = {}


@contextlib.contextmanager
def worker_blas_threads() -> Iterator[None]:
    """BLAS and OpenMP at one thread in worker processes started inside the block.

    Sets ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and ``MKL_NUM_THREADS`` to 1,
    which processes read when they start (PyMC's parallel chains). The variables are
    the process's: the first holder saves them, the last one out restores them, under
    a lock, so fits in several threads leave the environment as they found it.

    Examples
    --------
    >>> import os
    >>> before = os.environ.get("OMP_NUM_THREADS")
    >>> with worker_blas_threads():
    ...     os.environ["OMP_NUM_THREADS"]
    '1'
    >>> os.environ.get("OMP_NUM_THREADS") == before
    True
    """
    global _env_holders
    with _env_lock:
        if _env_holders == 0:
            _env_saved.update({name: os.environ.get(name) for name in _ENV_NAMES})
            os.environ.update(dict.fromkeys(_ENV_NAMES, "1"))
        _env_holders += 1
    try:
        yield
    finally:
        with _env_lock:
            _env_holders -= 1
            if _env_holders == 0:
                for name, value in _env_saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
                _env_saved.clear()


@contextlib.contextmanager
def limit_blas_threads(n_threads: int = 1) -> Iterator[None]:
    """Hold BLAS to ``n_threads`` in this process inside the block.

    One thread goes through :func:`bayesgmm.threads.single_threaded_blas`, which counts
    its holders, so concurrent fits restore the original limit only when the last one
    leaves; other counts through threadpoolctl. The environment is left alone (worker
    processes: :func:`worker_blas_threads`).

    Examples
    --------
    >>> with limit_blas_threads(1):
    ...     pass
    """
    if n_threads == 1:
        with single_threaded_blas():
            yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n_threads, user_api="blas"):
        yield


def seed(rng: np.random.Generator) -> int:
    """A seed for a library that takes an int, drawn from ``rng``.

    Examples
    --------
    >>> seed(np.random.default_rng(0)) == seed(np.random.default_rng(0))
    True
    """
    return int(rng.integers(2**31 - 1))


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
        A fitted mixture (for example the EM solution), covariances shaped per type;
        or many (posterior draws), with the same leading dims on each.
    covariance_type : {"full", "tied", "diag", "spherical"}
    standard : Standardisation
        The model's standardisation.

    Returns
    -------
    dict
        Untransformed values keyed by free-variable name, as ``pm.sample``'s
        ``initvals`` takes them (with the leading dims of the input).

    Examples
    --------
    >>> s = Standardisation(center=np.zeros(1), scale=np.full(1, 2.0))
    >>> start_values(np.array([1.0]), np.ones((1, 1)), np.full((1, 1), 4.0), "diag", s)["z_sds"]
    array([[1.]])
    """
    scale = standard.scale
    weights = np.clip(np.asarray(weights, dtype=np.float64), 1e-6, None)
    start = {
        "weights": weights / weights.sum(axis=-1, keepdims=True),
        "z_means": (np.asarray(means) - standard.center) / scale,
    }
    covariances = np.asarray(covariances, dtype=np.float64)
    if covariance_type == "full":
        packed = _packed_lower(covariances / scale[:, None] / scale[None, :])
        for k in range(packed.shape[-2]):
            start[f"z_chol_{k}"] = packed[..., k, :]
    elif covariance_type == "tied":
        start["z_chol"] = _packed_lower(covariances / scale[:, None] / scale[None, :])
    elif covariance_type == "diag":
        start["z_sds"] = np.sqrt(covariances) / scale
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


def chain_starts(
    start: dict[str, np.ndarray], chains: int, jitter: float, rng: np.random.Generator
) -> list[dict[str, np.ndarray]]:
    """One start per chain: ``start`` itself, then jittered copies of it.

    Parameters
    ----------
    start : dict
        Untransformed values (:func:`start_values`).
    chains : int
    jitter : float
        Spread: means move by ``jitter`` standardised units, weights and scales by a
        factor ``exp(jitter * noise)``; Cholesky factors of correlated scales stay.
    rng : numpy Generator

    Returns
    -------
    list of dict

    Examples
    --------
    >>> starts = chain_starts({"z_means": np.zeros(2)}, 3, 0.1, np.random.default_rng(0))
    >>> len(starts), starts[0]["z_means"].tolist()
    (3, [0.0, 0.0])
    """
    return [start] + [_jitter(start, rng, jitter) for _ in range(chains - 1)]


def model_frame(model: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The coords of a PyMC model and the dims of its reported parameters.

    Examples
    --------
    >>> from bayesgmm.bayes import build_model
    >>> model_frame(build_model(np.array([[0.0], [1.0]]), 1, "spherical"))[1]["covariances"]
    ['component']
    """
    dims = {name: list(model.named_vars_to_dims.get(name, ())) for name in reported_names(model)}
    coords = {name: np.asarray(values) for name, values in model.coords.items()}
    return coords, dims


def posterior_idata(draws: dict[str, np.ndarray], coords: dict, dims: dict) -> Any:
    """An InferenceData of the parameters from arrays with (chain, draw) leading.

    ``coords`` and ``dims`` as a model has them (:func:`model_frame`) or a density
    (:class:`~bayesgmm.bayes.density.PosteriorDensity`'s ``coords`` and ``dims``).

    Examples
    --------
    >>> from bayesgmm.bayes.density import PosteriorDensity
    >>> from bayesgmm.bayes.priors import Priors
    >>> density = PosteriorDensity(np.zeros((2, 1)), 1, "spherical", Priors())
    >>> one = {"weights": np.ones((1, 1, 1)), "means": np.zeros((1, 1, 1, 1)),
    ...        "covariances": np.ones((1, 1, 1))}
    >>> posterior_idata(one, density.coords, density.dims).posterior["means"].dims
    ('chain', 'draw', 'component', 'feature')
    """
    import arviz as az

    names = [name for name in (*PARAMETER_NAMES, DOF_NAME) if name in draws]
    posterior = {name: np.asarray(draws[name]) for name in names}
    dims = {name: list(dims[name]) for name in names}
    coords = {name: np.asarray(values) for name, values in coords.items()}
    return az.from_dict(posterior=posterior, coords=coords, dims=dims)
