"""Bootstrap of EM fits and the bootstrap likelihood-ratio test for K.

Checked against closed forms (the jackknife standard error of a mean, Sigma / n, the
normal-theory variance of a covariance estimate, the binomial variance of a weight),
against mclust 6.0.0 (jackknife standard errors and the LRT statistic on faithful,
numbers from Rscript), by simulation with known truth (interval coverage, the LRT's
size), and by properties (relabelling, the draws face read by risk).
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from bayes_fakes import fake_posterior_result

from bayesgmm import GaussianMixture, MixtureResult
from bayesgmm.bootstrap import (
    TOL_FRACTION,
    Bootstrap,
    LikelihoodRatioTest,
    align_replicates,
    bootstrap,
    bootstrap_lrt,
    replicate_tol,
    split_starts,
)
from bayesgmm.comparison import compare, component_order
from bayesgmm.datasets import load_faithful
from bayesgmm.exceptions import ConvergenceWarning, DegenerateComponentWarning, NotFittedError
from bayesgmm.risk import mixture_quantile, value_at_risk
from bayesgmm.threads import single_threaded_blas

pytestmark = pytest.mark.filterwarnings("ignore:Estimated shape parameter:UserWarning")

CORRELATED = np.array([[1.0, 0.6], [0.6, 2.0]])


@pytest.fixture(scope="module")
def one_component():
    rng = np.random.default_rng(11)
    X = rng.multivariate_normal([1.0, -2.0], CORRELATED, size=500)
    return X, GaussianMixture(1, random_state=0).fit(X)


@pytest.fixture(scope="module")
def faithful():
    X = load_faithful()
    return X, GaussianMixture(2, random_state=0).fit(X)


def _relative_sd_of_an_sd(n_boot):
    """Monte Carlo relative sd of a standard deviation estimated from ``n_boot`` normal
    replicates: 1 / sqrt(2 (B - 1))."""
    return 1.0 / np.sqrt(2.0 * (n_boot - 1))


# ---------------------------------------------------------------------- closed forms
def test_jackknife_standard_error_of_a_mean_is_s_over_root_n(one_component):
    """The jackknife SE of a mean is exactly s / sqrt(n) (s with divisor n - 1); a
    one-component fit's mean is the sample mean, reached in one M-step."""
    X, fit = one_component
    boot = bootstrap(fit, X, kind="jackknife")
    assert boot.n_boot == len(X)
    expected = X.std(axis=0, ddof=1) / np.sqrt(len(X))
    np.testing.assert_allclose(boot.standard_errors()["means"].values[0], expected, rtol=1e-6)
    np.testing.assert_array_equal(boot.replicates["replicate"].values, np.arange(len(X)))


@pytest.mark.parametrize(
    ("kind", "divisor"),
    # Var* of the mean: Sigma_ML / n for resampled rows and for rows drawn from the fit;
    # Sigma_ML / (n + 1) for Dirichlet(1, ..., 1) weights (the weighted bootstrap)
    [("nonparametric", 0), ("parametric", 0), ("weighted", 1)],
)
def test_mean_standard_errors_are_sigma_over_n(one_component, kind, divisor):
    X, fit = one_component
    n_boot = 1000
    boot = bootstrap(fit, X, kind=kind, n_boot=n_boot, random_state=1)
    expected = np.sqrt(np.diag(fit.covariances_[0]) / (len(X) + divisor))
    tolerance = 4 * _relative_sd_of_an_sd(n_boot)  # 4 Monte Carlo sds, 9 %
    np.testing.assert_allclose(boot.standard_errors()["means"].values[0], expected, rtol=tolerance)


def test_parametric_covariance_standard_errors_follow_normal_theory(one_component):
    """Under normal data the ML covariance has Var(S_ij) = (n - 1)(s_ij^2 + s_ii s_jj) / n^2."""
    X, fit = one_component
    n, n_boot = len(X), 1000
    boot = bootstrap(fit, X, kind="parametric", n_boot=n_boot, random_state=2)
    sigma = fit.covariances_[0]
    expected = np.sqrt((n - 1) * (sigma**2 + np.outer(np.diag(sigma), np.diag(sigma))) / n**2)
    se = boot.standard_errors()["covariances"].values[0]
    np.testing.assert_allclose(se, expected, rtol=4 * _relative_sd_of_an_sd(n_boot))


