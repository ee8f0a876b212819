"""Numerical robustness and reproducibility of the EM fitter.

Properties checked against theory, not against the code:

* the maximum-likelihood fit of a Gaussian mixture is equivariant: permuting rows
  changes nothing, translating the data by ``c`` translates the means by ``c``,
  scaling feature ``j`` by ``s_j`` scales means by ``s_j``, covariances by
  ``s_i s_j`` and lowers the mean log-likelihood by ``sum(log s_j)``. That holds for
  scales of 1e-8 and 1e8 because ``reg_covar`` is relative to each feature's variance;
* a component that collapses onto tied values stops at the variance floor
  ``reg_covar * variance`` and the fit warns, naming it;
* the same ``random_state`` gives bitwise-identical results, different states give
  different starts.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bayesgmm import ConvergenceWarning, DegenerateComponentWarning, GaussianMixture

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def _clusters(n_per: int = 80, seed: int = 0) -> np.ndarray:
    """Three well-separated, differently shaped clusters in 2-D."""
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            rng.normal([0.0, 0.0], [1.0, 0.5], (n_per, 2)),
            rng.normal([8.0, 1.0], [0.7, 1.2], (n_per, 2)),
            rng.normal([2.0, 9.0], [1.1, 0.8], (n_per, 2)),
        ]
    )


X = _clusters()


def _fit(values, covariance_type: str = "full", **options) -> GaussianMixture:
    options.setdefault("random_state", 0)
    return GaussianMixture(3, covariance_type=covariance_type, **options).fit(values)


@pytest.fixture(scope="module")
def reference() -> dict[str, GaussianMixture]:
    return {kind: _fit(X, kind) for kind in COVARIANCE_TYPES}


def _order(model: GaussianMixture, back=lambda means: means) -> np.ndarray:
    """Components sorted by their mean, mapped back to the original units first."""
    means = back(model.means_)
    return np.lexsort((means[:, 1], means[:, 0]))


def _full_covariances(model: GaussianMixture) -> np.ndarray:
    return model.result_.covariances.values


def _assert_equivariant(model, reference, shift, scale) -> None:
    """``model`` was fitted to ``X * scale + shift``; compare with the fit to ``X``."""
    order = _order(model, back=lambda means: (means - shift) / scale)
    ref_order = _order(reference)
    np.testing.assert_allclose(
        (model.means_[order] - shift) / scale, reference.means_[ref_order], rtol=1e-6, atol=1e-6
    )
    np.testing.assert_allclose(model.weights_[order], reference.weights_[ref_order], rtol=1e-6)
    outer = np.outer(scale, scale)
    np.testing.assert_allclose(
        _full_covariances(model)[order] / outer,
        _full_covariances(reference)[ref_order],
        rtol=1e-6,
        atol=1e-9,
    )
    np.testing.assert_allclose(
        model.lower_bound_ + np.log(scale).sum(), reference.lower_bound_, rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_row_permutation_changes_nothing(covariance_type, reference) -> None:
    perm = np.random.default_rng(1).permutation(len(X))
    model = _fit(X[perm], covariance_type)
    _assert_equivariant(model, reference[covariance_type], np.zeros(2), np.ones(2))
    # the same rows get the same (relabelled) components
    labels, ref_labels = model.predict(X[perm]), reference[covariance_type].predict(X)[perm]
    assert len(set(zip(labels, ref_labels, strict=True))) == 3


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("offset", [-7.5, 1e4, 1e8], ids=["-7.5", "1e4", "1e8"])
def test_translation_shifts_the_means(covariance_type, offset, reference) -> None:
    shift = np.array([offset, -offset / 3])
    model = _fit(X + shift, covariance_type)
    _assert_equivariant(model, reference[covariance_type], shift, np.ones(2))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("factor", [1e-8, 0.37, 1e8], ids=["1e-8", "0.37", "1e8"])
def test_uniform_scaling_scales_the_fit(covariance_type, factor, reference) -> None:
    scale = np.full(2, factor)
    model = _fit(X * scale, covariance_type)
    _assert_equivariant(model, reference[covariance_type], np.zeros(2), scale)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
@pytest.mark.parametrize(
    "scale", [[1e-8, 1e8], [1e8, 3.0]], ids=["1e-8,1e8", "1e8,3"]
)  # spherical is not equivariant under unequal per-feature scales
def test_per_feature_scaling_scales_the_fit(covariance_type, scale, reference) -> None:
    scale = np.asarray(scale)
    shift = np.array([1e3, -2.0]) * scale
    model = _fit(X * scale + shift, covariance_type)
    _assert_equivariant(model, reference[covariance_type], shift, scale)


# --------------------------------------------------------------------- collapse
def _with_point_mass(seed: int = 0) -> np.ndarray:
    """A Gaussian cloud plus 40 copies of one point: a component can sit on the copies."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0.0, 1.0, (100, 2)), np.tile([[6.0, 6.0]], (40, 1))])


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("reg_covar", [1e-6, 1e-3])
def test_collapsed_component_stops_at_the_floor_and_warns(covariance_type, reg_covar) -> None:
    values = _with_point_mass()
    model = GaussianMixture(2, covariance_type=covariance_type, reg_covar=reg_covar, random_state=0)
    with pytest.warns(DegenerateComponentWarning) as record:
        model.fit(values)
    collapsed = int(np.argmin(np.linalg.norm(model.means_ - 6.0, axis=1)))
    message = str(record[0].message)
    assert f"component {collapsed} (weight {40 / 140:.3g})" in message
    assert "fewer components" in message and "reg_covar" in message
    assert model.result_.degenerate and f"component {collapsed}" in model.result_.degenerate[0]
    # the floor: the copies have zero spread, so the variances are reg_covar * variance
    floor = reg_covar * values.var(axis=0)
    variances = np.diagonal(_full_covariances(model)[collapsed])
    expected = floor.mean() if covariance_type == "spherical" else floor
    np.testing.assert_allclose(variances, np.broadcast_to(expected, (2,)), rtol=1e-6)
    np.testing.assert_allclose(model.means_[collapsed], [6.0, 6.0], rtol=1e-12)
    # still a usable model: finite parameters, log-likelihood and predictions
    assert np.isfinite(model.precisions_cholesky_).all()
    assert np.isfinite(model.lower_bound_)
    assert np.isfinite(model.score_samples(values)).all()
    assert (model.predict(values[100:]) == collapsed).all()


