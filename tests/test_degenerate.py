"""Degenerate likelihoods are not rewarded (issue: faithful's whole-minute ``waiting``).

With diagonal covariances and K=5, a component can collapse onto the rows that share one
``waiting`` value; its variance then falls to the floor and the likelihood grows without
bound, enough to win the BIC. The fit must floor the variance relative to the data's
scale, warn, and prefer starts without such components.
"""

import warnings

import numpy as np
import pytest

from bayesgmm import DegenerateComponentWarning, GaussianMixture
from bayesgmm.datasets import load_faithful


@pytest.fixture(scope="module")
def faithful():
    return load_faithful()


@pytest.fixture(scope="module")
def four_component_fit(faithful):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateComponentWarning)
        return GaussianMixture(4, covariance_type="diag", random_state=0).fit(faithful)


def _collapsed_start(faithful, base, value=78.0):
    """Four components of a good fit plus a fifth on the rows with waiting == value."""
    rows = (faithful["waiting"] == value).to_numpy()
    eruptions = faithful["eruptions"].to_numpy()[rows]
    means = np.vstack([base.means_, [eruptions.mean(), value]])
    precisions = np.vstack([base.precisions_, [1.0 / eruptions.var(), 1e4]])
    weights = np.append(base.weights_ * (1.0 - rows.mean()), rows.mean())
    return weights, means, precisions, int(rows.sum())


def test_collapsed_component_is_floored_and_named(faithful, four_component_fit):
    weights, means, precisions, n_tied = _collapsed_start(faithful, four_component_fit)
    assert n_tied == 15
    model = GaussianMixture(
        5,
        covariance_type="diag",
        weights_init=weights,
        means_init=means,
        precisions_init=precisions,
    )
    with pytest.warns(DegenerateComponentWarning, match=r"component 4 .*tied values"):
        model.fit(faithful)
    # the variance stops at the floor: reg_covar times the feature's variance
    floor = model.reg_covar * faithful["waiting"].var(ddof=0)
    assert model.covariances_[4, 1] == pytest.approx(floor, rel=1e-3)
    assert np.isfinite(model.lower_bound_)
    assert len(model.result_.degenerate) == 1
    assert "component 4" in model.result_.degenerate[0]


def test_degenerate_fit_would_win_bic_so_default_avoids_it(faithful, four_component_fit):
    weights, means, precisions, _ = _collapsed_start(faithful, four_component_fit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        degenerate = GaussianMixture(
            5,
            covariance_type="diag",
            weights_init=weights,
            means_init=means,
            precisions_init=precisions,
        ).fit(faithful)
    # the trap: the collapsed fit has a lower BIC than the honest four-component fit
    assert degenerate.bic(faithful) < four_component_fit.bic(faithful)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateComponentWarning)
        default = GaussianMixture(5, covariance_type="diag", random_state=0).fit(faithful)
    assert default.result_.degenerate == []
    assert default.bic(faithful) > four_component_fit.bic(faithful)


def test_default_bic_over_k_is_not_won_by_a_collapse(faithful):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = {
            k: GaussianMixture(k, covariance_type="diag", random_state=0).fit(faithful)
            for k in range(1, 7)
        }
    honest = {k: fit.bic(faithful) for k, fit in fits.items() if not fit.result_.degenerate}
    assert set(honest) == set(fits)
    best = min(honest, key=honest.get)
    assert best in (3, 4)


def test_all_tied_feature_start_warns_near_singular():
    """A component on exactly collinear points is flagged even without a grid."""
    rng = np.random.default_rng(0)
    line = np.linspace(0.0, 1.0, 40)[:, None] * np.array([[1.0, 2.0]])
    cloud = rng.normal(5.0, 1.0, size=(200, 2))
    X = np.vstack([line, cloud])
    model = GaussianMixture(
        2,
        covariance_type="full",
        means_init=np.array([[0.5, 1.0], [5.0, 5.0]]),
        weights_init=np.array([40 / 240, 200 / 240]),
        precisions_init=np.array([np.eye(2) * 10.0, np.eye(2)]),
    )
    with pytest.warns(DegenerateComponentWarning, match="near-singular"):
        model.fit(X)
