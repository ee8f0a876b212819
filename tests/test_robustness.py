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
from rounding_bounds import FLOAT64_UNIT, rounding_bounds
from scipy import stats

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
    # started on the copies (the default starts prefer a sound fit when one of them has it)
    model = GaussianMixture(
        2,
        covariance_type=covariance_type,
        reg_covar=reg_covar,
        means_init=[[0.0, 0.0], [6.0, 6.0]],
        random_state=0,
    )
    with pytest.warns(DegenerateComponentWarning) as record:
        model.fit(values)
    collapsed = int(np.argmin(np.linalg.norm(model.means_ - 6.0, axis=1)))
    message = str(record[0].message)
    assert f"component {collapsed} (weight {40 / 140:.3g})" in message
    assert "fewer components" in message and "reg_covar" in message
    assert model.result_.degenerate and f"component {collapsed}" in model.result_.degenerate[0]
    # the floor: the copies have zero spread, so the variances are reg_covar itself (a
    # float reg_covar is added in the data's units, as scikit-learn's is)
    variances = np.diagonal(_full_covariances(model)[collapsed])
    np.testing.assert_allclose(variances, reg_covar, rtol=1e-6)
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


#: One round blob: no partition into 3 is better than another, so random seeds give
#: starts that differ by more than rounding (on X's three clusters they all find it).
BLOB = np.random.default_rng(7).normal(size=(240, 2))


def _first_log_likelihood(init_params: str, random_state: int, data=X) -> float:
    """Mean log-likelihood of the start itself (the first entry of the history)."""
    model = GaussianMixture(3, init_params=init_params, n_init=1, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_params(random_state=random_state).fit(data)
    return model.lower_bounds_[0]


@pytest.mark.parametrize("init_params", ["k-means++", "random", "random_from_data"])
def test_different_random_states_give_different_starts(init_params) -> None:
    starts = [_first_log_likelihood(init_params, state, BLOB) for state in range(4)]
    assert np.ptp(starts) > 1e-6


def test_hierarchical_start_does_not_depend_on_the_random_state() -> None:
    """With one kmeans start, EM starts from the deterministic Ward agglomeration."""
    starts = {_first_log_likelihood("kmeans", state) for state in range(3)}
    assert len(starts) == 1


# ------------------------------------------------------------- the Bayesian estimator
# Sampler faults and interrupts are dialled in through a stand-in for run_inference
# (tests/fake_sampler.py) that returns draws shaped as the sampler's without sampling,
# so relabelling, diagnostics and the result run for real in well under a second.
@pytest.fixture(scope="module")
def centre() -> dict:
    from fake_sampler import em_parameters

    return em_parameters(X, 3, "full")


def _bayes(**options):
    from bayesgmm import BayesianGaussianMixture

    options = {"draws": 400, "chains": 2, "random_state": 0, "em_kwargs": {"n_init": 1}, **options}
    return BayesianGaussianMixture(3, **options)


def _use_sampler(monkeypatch, centre, **faults):
    from fake_sampler import fake_run_inference

    import bayesgmm.bayes.estimator as estimator

    fake = fake_run_inference(centre, **faults)
    monkeypatch.setattr(estimator, "run_inference", fake)
    return fake


def _fitted_attributes(model) -> dict:
    return {name: value for name, value in vars(model).items() if name.endswith("_")}


def test_healthy_draws_give_no_sampler_warning(monkeypatch, centre) -> None:
    from bayesgmm.exceptions import SamplerWarning

    _use_sampler(monkeypatch, centre)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SamplerWarning)
        model = _bayes().fit(X)
    assert model.converged_
    assert model.inference_info_["diagnostics"]["problems"] == []


def test_divergences_warn_with_their_count_and_advice(monkeypatch, centre) -> None:
    from bayesgmm.exceptions import SamplerWarning

    _use_sampler(monkeypatch, centre, n_divergent=7)
    with pytest.warns(
        SamplerWarning, match=r"7 of 800 draws \(0\.9%\) diverged; raise target_accept"
    ):
        model = _bayes().fit(X)
    assert not model.converged_
    assert model.inference_info_["diagnostics"]["divergences"] == 7