def test_weight_standard_error_of_separated_components_is_binomial():
    """Components 20 sds apart: the resampled weight is the share of resampled rows in the
    component, so its variance is w (1 - w) / n exactly."""
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(0, 1, (120, 1)), rng.normal(20, 1, (280, 1))])
    fit = GaussianMixture(2, random_state=0).fit(X)
    n_boot = 1000
    boot = bootstrap(fit, X, n_boot=n_boot, random_state=3)
    w = fit.weights_
    np.testing.assert_allclose(
        boot.standard_errors()["weights"].values,
        np.sqrt(w * (1 - w) / len(X)),
        rtol=4 * _relative_sd_of_an_sd(n_boot),
    )


# ---------------------------------------------------------------------- mclust
#: mclust 6.0.0: MclustBootstrap(Mclust(faithful, G=2, modelNames="VVV"), type="jk") with
#: emControl(tol=c(1e-12, sqrt(.Machine$double.eps))), summary(what="se"); mclust's
#: component 1 is our component 1 (waiting near 80).
MCLUST_JACKKNIFE_SE = {
    "weights": [0.02919107465, 0.02919107465],
    "means": [[0.02888774738, 0.60171554700], [0.03206109752, 0.46249147378]],
    "covariances": [
        [[0.01433747201, 0.1702108182], [0.1702108182, 4.3949105348]],
        [[0.01905985493, 0.2555892125], [0.2555892125, 4.1493449637]],
    ],
}


def test_jackknife_standard_errors_match_mclust(faithful):
    X, fit = faithful
    boot = bootstrap(fit, X, kind="jackknife")
    se = boot.standard_errors()
    order = np.argsort(fit.means_[:, 1])  # ours by waiting time, as mclust's list is
    # each replicate stops with at most sqrt(TOL_FRACTION) = 1 % of its way to go
    for name, expected in MCLUST_JACKKNIFE_SE.items():
        np.testing.assert_allclose(
            se[name].values[order], expected, rtol=np.sqrt(TOL_FRACTION), err_msg=name
        )


@pytest.mark.filterwarnings("ignore::bayesgmm.exceptions.ConvergenceWarning")
def test_lrt_statistic_matches_mclust(faithful):
    """mclustBootstrapLRT(faithful, "VVV"): obs = 319.065353532 for 1 against 2. Both fits
    reach the same optima; reg_covar="auto" moves each log-likelihood by about
    n D 1e-6 (5e-4), so the statistic agrees to 2e-3."""
    X, fit = faithful
    null = GaussianMixture(1, random_state=0).fit(X)
    test = bootstrap_lrt(null, X, alternative=fit, n_boot=19, random_state=0)
    assert test.statistic == pytest.approx(319.065353532, abs=2e-3)
    assert test.p_value == pytest.approx(1 / 20)  # no replicate comes near 319


# ---------------------------------------------------------------------- relabelling
def test_align_replicates_puts_permuted_components_back_covariances_included():
    """Components with equal means differ only in covariance: the match must use them."""
    fit = MixtureResult(
        weights=np.array([0.2, 0.3, 0.5]),
        means=np.array([[0.0, 0.0], [0.0, 0.0], [6.0, 0.0]]),
        covariances=np.array([[[1.0, 0.0], [0.0, 1.0]], [[9.0, 2.0], [2.0, 4.0]], np.eye(2)]),
        covariance_type="full",
    )
    rng = np.random.default_rng(0)
    weights = fit.weights.values + 0.01 * rng.standard_normal((6, 3))
    means = fit.means.values + 0.05 * rng.standard_normal((6, 3, 2))
    covariances = fit.covariances.values * (1 + 0.05 * rng.random((6, 3, 1, 1)))
    permutations = np.array([[0, 1, 2], [1, 0, 2], [2, 0, 1], [0, 2, 1], [1, 2, 0], [2, 1, 0]])
    permuted = [
        np.take_along_axis(a, permutations.reshape(6, 3, *(1,) * (a.ndim - 2)), 1)
        for a in (weights, means, covariances)
    ]
    back_w, back_m, back_c, order = align_replicates(fit, *permuted)
    np.testing.assert_array_equal(back_w, weights)
    np.testing.assert_array_equal(back_m, means)
    np.testing.assert_array_equal(back_c, covariances)
    np.testing.assert_array_equal(
        np.take_along_axis(permutations, order, 1), np.tile([0, 1, 2], (6, 1))
    )


