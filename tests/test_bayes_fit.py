"""Fitting the Bayesian mixture: posterior recovery, label switching, ADVI, MAP, ArviZ, I/O.

Small by design (2 chains, a few hundred draws, N = 200) and shared through
module-scoped fixtures. The data are simulated from known parameters and then moved
so that each cluster's sample mean and covariance (divisor n) equal the true ones
exactly; the clusters are six standard deviations apart, so the posterior centres on
the truth up to the weak prior (whose pull is of order 1/n, a tenth of a posterior
sd at n = 100). Its standard deviations are then those of the large-sample theory
(Bernstein-von Mises): ``sqrt(Σ_jj / n_k)`` for a mean, ``sqrt(w (1 - w) / N)`` for a
weight, ``sqrt((Σ_ij² + Σ_ii Σ_jj) / n)`` for a covariance entry (Wishart), with n the
rows that inform it. A posterior mean then misses the truth by the prior's pull (for
a covariance about (D + 1) / sqrt(2 n) = 0.2 sd) plus Monte Carlo error (sd / sqrt(ESS),
under 0.1 sd with a few hundred effective draws): the tests allow one sd. The
samplers' own sds must lie within 25 % of the asymptotic ones (Monte Carlo error of an
sd, 1 / sqrt(2 ESS) = 5 %, three times over, and the 1/n corrections of small samples).
"""

import warnings

import arviz as az
import numpy as np
import pytest
from scipy import stats

from bayesgmm import BayesianGaussianMixture, GaussianMixture, load
from bayesgmm.bayes import (
    SamplerWarning,
    Standardisation,
    build_model,
    relabel,
    run_inference,
    start_values,
)

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
TRUE_MEANS = np.array([[-3.0, 10.0], [3.0, 20.0]])
N_PER = 100
SMALL = {"draws": 300, "tune": 300, "chains": 2, "cores": 1}
PYMC = {**SMALL, "nuts_sampler": "pymc"}


def _true_covariances(covariance_type):
    full = np.array([[1.0, 1.2], [1.2, 4.0]])
    return {
        "full": np.stack([full, np.array([[0.5, -0.4], [-0.4, 2.0]])]),
        "tied": np.stack([full, full]),
        "diag": np.stack([np.diag([1.0, 4.0]), np.diag([0.5, 2.0])]),
        "spherical": np.stack([np.eye(2), 2.0 * np.eye(2)]),
    }[covariance_type]


def _simulate(covariance_type, n_per=N_PER, seed=0):
    rng = np.random.default_rng(seed)
    blocks = []
    for mean, cov in zip(TRUE_MEANS, _true_covariances(covariance_type), strict=True):
        block = rng.standard_normal((n_per, 2))
        block -= block.mean(axis=0)
        white = np.linalg.cholesky(np.cov(block.T, bias=True))
        block = np.linalg.solve(white, block.T).T  # sample covariance = identity
        blocks.append(mean + block @ np.linalg.cholesky(cov).T)  # sample moments = truth
    return np.concatenate(blocks)


def _asymptotic_sd(covariance_type, n_per=N_PER):
    """Large-sample posterior sds of the weights, means and full covariance matrices."""
    cov = _true_covariances(covariance_type)
    variance = np.diagonal(cov, axis1=-2, axis2=-1)
    n_total = 2 * n_per
    n_cov = {"full": n_per, "tied": n_total, "diag": n_per, "spherical": 2 * n_per}
    cov_sd = np.sqrt(
        (cov**2 + variance[:, :, None] * variance[:, None, :]) / n_cov[covariance_type]
    )
    if covariance_type in ("diag", "spherical"):
        cov_sd = cov_sd * np.eye(2)  # off-diagonal entries are zero in every draw
    return {
        "weights": np.full(2, np.sqrt(0.25 / n_total)),
        "means": np.sqrt(variance / n_per),
        "covariances": cov_sd,
    }