def test_larger_floor_bounds_the_likelihood_of_the_collapsed_component() -> None:
    """Raising reg_covar by 1000 lowers the collapsed component's density at the copies.

    Its log-density there is ``-log(2 pi) - 0.5 log det(floor)``, so it falls by
    ``log(1000)`` (two features, half a log each) when the floor rises 1000-fold.
    """
    values = _with_point_mass()
    densities = []
    for reg_covar in (1e-6, 1e-3):
        with pytest.warns(DegenerateComponentWarning):
            model = GaussianMixture(
                2, covariance_type="diag", reg_covar=reg_covar, random_state=0
            ).fit(values)
        densities.append(model.score_samples(values[-1:])[0])
    assert densities[0] - densities[1] == pytest.approx(np.log(1000), rel=1e-4)


def test_degenerate_start_loses_to_a_sound_one() -> None:
    """When some start collapses and another does not, the sound fit wins, with no warning."""
    values = np.concatenate([_clusters(), np.tile([[4.0, 4.0]], (3, 1))])
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateComponentWarning)
        model = GaussianMixture(3, n_init=5, random_state=0).fit(values)
    assert not model.result_.degenerate
    eigenvalues = np.linalg.eigvalsh(model.covariances_)
    assert eigenvalues.min() > 0.1


# ---------------------------------------------------------------- reproducibility
def _state(model: GaussianMixture) -> dict[str, np.ndarray]:
    return {
        "weights_": model.weights_,
        "means_": model.means_,
        "covariances_": model.covariances_,
        "precisions_cholesky_": model.precisions_cholesky_,
        "lower_bounds_": np.asarray(model.lower_bounds_),
        "n_iter_": np.asarray(model.n_iter_),
        "predict_proba": model.predict_proba(X),
    }


def _assert_bitwise_equal(first: GaussianMixture, second: GaussianMixture) -> None:
    for name, value in _state(first).items():
        other = _state(second)[name]
        assert value.tobytes() == other.tobytes(), name


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_same_random_state_gives_bitwise_identical_fits(covariance_type, init_params) -> None:
    options = {"covariance_type": covariance_type, "init_params": init_params, "n_init": 2}
    first = GaussianMixture(3, random_state=12, **options).fit(X)
    second = GaussianMixture(3, random_state=12, **options).fit(X)
    _assert_bitwise_equal(first, second)


def test_refitting_the_same_estimator_repeats_the_fit() -> None:
    model = GaussianMixture(3, random_state=5)
    first = _state(model.fit(X))
    second = _state(model.fit(X))
    for name in first:
        assert first[name].tobytes() == second[name].tobytes(), name


def test_generators_with_the_same_seed_give_identical_fits_and_samples() -> None:
    first = GaussianMixture(3, random_state=np.random.default_rng(3)).fit(X)
    second = GaussianMixture(3, random_state=np.random.default_rng(3)).fit(X)
    _assert_bitwise_equal(first, second)
    np.testing.assert_array_equal(first.sample(7)[0], second.sample(7)[0])


def _first_log_likelihood(init_params: str, random_state: int) -> float:
    """Mean log-likelihood of the start itself (the first entry of the history)."""
    model = GaussianMixture(3, init_params=init_params, n_init=1, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_params(random_state=random_state).fit(X)
    return model.lower_bounds_[0]


@pytest.mark.parametrize("init_params", ["k-means++", "random", "random_from_data"])
def test_different_random_states_give_different_starts(init_params) -> None:
    starts = {_first_log_likelihood(init_params, state) for state in range(4)}
    assert len(starts) > 1


def test_hierarchical_start_does_not_depend_on_the_random_state() -> None:
    """With one kmeans start, EM starts from the deterministic Ward agglomeration."""
    starts = {_first_log_likelihood("kmeans", state) for state in range(3)}
    assert len(starts) == 1