def test_component_order_is_match_components_for_one_fit(faithful):
    X, fit = faithful
    other = GaussianMixture(2, means_init=fit.means_[::-1], n_init=1).fit(X)
    expected = component_order(fit.means_, fit.covariances_, other.means_, other.covariances_)
    from bayesgmm.comparison import match_components

    np.testing.assert_array_equal(match_components(fit, other), expected)
    np.testing.assert_array_equal(expected, [1, 0])


def test_replicates_follow_the_fits_numbering(faithful):
    """The fit with its components the other way round gives the same replicates, the
    other way round."""
    X, fit = faithful
    a = bootstrap(fit, X, n_boot=30, random_state=4)
    b = bootstrap(_reversed(fit, X), X, n_boot=30, random_state=4)
    assert not b.replicates["relabelled"].values.any()
    for name in ("weights", "means", "covariances"):
        np.testing.assert_allclose(
            b.replicates[name].values, a.replicates[name].values[:, ::-1], rtol=1e-6
        )


def _reversed(fit, X, **settings):
    """``fit`` with its components the other way round (max_iter=0 keeps the initial
    values; a t fit's dof start at DOF_START, as every replicate's do)."""
    reversed_fit = GaussianMixture(
        len(fit.weights_),
        weights_init=fit.weights_[::-1],
        means_init=fit.means_[::-1],
        precisions_init=fit.precisions_[::-1],
        max_iter=0,
        **settings,
    ).fit(X)
    return reversed_fit.set_params(max_iter=fit.max_iter)  # replicates iterate as fit's do


@pytest.fixture(scope="module")
def heavy_and_light_tails():
    """1-D: t with 3 dof at 0 (60 %), t with 8 dof at 15 (40 %)."""
    rng = np.random.default_rng(14)
    X = np.concatenate([rng.standard_t(3, (240, 1)), 15 + rng.standard_t(8, (160, 1))])
    return X, GaussianMixture(2, family="t", random_state=0).fit(X)


@pytest.mark.filterwarnings("ignore::bayesgmm.exceptions.ConvergenceWarning")
def test_student_t_replicates_carry_their_dof_with_their_components(heavy_and_light_tails):
    """Each replicate's dof is renumbered with its components: the reversed fit gives
    the same replicates reversed, dof included; the draws and the result face carry
    them to the tools (VaR of a t mixture)."""
    X, fit = heavy_and_light_tails
    a = bootstrap(fit, X, n_boot=20, random_state=5)
    b = bootstrap(_reversed(fit, X, family="t"), X, n_boot=20, random_state=5)
    for name in ("weights", "means", "covariances", "dof"):
        np.testing.assert_allclose(
            b.replicates[name].values, a.replicates[name].values[:, ::-1], rtol=1e-6
        )
    assert a.replicates["dof"].dims == ("replicate", "component")
    heavy = np.argmax(fit.weights_)  # dof 3; the light component's 8 (often much more)
    median = np.median(a.replicates["dof"].values, axis=0)
    assert median[heavy] < 5 < median[1 - heavy]
    se = a.standard_errors()["dof"].values
    assert np.all(se > 0) and np.all(np.isfinite(se))
    table = a.summary()
    dof_rows = table[table["parameter"] == "dof"]
    np.testing.assert_allclose(dof_rows["estimate"], fit.dof_)
    np.testing.assert_allclose(dof_rows["se"], se)
    result = a.as_result()
    assert result.family == "t"
    np.testing.assert_array_equal(result.draws()["dof"].values[0], a.replicates["dof"].values)
    per_replicate = value_at_risk(result, 0.01, ci_prob=0.9).draws
    assert np.unique(per_replicate).size == a.n_boot