def _fit(covariance_type, **params):
    X = _simulate(covariance_type)
    options = {**SMALL, **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SamplerWarning)  # ESS < 400 with 600 draws is expected
        bgmm = BayesianGaussianMixture(
            2, covariance_type=covariance_type, random_state=0, **options
        ).fit(X)
    return X, bgmm


def _posterior(bgmm):
    """Posterior means and sds over the draws, components ordered by their first mean."""
    draws = bgmm.result_.draws()
    draws = draws.isel(component=np.argsort(bgmm.means_[:, 0]))
    return draws.mean(("chain", "draw")), draws.std(("chain", "draw"))


def _assert_recovers_the_truth(bgmm, covariance_type, *, n_sd=1.0, check_sd=True):
    """Weights, means and full covariances within ``n_sd`` asymptotic sds of the truth;
    the posterior's own sds (when ``check_sd``) within 25 % of the asymptotic ones."""
    mean, sd = _posterior(bgmm)
    truth = {
        "weights": np.full(2, 0.5),
        "means": TRUE_MEANS,
        "covariances": _true_covariances(covariance_type),
    }
    expected_sd = _asymptotic_sd(covariance_type)
    for name, value in truth.items():
        error = np.abs(mean[name].values - value)
        assert np.all(error <= n_sd * expected_sd[name] + 1e-12), (name, error / expected_sd[name])
        if check_sd:
            informed = expected_sd[name] > 0
            ratio = sd[name].values[informed] / expected_sd[name][informed]
            assert np.all((0.75 < ratio) & (ratio < 1.33)), (name, ratio)


@pytest.fixture(scope="module")
def fits():
    return {}


def _cached_fit(fits, covariance_type):
    if covariance_type not in fits:
        fits[covariance_type] = _fit(covariance_type)
    return fits[covariance_type]


def _order(means):
    return np.argsort(means[:, 0])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_hdi_of_every_mean_covers_the_truth(fits, covariance_type):
    X, bgmm = _cached_fit(fits, covariance_type)
    order = _order(bgmm.means_)
    hdi = az.hdi(bgmm.result_.posterior, var_names=["means"], hdi_prob=0.94)["means"].values
    hdi = hdi[order]  # (component, feature, lower/higher)
    assert np.all(hdi[..., 0] <= TRUE_MEANS) and np.all(TRUE_MEANS <= hdi[..., 1]), hdi
    # point estimates are posterior means in data units, shaped as scikit-learn's
    post = bgmm.result_.posterior.posterior
    np.testing.assert_allclose(bgmm.means_, post["means"].mean(("chain", "draw")).values)
    em_shape = GaussianMixture(2, covariance_type=covariance_type).fit(X).covariances_.shape
    assert bgmm.covariances_.shape == em_shape
    assert bgmm.inference_info_["diagnostics"]["divergences"] == 0
    assert set(bgmm.result_.posterior.groups()) >= {
        "posterior",
        "log_likelihood",
        "sample_stats",
        "observed_data",
        "constant_data",
    }


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_default_sampler_recovers_weights_means_and_covariances(fits, covariance_type):
    """The README's promise, in the default run: nutpie (the default sampler) puts the
    weights, means and covariances within one posterior sd of the truth, with the sds
    that large-sample theory gives (module docstring)."""
    X, bgmm = _cached_fit(fits, covariance_type)
    assert bgmm.inference_info_["sampler"] == "nutpie"
    _assert_recovers_the_truth(bgmm, covariance_type)