def test_chains_that_have_not_mixed_warn_with_rhat(monkeypatch, centre) -> None:
    import arviz as az

    from bayesgmm.exceptions import SamplerWarning

    _use_sampler(monkeypatch, centre, stuck_chain_shift=6.0)
    with pytest.warns(SamplerWarning) as record:
        model = _bayes().fit(X)
    rhat = az.rhat(model.result_.posterior, var_names=["weights", "means", "covariances"])
    largest = max(float(rhat[name].max()) for name in ("weights", "means", "covariances"))
    assert largest > 1.5  # the stuck chain is visible to an independent computation
    message = str(record[0].message)
    assert f"the largest R-hat is {largest:.3f} > 1.01; chains have not mixed: draw more" in message
    assert not model.converged_


def test_autocorrelated_draws_warn_with_the_effective_sample_size(monkeypatch, centre) -> None:
    import arviz as az

    from bayesgmm.exceptions import SamplerWarning

    _use_sampler(monkeypatch, centre, autocorrelation=0.95)
    with pytest.warns(SamplerWarning) as record:
        model = _bayes().fit(X)
    ess = az.ess(model.result_.posterior, var_names=["weights", "means", "covariances"])
    smallest = min(float(ess[name].min()) for name in ("weights", "means", "covariances"))
    message = str(record[0].message)
    assert f"smallest bulk effective sample size is {smallest:.0f} < 400; draw more" in message
    assert not model.converged_


def test_failed_initialisation_raises_with_the_numbers_and_advice(monkeypatch, centre) -> None:
    from pymc.exceptions import SamplingError

    pymc_text = (
        "Initial evaluation of model at starting point failed!\n"
        "Starting values:\n{'means': array([[-inf, 0.2]])}\n\n"
        "Logp initial evaluation results:\n{'means': -inf, 'x': -inf}"
    )
    _use_sampler(monkeypatch, centre, raises=SamplingError(pymc_text))
    model = _bayes()
    with pytest.raises(SamplingError) as excinfo:
        model.fit(X)
    message = str(excinfo.value)
    assert "could not start sampling from the EM solution" in message
    assert "{'means': -inf, 'x': -inf}" in message  # PyMC's numbers are kept
    assert "other priors" in message and "method='advi'" in message
    assert _fitted_attributes(model) == {}


@pytest.mark.parametrize("stage", ["sampling", "relabelling", "diagnostics"])
def test_interrupt_leaves_the_estimator_unfitted(monkeypatch, centre, stage) -> None:
    import bayesgmm.bayes.estimator as estimator
    from bayesgmm.exceptions import NotFittedError

    _use_sampler(monkeypatch, centre, raises=KeyboardInterrupt() if stage == "sampling" else None)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    if stage != "sampling":
        monkeypatch.setattr(estimator, {"relabelling": "relabel"}.get(stage, "diagnose"),
                            interrupt)  # fmt: skip
    model = _bayes()
    with pytest.raises(KeyboardInterrupt):
        model.fit(X)
    assert _fitted_attributes(model) == {}
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_interrupted_refit_keeps_the_previous_fit_whole(monkeypatch, centre) -> None:
    model = _bayes()
    _use_sampler(monkeypatch, centre)
    model.fit(X)
    before = _fitted_attributes(model)
    _use_sampler(monkeypatch, centre, raises=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        model.fit(X[::-1])
    after = _fitted_attributes(model)
    assert after.keys() == before.keys()
    assert all(after[name] is before[name] for name in before)


# slow: these compile the model and run PyMC's own NUTS sampler
BAYES_SMALL = {"draws": 200, "tune": 200, "chains": 2, "cores": 1, "nuts_sampler": "pymc"}


def _two_clusters() -> np.ndarray:
    rng = np.random.default_rng(4)
    return np.concatenate([rng.normal(-2.5, 1, (60, 2)), rng.normal(2.5, 0.7, (60, 2))])


@pytest.mark.slow
def test_pymc_sampler_draws_depend_on_the_random_state_only() -> None:
    from bayesgmm import BayesianGaussianMixture
    from bayesgmm.exceptions import SamplerWarning

    values = _two_clusters()
    draws = {}
    for state in (1, 1, 2):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplerWarning)
            model = BayesianGaussianMixture(
                2, covariance_type="diag", random_state=state, **BAYES_SMALL
            ).fit(values)
        draws.setdefault(state, []).append(model.result_.posterior.posterior["means"].values)
    assert draws[1][0].tobytes() == draws[1][1].tobytes()
    assert not np.array_equal(draws[1][0], draws[2][0])