# ---------------------------------------------------------------------- coverage
def _coverage(kind, n_datasets, n_boot, n_rows, seed, ci_prob=0.9):
    """Share of true parameters inside their ``ci_prob`` intervals, and its Monte Carlo
    standard error (from the spread of the per-data-set shares, so it accounts for
    parameters of one data set being covered together)."""
    weights = np.array([0.4, 0.6])
    means = np.array([[0.0, 0.0], [4.0, 3.0]])
    covariances = np.array([[[1.0, 0.3], [0.3, 0.8]], [[1.5, -0.4], [-0.4, 1.0]]])
    rows, cols = np.triu_indices(2)
    rng = np.random.default_rng(seed)
    shares = []
    for m in range(n_datasets):
        first = rng.random(n_rows) < weights[0]
        draws = [rng.multivariate_normal(means[k], covariances[k], n_rows) for k in (0, 1)]
        X = np.where(first[:, None], draws[0], draws[1])
        with single_threaded_blas():  # the default fit's starts read the thread count once
            fit = GaussianMixture(2, random_state=m).fit(X)
        order = component_order(fit.means_, fit.covariances_, means, covariances)
        truth = {
            "weights": weights[order],
            "means": means[order],
            "covariances": covariances[order],
        }
        bounds = bootstrap(fit, X, kind=kind, n_boot=n_boot, random_state=m).intervals(ci_prob)
        inside = []
        for name, value in truth.items():
            low, high = (bounds[name].sel(bound=b).values for b in ("lower", "upper"))
            hit = (low <= value) & (value <= high)
            inside.append((hit[:, rows, cols] if name == "covariances" else hit).ravel())
        shares.append(np.concatenate(inside).mean())
    shares = np.asarray(shares)
    return shares.mean(), shares.std(ddof=1) / np.sqrt(n_datasets)


def test_90_percent_intervals_cover_the_truth():
    """40 data sets of 500 rows x 49 replicates: the 12 parameters' 90 % intervals cover
    the truth 85-95 % of the time. The simulation's own standard error (the per-data-set
    shares vary by about 0.1, so about 0.015) is below half the band's half-width: a
    method whose coverage is off by 5 points or more fails at 2.5 of its sds. The slow
    version below has 200 data sets x 199 replicates (standard error about 0.009)."""
    coverage, se = _coverage("nonparametric", n_datasets=40, n_boot=49, n_rows=500, seed=5)
    assert se < 0.05 / 2
    assert 0.85 <= coverage <= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["nonparametric", "weighted", "parametric"])
def test_90_percent_intervals_cover_the_truth_for_every_kind(kind):
    coverage, se = _coverage(kind, n_datasets=200, n_boot=199, n_rows=500, seed=6)
    assert se < 0.05 / 4
    assert 0.85 <= coverage <= 0.95


# ---------------------------------------------------------------------- the LRT
def _rejection_rate(n_datasets, n_boot, n_rows, seed, level):
    """Share of data sets from one Gaussian whose 1-vs-2 test rejects at ``level``."""
    rng = np.random.default_rng(seed)
    p_values = []
    for m in range(n_datasets):
        X = rng.normal(size=(n_rows, 1))
        fit = GaussianMixture(1, random_state=m).fit(X)
        with warnings.catch_warnings(), single_threaded_blas():
            # refits of null data crawl, or collapse a component
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", DegenerateComponentWarning)
            p_values.append(bootstrap_lrt(fit, X, n_boot=n_boot, random_state=m).p_value)
    return np.mean(np.asarray(p_values) <= level), np.asarray(p_values)


def test_lrt_size_at_a_coarse_level():
    """40 data sets from one Gaussian, 19 replicates each. For a test of exact size the
    p-values are uniform on {1/20, ..., 1}: P(p <= 0.25) = 0.25 (Monte Carlo sd
    sqrt(0.25 * 0.75 / 40) = 0.068) and their mean is 21/40 (sd sqrt(399 / 4800 / 40) =
    0.046); both within 3 sds. Warm-started refits alone (replicate statistics too
    small) give p-values near 1/20 and fail both. The slow test below checks 5 % and 10 %."""
    rate, p_values = _rejection_rate(n_datasets=40, n_boot=19, n_rows=100, seed=8, level=0.25)
    assert abs(rate - 0.25) <= 3 * np.sqrt(0.25 * 0.75 / 40)
    assert abs(p_values.mean() - 21 / 40) <= 3 * np.sqrt(399 / 4800 / 40)
    assert np.all(np.isin(np.round(p_values * 20), np.arange(1, 21)))