def test_chains_started_at_permuted_labels_are_relabelled():
    """Two chains, one started with the components swapped: R-hat is large before
    relabelling and at most 1.05 after it."""
    covariance_type = "diag"
    X = _simulate(covariance_type)
    em = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    model = build_model(X, 2, covariance_type)
    standard = Standardisation.from_data(X, covariance_type)
    start = start_values(em.weights_, em.means_, em.covariances_, covariance_type, standard)
    swapped = {name: value[::-1].copy() for name, value in start.items()}
    idata, _ = run_inference(
        model,
        starts=[start, swapped],
        draws=300,
        tune=300,
        chains=2,
        cores=1,
        nuts_sampler="pymc",
        rng=np.random.default_rng(1),
    )
    before = float(az.rhat(idata, var_names=["means"])["means"].max())
    fixed, info = relabel(idata, covariance_type, (em.means_, em.covariances_))
    names = ["means", "weights", "covariances"]  # covariances differ between the components
    after = float(az.rhat(fixed, var_names=names).to_array().max())
    assert before > 1.5
    assert after <= 1.05
    assert info["n_permuted"] == 300  # exactly the swapped chain's draws


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_advi_recovers_every_part(covariance_type):
    """Mean-field ADVI: converged, the truth within one asymptotic sd (module docstring).
    Its sds are at most the posterior's (a mean-field optimum matches the conditional
    precisions, 1/sqrt(H_jj) <= the marginal sd) and not below half of them here, where
    the components are far apart and their parameters nearly uncorrelated."""
    X, bgmm = _fit(covariance_type, method="advi", draws=250)
    assert bgmm.converged_, bgmm.inference_info_
    _assert_recovers_the_truth(bgmm, covariance_type, check_sd=False)
    _, sd = _posterior(bgmm)
    expected_sd = _asymptotic_sd(covariance_type)
    for name in ("weights", "means", "covariances"):
        informed = expected_sd[name] > 0
        ratio = sd[name].values[informed] / expected_sd[name][informed]
        assert np.all((0.5 < ratio) & (ratio < 1.33)), (name, ratio)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fullrank_advi_recovers_every_part(covariance_type):
    X, bgmm = _fit(covariance_type, method="fullrank_advi", draws=300)
    assert bgmm.converged_, bgmm.inference_info_
    _assert_recovers_the_truth(bgmm, covariance_type)


def test_advi_recovers_the_means():
    """ADVI from the EM start meets its convergence criterion and puts every mean
    within 0.15 (data units; cluster sds 0.7 to 2, 100 points each) of the truth, and
    the weights and covariances within one posterior sd (mean-field: its own sds are
    not checked)."""
    X, bgmm = _fit("diag", method="advi", draws=250)
    assert bgmm.converged_, bgmm.inference_info_
    np.testing.assert_allclose(bgmm.means_[_order(bgmm.means_)], TRUE_MEANS, atol=0.15)
    assert bgmm.result_.posterior.posterior.sizes["draw"] == 500
    _assert_recovers_the_truth(bgmm, "diag", check_sd=False)


def test_fullrank_advi_recovers_the_posterior():
    """Full-rank ADVI through the estimator: converged, the truth within one posterior
    sd and the approximation's sds those of the posterior (module docstring)."""
    X, bgmm = _fit("full", method="fullrank_advi", draws=300)
    assert bgmm.converged_ and bgmm.inference_info_["method"] == "fullrank_advi"
    assert bgmm.result_.posterior.posterior.sizes["draw"] == 600
    _assert_recovers_the_truth(bgmm, "full")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_map_recovers_the_truth(covariance_type):
    """MAP through the estimator: one draw, at the sample moments (the truth here) up to
    the prior's pull (about 0.2 sd, module docstring), inside half an asymptotic sd."""
    X, bgmm = _fit(covariance_type, method="map")
    assert bgmm.converged_ and bgmm.result_.posterior.posterior.sizes["draw"] == 1
    mean, _ = _posterior(bgmm)
    expected_sd = _asymptotic_sd(covariance_type)
    for name, value in (
        ("weights", np.full(2, 0.5)),
        ("means", TRUE_MEANS),
        ("covariances", _true_covariances(covariance_type)),
    ):
        error = np.abs(mean[name].values - value)
        assert np.all(error <= 0.5 * expected_sd[name] + 1e-12), (name, error / expected_sd[name])
    np.testing.assert_allclose(bgmm.lower_bound_, bgmm.score(X), rtol=1e-12)