@pytest.mark.slow
def test_badly_scaled_data_sample_as_well_as_standardised_data() -> None:
    """Units of 1e-6 and 1e6 around an offset of 1e8: the same posterior, mapped."""
    import arviz as az

    from bayesgmm import BayesianGaussianMixture
    from bayesgmm.exceptions import SamplerWarning

    values = _two_clusters()
    scale, shift = np.array([1e-6, 1e6]), np.array([1e8, -3e3])
    fits = {}
    for label, data in (("standard", values), ("scaled", values * scale + shift)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SamplerWarning)
            fits[label] = BayesianGaussianMixture(
                2, covariance_type="full", random_state=0, **BAYES_SMALL
            ).fit(data)
    standard, scaled = fits["standard"], fits["scaled"]
    for model in (standard, scaled):
        diagnostics = model.inference_info_["diagnostics"]
        assert diagnostics["divergences"] == 0
        assert diagnostics["rhat_max"] < 1.05
    ess = [fit.inference_info_["diagnostics"]["ess_bulk_min"] for fit in (standard, scaled)]
    assert 0.5 < ess[1] / ess[0] < 2.0
    # the posterior means agree within Monte Carlo error (4 combined standard errors),
    # computed on the scaled fit's draws mapped back to the standard units
    order = [np.argsort(fit.means_[:, 0]) for fit in (standard, scaled)]
    outer = np.outer(scale, scale)
    draws = {
        "means": (
            standard.result_.posterior.posterior["means"].values,
            (scaled.result_.posterior.posterior["means"].values - shift) / scale,
        ),
        "covariances": (
            standard.result_.posterior.posterior["covariances"].values,
            scaled.result_.posterior.posterior["covariances"].values / outer,
        ),
    }
    for name, (first, second) in draws.items():
        first, second = first[:, :, order[0]], second[:, :, order[1]]
        mcse = np.hypot(
            az.mcse(az.convert_to_dataset(first))["x"].values,
            az.mcse(az.convert_to_dataset(second))["x"].values,
        )
        difference = np.abs(first.mean(axis=(0, 1)) - second.mean(axis=(0, 1)))
        assert np.all(difference < 4 * mcse), name


# ------------------------------------------------------------- a far outlier (issue 15.6)
def test_one_far_outlier_does_not_inflate_the_floor() -> None:
    """Issue 15.6: one outlier 1e6 away made the main component's variances 999 instead
    of 1 (the floor scaled with the outlier-inflated variance; lower bound -8.75 against
    scikit-learn's -2.83). The floor follows a robust spread, and at least what the
    one-pass scatter resolves at the outlier's distance (16 ulps of its square)."""
    rng = np.random.default_rng(0)
    main = rng.normal(size=(1000, 2))
    values = np.r_[main, [[1e6, 1e6]]]
    with pytest.warns(DegenerateComponentWarning, match=r"weight 0\.000999\) .*fewer distinct"):
        model = GaussianMixture(2, random_state=0).fit(values)
    # the floor, computed independently: 1e-6 of the squared robust spread, or the
    # resolution of the scatter at the outlier's distance from the mean
    q25, q75 = np.quantile(values, [0.25, 0.75], axis=0, method="inverted_cdf")
    spread = np.minimum(values.std(axis=0), (q75 - q25) / (2 * stats.norm.ppf(0.75)))
    reach = np.abs(values - values.mean(axis=0)).max(axis=0)
    floor = np.maximum(1e-6 * spread**2, 16 * np.finfo(np.float64).eps * reach**2)
    big = int(np.argmax(model.weights_))
    expected = np.cov(main.T, bias=True) + np.diag(floor)
    np.testing.assert_allclose(model.covariances_[big], expected, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(model.means_[1 - big], [1e6, 1e6], rtol=1e-12)
    # lower_bound_ comes from the engine's E-step, whose quadratic form, expanded about
    # the data's mean, cancels at the outlier; score(X) works about each component's mean
    bound = rounding_bounds(values, model, unit_roundoff=FLOAT64_UNIT)["lower_bound_"]
    assert abs(model.lower_bound_ - model.score(values)) <= bound