@pytest.mark.slow
def test_lrt_size_at_the_nominal_levels():
    """300 data sets x 99 replicates: rejection at 5 % and 10 % within 3 Monte Carlo sds."""
    for level in (0.05, 0.10):
        rate, _ = _rejection_rate(n_datasets=300, n_boot=99, n_rows=200, seed=9, level=level)
        assert abs(rate - level) <= 3 * np.sqrt(level * (1 - level) / 300), level


@pytest.mark.filterwarnings("ignore::bayesgmm.exceptions.ConvergenceWarning")
def test_lrt_rejects_one_component_for_two_clear_ones():
    rng = np.random.default_rng(10)
    X = np.concatenate([rng.normal(-3, 1, (150, 2)), rng.normal(3, 1, (150, 2))])
    test = bootstrap_lrt(GaussianMixture(1, random_state=0).fit(X), X, n_boot=39, random_state=0)
    assert isinstance(test, LikelihoodRatioTest)
    assert test.p_value == pytest.approx(1 / 40)
    assert test.statistic > test.replicates.max()
    assert test.alternative_fit.n_components == 2
    assert "1 vs 2 components" in repr(test)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "EEV"])
def test_split_starts_halve_a_component_along_its_major_axis(faithful, covariance_type):
    X, _ = faithful
    fit = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    starts = split_starts(fit)
    assert len(starts) == 2
    full = fit.result_.covariances.values
    for k, (weights, means, precisions) in enumerate(starts):
        assert weights.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(weights[[k, k + 1]], fit.weights_[k] / 2)
        values, vectors = np.linalg.eigh(full[k])
        shift = (means[k + 1] - means[k]) / 2
        np.testing.assert_allclose(np.abs(shift @ vectors[:, -1]), np.sqrt(values[-1]))
        np.testing.assert_allclose((means[k + 1] + means[k]) / 2, fit.means_[k])
        # a valid precisions_init for 3 components of this type
        GaussianMixture(
            3,
            covariance_type=covariance_type,
            weights_init=weights,
            means_init=means,
            precisions_init=precisions,
            max_iter=0,
        ).fit(X)


# ---------------------------------------------------------------------- the result object
def test_intervals_and_summary(faithful):
    X, fit = faithful
    boot = bootstrap(fit, X, n_boot=200, random_state=0)
    assert isinstance(boot, Bootstrap)
    bounds = boot.intervals(0.8)
    assert bounds["means"].dims == ("bound", "component", "feature")
    assert bounds.attrs == {"ci_prob": 0.8, "method": "percentile", "kind": "nonparametric"}
    replicates = boot.replicates["means"].values
    # the (B + 1) 0.9 = 180.9-th of the 200 sorted replicates
    ranked = np.sort(replicates, axis=0)
    np.testing.assert_allclose(
        bounds["means"].sel(bound="upper").values, ranked[179] + 0.9 * (ranked[180] - ranked[179])
    )
    normal = boot.intervals(0.8, method="normal")
    z = 1.2815515655446004  # the normal's 0.9 quantile
    se = boot.standard_errors()["weights"].values
    np.testing.assert_allclose(
        normal["weights"].sel(bound="lower").values, fit.weights_ - z * se, rtol=1e-12
    )
    table = boot.summary(0.8)
    assert list(table.columns) == [
        "parameter",
        "component",
        "feature",
        "feature_bis",
        "estimate",
        "se",
        "lower",
        "upper",
    ]
    assert len(table) == 2 * (1 + 2 + 3)
    assert (table["lower"] <= table["upper"]).all()
    row = table[(table["parameter"] == "means") & (table["feature"] == "waiting")].iloc[0]
    assert row["estimate"] == pytest.approx(fit.means_[0, 1])
    assert "200 replicates" in repr(boot)


def test_replicate_flags_and_tolerance(faithful):
    X, fit = faithful
    boot = bootstrap(fit, X, n_boot=20, random_state=0)
    flags = boot.replicates.coords
    assert flags["converged"].values.all() and not flags["degenerate"].values.any()
    assert flags["relabelled"].dtype == bool
    assert (flags["n_iter"].values >= 1).all()
    assert boot.tol == replicate_tol(
        fit.result_.n_parameters, len(X), "nonparametric", fit.lower_bound_, fit.tol
    )
    assert bootstrap(fit, X, n_boot=5, tol=1e-9, random_state=0).tol == 1e-9