def test_arviz_works_without_glue(fits, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    X, bgmm = _cached_fit(fits, "full")
    idata = bgmm.result_.posterior
    summary = az.summary(idata, var_names=["weights", "means"])
    assert summary.loc["means[0, x0]", "r_hat"] < 1.05
    axes = az.plot_trace(idata, var_names=["weights"])
    assert axes.shape == (1, 2)
    loo = az.loo(idata)
    # p_loo is close to the number of free parameters (1 + 4 + 6 = 11)
    assert 6 < loo.p_loo < 16
    assert np.isfinite(loo.elpd_loo)
    # the stored pointwise log-likelihood is in data units: it averages to the
    # log predictive density that score_samples reports
    log_lik = idata.log_likelihood["x"].values.reshape(-1, len(X))
    lppd = np.log(np.exp(log_lik).mean(axis=0))
    np.testing.assert_allclose(lppd, bgmm.score_samples(X), rtol=1e-8)
    assert bgmm.raw_posterior().posterior.sizes == idata.posterior.sizes


def test_fitted_bayesian_result_saves_and_loads(fits, tmp_path):
    X, bgmm = _cached_fit(fits, "full")
    path = tmp_path / "bgmm.nc"
    bgmm.result_.save(path)
    back = load(path)
    for group in bgmm.result_.posterior.groups():
        assert back.posterior[group].identical(bgmm.result_.posterior[group]), group
    np.testing.assert_array_equal(back.log_prob(X).values, bgmm.result_.log_prob(X).values)
    np.testing.assert_array_equal(back.means.values, bgmm.means_)


def test_estimator_api_matches_gaussian_mixture(fits):
    X, bgmm = _cached_fit(fits, "full")
    proba = bgmm.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    labels = bgmm.predict(X)
    truth = np.repeat([0, 1], 100)
    agreement = max(np.mean(labels == truth), np.mean(labels != truth))
    assert agreement > 0.98
    sample, sample_labels = bgmm.sample(50)
    assert sample.shape == (50, 2) and sample_labels.shape == (50,)
    assert np.isfinite(bgmm.score(X)) and bgmm.lower_bound_ == pytest.approx(bgmm.score(X))


@pytest.mark.parametrize("nuts_sampler", ["pymc", "nutpie"])
def test_random_state_reproduces_draws(nuts_sampler):
    _, first = _fit("spherical", draws=60, tune=60, nuts_sampler=nuts_sampler)
    _, second = _fit("spherical", draws=60, tune=60, nuts_sampler=nuts_sampler)
    np.testing.assert_array_equal(
        first.result_.posterior.posterior["means"].values,
        second.result_.posterior.posterior["means"].values,
    )


@pytest.mark.slow
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_nutpie_recovers_the_truth(covariance_type):
    X, bgmm = _fit(covariance_type, nuts_sampler="nutpie", draws=500, tune=500)
    assert bgmm.inference_info_["sampler"] == "nutpie"
    hdi = az.hdi(bgmm.result_.posterior, var_names=["means"])["means"].values
    hdi = hdi[_order(bgmm.means_)]
    assert np.all(hdi[..., 0] <= TRUE_MEANS) and np.all(TRUE_MEANS <= hdi[..., 1])
    _assert_recovers_the_truth(bgmm, covariance_type)


@pytest.mark.slow
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_pymc_sampler_recovers_the_truth(covariance_type):
    """PyMC's own NUTS on the PyMC model (no numba log posterior) reaches the same."""
    X, bgmm = _fit(covariance_type, **PYMC)
    assert bgmm.inference_info_["sampler"] == "pymc"
    _assert_recovers_the_truth(bgmm, covariance_type)


@pytest.mark.slow
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_numpyro_sampler_recovers_the_truth(covariance_type):
    pytest.importorskip("numpyro")
    X, bgmm = _fit(covariance_type, **{**SMALL, "nuts_sampler": "numpyro"})
    assert bgmm.inference_info_["sampler"] == "numpyro"
    _assert_recovers_the_truth(bgmm, covariance_type)


# ---------------------------------------------------------------- posterior predictive


def test_posterior_predictive_group_feeds_plot_ppc_and_plot_loo_pit(fits):
    """Issue 20 item 1: the group is there (chain, draw, observation, feature, data
    units), az.plot_ppc and az.plot_loo_pit draw it, and the LOO-PIT of a well-specified
    model is uniform (Kolmogorov-Smirnov, per feature)."""
    import matplotlib

    from bayesgmm.bayes.loo import loo_pit_log_weights

    matplotlib.use("Agg")
    X, bgmm = _cached_fit(fits, "full")
    idata = bgmm.result_.posterior
    predictive = idata.posterior_predictive["x"]
    assert predictive.dims == ("chain", "draw", "observation", "feature")
    assert predictive.shape == (2, 300, len(X), 2)
    np.testing.assert_allclose(
        predictive.mean(("chain", "draw", "observation")), X.mean(0), atol=0.3
    )
    az.plot_ppc(idata, num_pp_samples=20)
    weights = loo_pit_log_weights(idata)
    az.plot_loo_pit(idata, y="x", log_weights=weights)
    pit = az.loo_pit(idata, y="x", log_weights=weights)
    for feature in range(2):
        assert stats.kstest(pit[:, feature], "uniform").pvalue > 1e-3


def test_pymcs_own_posterior_predictive_runs_on_the_fit(fits):
    """The documented way to extend the model: PyMC's forward sampling finds every
    variable in the posterior (none resampled from the prior) and draws data-unit rows
    from the same distribution as our own sampler."""
    import pymc as pm

    X, bgmm = _cached_fit(fits, "full")
    with bgmm.model_:
        theirs = pm.sample_posterior_predictive(
            bgmm.result_.posterior, random_seed=0, progressbar=False
        ).posterior_predictive["x"]
    ours = bgmm.result_.posterior.posterior_predictive["x"]
    assert theirs.dims == ours.dims and theirs.shape == ours.shape
    rows = [values.values.reshape(-1, 2) for values in (theirs, ours)]
    sd = rows[1].std(axis=0)
    # two samples of 120,000 rows (correlated only through the shared draws)
    np.testing.assert_array_less(np.abs(rows[0].mean(0) - rows[1].mean(0)), 0.05 * sd)
    np.testing.assert_allclose(rows[0].std(axis=0), sd, rtol=0.02)


def test_sample_posterior_predictive_adds_the_group_on_demand():
    X, bgmm = _fit("spherical", draws=40, tune=40, compute_posterior_predictive=False)
    assert "posterior_predictive" not in bgmm.result_.posterior.groups()
    group = bgmm.sample_posterior_predictive(random_state=1)
    assert bgmm.result_.posterior.posterior_predictive["x"].equals(group["x"])
    again = bgmm.sample_posterior_predictive(random_state=1)
    np.testing.assert_array_equal(again["x"], group["x"])


def test_bayesian_components_keep_their_em_starts_numbering(fits):
    """Issue 20 item 5: component k of the posterior is component k of the EM start (the
    user's GaussianMixture with the same random_state), not a renumbering of it."""
    from scipy.optimize import linear_sum_assignment

    from bayesgmm.bayes.relabel import kl_cost

    X, bgmm = _cached_fit(fits, "full")
    em = GaussianMixture(2, covariance_type="full", random_state=0).fit(X)
    np.testing.assert_array_equal(bgmm.em_.means_, em.means_)
    cost = kl_cost(bgmm.means_, bgmm.covariances_, em.means_, em.covariances_)
    rows, cols = linear_sum_assignment(cost)
    np.testing.assert_array_equal(cols, rows)


def test_mixture_loo_agrees_with_exact_loo_where_psis_fails():
    """An outlier makes PSIS-LOO unreliable (Pareto k > 0.7; here 0.7 nats too high).
    Mixture IS, from one more sampler run, estimates that row's log p(y_i | y_-i) as
    refitting without it does (8000 draws; the Monte Carlo error of each estimate of
    this tail density is about 0.1 nats over runs and seeds, hence 0.35), closer than
    PSIS; on the rows where PSIS is reliable (k < 0.5) the two agree to their Monte Carlo
    error (a few hundredths of a nat on average)."""
    from bayesgmm.bayes.loo import loo

    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(-3, 1, (60, 2)), rng.normal(3, 1, (60, 2)), [[0.0, 9.0]]])
    options = {"covariance_type": "full", "draws": 2000, "tune": 500, "cores": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = BayesianGaussianMixture(2, chains=2, random_state=0, **options).fit(X)
        result = loo(fit, random_state=0)  # "auto": k > 0.7 for the outlier
        exact = BayesianGaussianMixture(2, chains=4, random_state=0, **options)
        exact = exact.fit(X[:-1]).score_samples(X[-1:])[0]
    pointwise = result.pointwise
    outlier = pointwise.iloc[-1]
    assert outlier["pareto_k"] > 0.7 and result.mixture_info["divergences"] == 0
    assert abs(outlier["elpd_mixture"] - exact) < 0.35
    assert abs(outlier["elpd_mixture"] - exact) < abs(outlier["elpd_psis"] - exact)
    easy = pointwise["pareto_k"] < 0.5
    difference = pointwise["elpd_mixture"][easy] - pointwise["elpd_psis"][easy]
    assert difference.abs().mean() < 0.05
    table = result.table
    assert list(table.index) == ["psis", "mixture_is"]
    assert table.loc["mixture_is", "rows_k_above_0.7"] >= 1


# ---------------------------------------------------------------- environment, progress


@pytest.mark.parametrize("method", ["advi", "map"])
def test_fits_leave_the_thread_environment_as_they_found_it(monkeypatch, method):
    """Issue 15 item 14: OMP/OPENBLAS/MKL_NUM_THREADS were left at 1 after a fit."""
    import os

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    _fit("diag", method=method, draws=20)
    assert os.environ["OMP_NUM_THREADS"] == "3"
    assert "OPENBLAS_NUM_THREADS" not in os.environ and "MKL_NUM_THREADS" not in os.environ


def test_worker_thread_environment_is_restored_by_the_last_of_several_threads(monkeypatch):
    """Two threads hold the worker environment and leave in the opposite order of
    arrival: the variables stay at 1 while either holds them, and are restored after."""
    import os
    import threading

    from bayesgmm.bayes.samplers.base import worker_blas_threads

    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    first_in, second_in, first_may_leave = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():
        with worker_blas_threads():
            first_in.set()
            second_in.wait()
            first_may_leave.wait()
        seen.append(os.environ.get("OMP_NUM_THREADS"))  # the second still holds it

    def second():
        first_in.wait()
        with worker_blas_threads():
            second_in.set()
            first_may_leave.set()
            while len(seen) < 1:
                pass
        seen.append(os.environ.get("OMP_NUM_THREADS"))

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert seen == ["1", "4"]
    assert "MKL_NUM_THREADS" not in os.environ


def test_progress_bars_are_off_by_default_in_tests_and_on_when_asked(capsys):
    """progressbar=None resolves to "interactive session", which a test is not; True
    draws ADVI's bar of steps on stderr."""
    _fit("spherical", method="advi", draws=20)
    assert capsys.readouterr().err == ""
    _fit("spherical", method="advi", draws=20, progressbar=True)
    assert "advi" in capsys.readouterr().err
    with pytest.raises(TypeError, match="progressbar must be True, False or None"):
        _fit("spherical", method="map", progressbar="yes")
