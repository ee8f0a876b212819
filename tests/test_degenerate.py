"""Degenerate likelihoods are not rewarded (issue: faithful's whole-minute ``waiting``).

With diagonal covariances and K=5, a component can collapse onto the rows that share one
``waiting`` value; its variance then falls to the floor and the likelihood grows without
bound, enough to win the BIC. The fit must floor the variance relative to the data's
scale, warn, and prefer starts without such components.
"""

import warnings

import numpy as np
import pytest
from scipy import stats

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
    # the variance stops at the floor: 1e-6 times the feature's squared robust spread
    waiting = faithful["waiting"].to_numpy()
    q25, q75 = np.quantile(waiting, [0.25, 0.75], method="inverted_cdf")
    spread = min(waiting.std(), (q75 - q25) / (2 * stats.norm.ppf(0.75)))
    assert model.covariances_[4, 1] == pytest.approx(1e-6 * spread**2, rel=1e-3)
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


def test_component_on_collinear_points_is_degenerate_without_a_grid():
    """A component on exactly collinear points spans fewer dimensions than it has."""
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
    with pytest.warns(
        DegenerateComponentWarning,
        match=r"component 0 \(weight 0\.167\) has no spread of its own in 1 direction\(s\)"
        r".*fewer distinct points than it has dimensions",
    ):
        model.fit(X)
    assert model.result_.degenerate[0].startswith("component 0")


# ----------------------------------------------------- thin is not degenerate (issue 16.4)
def _thin_clusters(n_per, n_features, thin_variance, seed):
    """Two clusters whose covariances are nearly flat: the last direction's variance is
    ``thin_variance`` (relative to 1 in the others), and every point has its own spread."""
    rng = np.random.default_rng(seed)
    rotation = np.linalg.qr(rng.normal(size=(n_features, n_features)))[0]
    scales = np.ones(n_features)
    scales[-1] = np.sqrt(thin_variance)
    clusters = [
        (rng.normal(size=(n_per, n_features)) * scales) @ rotation.T + offset
        for offset in (np.zeros(n_features), np.full(n_features, 6.0))
    ]
    return np.vstack(clusters)


def test_thin_components_with_many_points_are_not_degenerate():
    """Issue 16.4: a D=200, N=5,000 full fit that matched scikit-learn warned for both
    components (the old rule flagged a small standardised eigenvalue). Smaller here: 1,000
    points per component in 30 dimensions, thin to 1e-6 of the variance in one direction
    (the old rule's 1e-4 flags it), fitted as scikit-learn fits them."""
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    X = _thin_clusters(1000, 30, 1e-6, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateComponentWarning)
        ours = GaussianMixture(2, reg_covar=1e-9, random_state=0).fit(X)
    assert ours.result_.degenerate == []
    start = dict(weights_init=ours.weights_, means_init=ours.means_)
    theirs = SklearnGaussianMixture(2, reg_covar=1e-9, tol=1e-10, max_iter=500, **start).fit(X)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-7)


def test_a_large_component_flat_in_one_direction_is_not_degenerate():
    """Issue 16.4: a 125,000-point component of a 1M-row fit, flat in one direction, was
    flagged. Its thin direction (1e-5 of the other variances) is far above the floor."""
    X = _thin_clusters(20_000, 3, 1e-5, seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateComponentWarning)
        model = GaussianMixture(2, random_state=0).fit(X)
    assert model.result_.degenerate == []
    # the thin direction is the points' own: the floor (at most 1e-6 of the largest
    # variance) only adds to the sample covariance of each cluster
    order = np.argsort(model.means_[:, 0])
    clusters = (X[:20_000], X[20_000:])
    sample = np.array([np.cov(c.T, bias=True) for c in clusters])
    fitted = np.linalg.eigvalsh(model.covariances_[order])[:, 0]
    own = np.linalg.eigvalsh(sample)[:, 0]
    assert np.all(own > 0.9e-5)
    floor = 1e-6 * X.var(axis=0).max()
    assert np.all(fitted >= own - 1e-12) and np.all(fitted <= own + floor + 1e-12)


def test_two_index_trackers_do_not_make_every_fit_degenerate():
    """Issue 16.4: two trackers of one index (correlation 0.9999) made select() raise for
    every K, K=1 included: a strong correlation is shape, not a collapse."""
    from bayesgmm import select

    rng = np.random.default_rng(3)
    index = rng.standard_t(4, size=1500) * 0.01
    noise = rng.normal(size=(1500, 2)) * np.sqrt(index.var() * 1e-4)
    X = index[:, None] + noise
    assert np.corrcoef(X.T)[0, 1] == pytest.approx(0.9999, abs=2e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        selection = select(X, n_components=range(1, 4), covariance_types=("full",))
    table = selection.table
    assert not table["degenerate"].any(), table