def test_replicate_tol_leaves_one_percent_of_a_replicates_way():
    # gain p / (2 n): 11 parameters, 272 rows; the jackknife's is n times smaller
    assert replicate_tol(11, 272, "nonparametric", -4.0, 1.0) == pytest.approx(1e-4 * 11 / 544)
    assert replicate_tol(11, 272, "jackknife", -4.0, 1.0) == pytest.approx(1e-4 * 11 / 544 / 272)
    assert replicate_tol(11, 272, "nonparametric", -4.0, 1e-9) == 1e-9  # never above the fit's
    assert replicate_tol(11, 1e12, "jackknife", -4.0, 1.0) == pytest.approx(5e-12)  # rounding


def test_draws_and_as_result_are_read_by_risk():
    rng = np.random.default_rng(12)
    returns = pd.DataFrame({"r": np.concatenate([rng.normal(0.1, 1, 400), rng.normal(-1, 3, 100)])})
    fit = GaussianMixture(2, random_state=0).fit(returns)
    boot = bootstrap(fit, returns, n_boot=50, random_state=1)
    draws = boot.draws()
    assert draws["covariances"].dims == ("chain", "draw", "component", "feature", "feature_bis")
    assert draws.sizes["chain"] == 1 and draws.sizes["draw"] == 50
    result = boot.as_result()
    assert result.method == "bootstrap_nonparametric"
    np.testing.assert_allclose(result.means.values, fit.means_)
    estimate = value_at_risk(result, 0.01, ci_prob=0.9)
    weights = draws["weights"].values[0]
    sds = np.sqrt(draws["covariances"].values[0, :, :, 0, 0])
    per_replicate = -mixture_quantile(0.01, weights, draws["means"].values[0, :, :, 0], sds)
    np.testing.assert_allclose(estimate.draws, per_replicate, rtol=1e-8)
    np.testing.assert_allclose(
        [estimate.lower, estimate.upper], np.quantile(per_replicate, [0.05, 0.95]), rtol=1e-8
    )


@pytest.mark.parametrize("covariance_type", ["tied", "diag", "spherical", "VEV"])
def test_every_covariance_type_gives_full_matrices(covariance_type, faithful):
    X, _ = faithful
    fit = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    boot = bootstrap(fit, X, n_boot=10, random_state=0)
    assert boot.replicates["covariances"].shape == (10, 2, 2, 2)
    native = boot.as_result().draws()["covariances"].values
    np.testing.assert_allclose(native[0], boot.replicates["covariances"].values)


def test_a_weighted_fit_is_bootstrapped_with_its_weights():
    rng = np.random.default_rng(13)
    X = rng.normal(size=(200, 1))
    weight = rng.integers(1, 4, 200).astype(float)
    fit = GaussianMixture(1, random_state=0).fit(X, sample_weight=weight)
    boot = bootstrap(fit, X, kind="jackknife", sample_weight=weight)
    # the jackknife over weighted rows: the mean without row i is sum_{j != i} w_j x_j / ...
    total, weighted = weight.sum(), (weight * X[:, 0]).sum()
    leave_out = (weighted - weight * X[:, 0]) / (total - weight)
    expected = np.sqrt((len(X) - 1) / len(X) * ((leave_out - leave_out.mean()) ** 2).sum())
    assert boot.standard_errors()["means"].values[0, 0] == pytest.approx(expected, rel=1e-6)
    with pytest.raises(ValueError, match="not the data this fit was fitted to"):
        bootstrap(fit, X, n_boot=5)  # the weights are part of the data


def test_float32_fit(one_component):
    X, _ = one_component
    X32 = X.astype(np.float32)
    fit = GaussianMixture(1, random_state=0).fit(X32)
    boot = bootstrap(fit, X32, kind="parametric", n_boot=20, random_state=0)
    assert boot.replicates["means"].dtype == np.float64
    assert np.isfinite(boot.standard_errors()["covariances"].values).all()


def test_replicates_that_warn_are_kept_flagged_and_reported_once(faithful):
    X, _ = faithful
    fit = GaussianMixture(2, max_iter=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit.fit(X)
    with pytest.warns(ConvergenceWarning, match=r"^20 warning\(s\) of this kind from 20 boot"):
        boot = bootstrap(fit, X, n_boot=20, random_state=0)
    assert not boot.replicates.coords["converged"].values.any()
    assert boot.n_boot == 20


# ---------------------------------------------------------------------- compare
def test_compare_puts_bootstrap_intervals_beside_the_hdi(faithful):
    X, fit = faithful
    bayes = fake_posterior_result(
        fit.weights_[::-1],
        fit.means_[::-1],
        fit.covariances_[::-1],
        X,
        feature_names=list(X.columns),
        draws=50,
    )
    boot = bootstrap(fit, X, n_boot=100, random_state=0)
    comparison = compare(fit, bayes, X, ci_prob=0.9, bootstrap=boot)
    table = comparison.table
    summary = boot.summary(0.9)
    np.testing.assert_allclose(table["bootstrap_se"], summary["se"])
    np.testing.assert_allclose(table["bootstrap_lower"], summary["lower"])
    np.testing.assert_allclose(table["bootstrap_upper"], summary["upper"])
    np.testing.assert_allclose(table["em"], summary["estimate"])
    assert comparison.bootstrap is boot
    assert "bootstrap_se" not in compare(fit, bayes, X).table
    other = GaussianMixture(2, random_state=1).fit(X.iloc[:200])
    with pytest.raises(ValueError, match="bootstrap of another fit"):
        compare(fit, bayes, X, bootstrap=bootstrap(other, X.iloc[:200], n_boot=5))
    with pytest.raises(TypeError, match="bootstrap must be"):
        compare(fit, bayes, X, bootstrap="boot")


# ---------------------------------------------------------------------- errors
def test_errors_name_the_problem_and_the_fix(faithful, one_component):
    X, fit = faithful
    with pytest.raises(TypeError, match="pass a fitted GaussianMixture"):
        bootstrap(fit.result_, X)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        bootstrap(GaussianMixture(2), X)
    with pytest.raises(ValueError, match="not the data this fit was fitted to"):
        bootstrap(fit, X.iloc[:-1], n_boot=5)
    with pytest.raises(ValueError, match="'kind' parameter of bootstrap"):
        bootstrap(fit, X, kind="block")
    with pytest.raises(ValueError, match="Leave n_boot=None"):
        bootstrap(fit, X, kind="jackknife", n_boot=10)
    with pytest.raises(ValueError, match="cannot use sample_weight"):
        bootstrap(fit, X, kind="parametric", sample_weight=np.ones(len(X)))
    with pytest.raises(ValueError, match="'n_boot' parameter of bootstrap"):
        bootstrap(fit, X, n_boot=1)
    boot = bootstrap(fit, X, n_boot=5, random_state=0)
    with pytest.raises(ValueError, match="ci_prob must be below 1"):
        boot.intervals(1.0)
    with pytest.raises(ValueError, match="'method' parameter"):
        boot.intervals(method="bca")
    X1 = one_component[0][:50]
    jackknife = bootstrap(GaussianMixture(1).fit(X1), X1, kind="jackknife")
    with pytest.raises(ValueError, match="use method='normal'"):
        jackknife.intervals(method="percentile")
    with pytest.raises(ValueError, match="alternative must be a fit with 3 components"):
        bootstrap_lrt(fit, X, alternative=fit, n_boot=5)
    with pytest.raises(TypeError, match="bootstrap_lrt refits an EM fit"):
        bootstrap_lrt(fit.result_, X)


# ---------------------------------------------------------------------- plots
def test_plots_draw_the_replicates_and_the_statistic(faithful):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Ellipse

    X, fit = faithful
    boot = bootstrap(fit, X, n_boot=30, random_state=0)
    ax = boot.plot(X, n_draws=10)
    ellipses = [patch for patch in ax.patches if isinstance(patch, Ellipse)]
    assert len(ellipses) == 10 * 2
    assert "10 nonparametric bootstrap replicates" in ax.get_title()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("eruptions", "waiting")
    null = GaussianMixture(1, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        test = bootstrap_lrt(null, X, alternative=fit, n_boot=19, random_state=0)
    ax = test.plot(bins=5)
    assert ax.lines[0].get_xdata()[0] == pytest.approx(test.statistic)
    assert sum(patch.get_height() > 0 for patch in ax.patches) >= 1
    assert "p-value 0.05" in ax.get_legend().get_texts()[1].get_text()
    plt.close("all")
