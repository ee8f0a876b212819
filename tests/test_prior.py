"""MAP EM with mclust's conjugate prior (``prior="default"``: ``priorControl()``).

mclust's numbers below come from R 4 / mclust 6.0.0, by (per model m)::

    f <- Mclust(as.matrix(iris[, 1:4]), G = 3, modelNames = m, prior = priorControl(),
                control = emControl(tol = c(1e-12, sqrt(.Machine$double.eps))))
    f$loglik; f$bic; f$parameters$pro; f$parameters$mean; f$parameters$variance$sigma

(printed with ``sprintf("%.17g")`` for loglik and BIC, ``"%.12g"`` for the parameters).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import optimize, stats

from bayesgmm import GaussianMixture
from bayesgmm.covariance import get_covariance_model
from bayesgmm.datasets import load_faithful, load_iris
from bayesgmm.em.prior import PRIOR_RULES, ConjugatePrior
from bayesgmm.exceptions import ConvergenceWarning, DegenerateComponentWarning
from bayesgmm.selection import select

#: Mclust's (loglik, BIC) on iris with G = 3 and the default prior, per model.
MCLUST_IRIS = {
    "EII": (-401.95318529593141, -879.06590000330664),
    "VII": (-384.47867621533129, -854.13815243029899),
    "EEI": (-362.15097933443417, -814.49339396260098),
    "VEI": (-345.42859053936348, -791.06988696065207),
    "EVI": (-342.25392006571735, -804.76308718974485),
    "VVI": (-312.88563852053079, -756.04779468756419),
    "EEE": (-257.7393766097901, -635.73400027789035),
    "EEV": (-221.83929420955124, -624.0614590065677),
    "VEV": (-198.48648144214229, -587.37710405994233),
    "VVV": (-192.69528386527159, -605.85852067077849),
}

#: Mclust's parameters (pro, mean per component, sigma: VII its variances, EEI its
#: diagonal, EEE its one matrix, VEV and VVV one matrix per component).
MCLUST_PARAMETERS = {
    "VII": (
        [0.333333333861, 0.415437569627, 0.251229096512],
        [
            [5.00616743333, 3.42792588002, 1.46245911061, 0.246190629893],
            [5.90676166561, 2.74928394878, 4.40438528777, 1.43336630766],
            [6.8491456381, 3.07500282745, 5.73478425655, 2.07692905074],
        ],
        [0.0749114413389, 0.1585405123, 0.15409156634],
    ),
    "EEI": (
        [0.333333612151, 0.410146784375, 0.256519603474],
        [
            [5.00600006085, 3.42799921093, 1.46200131741, 0.246000704042],
            [5.92636000219, 2.75337009013, 4.39611652898, 1.40728530675],
            [6.79865292576, 3.06167666957, 5.72124992368, 2.10564603829],
        ],
        [0.204099828103, 0.103890159744, 0.178109271472, 0.0477163041636],
    ),
    "EEE": (
        [0.333333333337, 0.347992909815, 0.318673756848],
        [
            [5.00616743319, 3.42792588148, 1.46245910821, 0.246190628555],
            [5.96005682415, 2.75511753331, 4.31526948485, 1.33004140674],
            [6.59154210994, 2.99971135997, 5.55058829534, 2.05358199781],
        ],
        [
            [0.244135016764, 0.0797030837913, 0.164514809347, 0.036354960168],
            [0.0797030837913, 0.101348077678, 0.042476963601, 0.0236963635063],
            [0.164514809347, 0.042476963601, 0.199684579267, 0.0448555165786],
            [0.036354960168, 0.0236963635063, 0.0448555165786, 0.0346987208215],
        ],
    ),
    "VEV": (
        [0.333333331399, 0.343666920298, 0.322999748304],
        [
            [5.00616743612, 3.42792588803, 1.46245910912, 0.246190628229],
            [5.94339523697, 2.77455101701, 4.29402434163, 1.34673426235],
            [6.60081371544, 2.9757594653, 5.55665108846, 2.02613275788],
        ],
        [
            [
                [0.154498109018, 0.122131972145, 0.0330290491907, 0.0180449412808],
                [0.122131972145, 0.166189885791, 0.0208572988515, 0.0135133011956],
                [0.0330290491907, 0.0208572988515, 0.0553199300448, 0.0173525761422],
                [0.0180449412808, 0.0135133011956, 0.0173525761422, 0.0171789422506],
            ],
            [
                [0.240344687928, 0.0735296715343, 0.161487373392, 0.0496175605613],
                [0.0735296715343, 0.0805457180633, 0.068788007922, 0.0321157844315],
                [0.161487373392, 0.068788007922, 0.246766215003, 0.0891839536179],
                [0.0496175605613, 0.0321157844315, 0.0891839536179, 0.0540674234987],
            ],
            [
                [0.407123144403, 0.0895300047008, 0.315203889679, 0.0476394044754],
                [0.0895300047008, 0.128577546465, 0.0578453341077, 0.0649260266525],
                [0.315203889679, 0.0578453341077, 0.350208200188, 0.0722547764207],
                [0.0476394044754, 0.0649260266525, 0.0722547764207, 0.0978753463251],
            ],
        ],
    ),
    "VVV": (
        [0.333333333326, 0.313808799259, 0.352857867415],
        [
            [5.00616743319, 3.42792588152, 1.46245910818, 0.24619062854],
            [5.93687966726, 2.76266796603, 4.23012602311, 1.30882169986],
            [6.55098946896, 2.96930509186, 5.50665870247, 2.00237205223],
        ],
        [
            [
                [0.104695083917, 0.0779677035581, 0.0251023820831, 0.0131008065403],
                [0.0779677035581, 0.115352553711, 0.00603812899298, 0.00615868536596],
                [0.0251023820831, 0.00603812899298, 0.053704668965, 0.0172145901623],
                [0.0131008065403, 0.00615868536596, 0.0172145901623, 0.0143343669362],
            ],
            [
                [0.222994097852, 0.0715512010966, 0.163453304743, 0.0509540647957],
                [0.0715512010966, 0.0783238643654, 0.0625630278744, 0.0297474113256],
                [0.163453304743, 0.0625630278744, 0.199422507751, 0.065300740751],
                [0.0509540647957, 0.0297474113256, 0.065300740751, 0.0326862733595],
            ],
            [
                [0.334528650331, 0.0716821358154, 0.264497694041, 0.0542980018698],
                [0.0716821358154, 0.0845687560144, 0.0536440263285, 0.0377660459475],
                [0.264497694041, 0.0536440263285, 0.288226560173, 0.0642548861388],
                [0.0542980018698, 0.0377660459475, 0.0642548861388, 0.0711634960556],
            ],
        ],
    ),
}

#: Models fitted from mclust's own final parameters (starts out of the comparison:
#: with the prior, our default starts find VVV and VEV modes of higher posterior
#: density, and lower log-likelihood, than mclust's single hierarchical start).
FROM_MCLUST = ("VII", "EEE", "VEV", "VVV")
#: Models fitted from the default starts (they find mclust's mode).
FROM_DEFAULT_STARTS = ("EII", "VEI", "EVI", "VVI", "EEV")
#: Each model with a prior is a compile of its own (tens of seconds on CI's cold
#: caches): the default run keeps FROM_MCLUST and EEV (every kernel layout, the closed,
#: the iterative and the eigen-decomposed M-steps); the others run with ``-m slow``.
DEFAULT_RUN = set(FROM_MCLUST) | {"EEV"}


def _slow_unless_default(names):
    return [
        name if name in DEFAULT_RUN else pytest.param(name, marks=pytest.mark.slow)
        for name in names
    ]


#: Both EMs stop when a gain falls below ~1e-12 (relative, mclust; per observation, here),
#: so each may stop short of the fixed point by the gain still to come, which is up to
#: 1e3 times the last one when convergence is slow (VEI, EEV: rates near 0.999):
#: ~1e-12 * 150 rows * 1e3 * |log L| / 150 is below 1e-6 in log L, and BIC twice that.
LOGLIK_ATOL = 1e-5


@pytest.fixture(scope="module")
def iris():
    return load_iris().to_numpy(dtype=np.float64)


def _full_sigma(name, sigma, n_components=3, n_features=4):
    """mclust's sigma (in the compact form of MCLUST_PARAMETERS) as (K, D, D)."""
    sigma = np.asarray(sigma)
    if name == "VII":
        return sigma[:, None, None] * np.eye(n_features)
    if name == "EEI":
        return np.broadcast_to(np.diag(sigma), (n_components, n_features, n_features))
    if name == "EEE":
        return np.broadcast_to(sigma, (n_components, n_features, n_features))
    return sigma


def _from_mclust(name, X, **options):
    model = get_covariance_model(name)
    pro, mean, sigma = MCLUST_PARAMETERS[name]
    full = _full_sigma(name, sigma)
    options = {"tol": 1e-12, **options}
    return GaussianMixture(
        3,
        covariance_type=model.name,
        prior="default",
        weights_init=np.asarray(pro),
        means_init=np.asarray(mean),
        precisions_init=model.from_full(np.linalg.inv(full)),
        **options,
    ).fit(X)


@pytest.mark.parametrize("name", FROM_MCLUST)
def test_fit_matches_mclust_from_its_parameters(iris, name):
    fit = _from_mclust(name, iris)
    loglik, bic = MCLUST_IRIS[name]
    assert fit.score(iris) * len(iris) == pytest.approx(loglik, abs=LOGLIK_ATOL)
    assert -fit.bic(iris) == pytest.approx(bic, abs=2 * LOGLIK_ATOL)  # mclust's sign
    pro, mean, sigma = MCLUST_PARAMETERS[name]
    model = get_covariance_model(name)
    # parameters to the precision of the stored constants and of the stopping rule
    np.testing.assert_allclose(fit.weights_, pro, rtol=1e-6)
    np.testing.assert_allclose(fit.means_, mean, rtol=1e-6)
    full = model.to_full(fit.covariances_, 3, 4)
    np.testing.assert_allclose(full, _full_sigma(name, sigma), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name", _slow_unless_default(FROM_DEFAULT_STARTS))
def test_fit_matches_mclust_loglik_and_bic(iris, name):
    model = get_covariance_model(name)
    fit = GaussianMixture(
        3, covariance_type=model.name, prior="default", random_state=0, tol=1e-15,
        max_iter=5000,
    ).fit(iris)  # fmt: skip
    loglik, bic = MCLUST_IRIS[name]
    assert fit.score(iris) * len(iris) == pytest.approx(loglik, abs=LOGLIK_ATOL)
    assert -fit.bic(iris) == pytest.approx(bic, abs=2 * LOGLIK_ATOL)


def test_eei_means_are_shrunk_where_mclust_leaves_them(iris):
    """mclust's EEI M-step keeps the data means but adds their prior term to the
    variances; here the means are the posterior ones (the exact maximum)."""
    fit = _from_mclust("EEI", iris)
    resp = fit.predict_proba(iris)
    counts = resp.sum(axis=0)
    data_means = resp.T @ iris / counts[:, None]
    kappa, prior_mean = fit.prior_.shrinkage, iris.mean(axis=0)
    expected = (counts[:, None] * data_means + kappa * prior_mean) / (counts[:, None] + kappa)
    # at EM's fixed point to the stopping rule's precision (steps of ~1e-7 here), far
    # closer than the data means are (the shrinkage moves them by ~1e-4)
    np.testing.assert_allclose(fit.means_, expected, rtol=1e-6)
    assert np.abs(fit.means_ - data_means).max() > 1e-5
    # the shift of the means is kappa / (n_k + kappa) of their distance to the prior
    # mean (2e-4 here): mclust's fit is that close, and its log-likelihood within 0.01
    _, mclust_means, _ = MCLUST_PARAMETERS["EEI"]
    distance = np.abs(np.asarray(mclust_means) - prior_mean).max()
    assert np.abs(fit.means_ - mclust_means).max() < 5 * kappa / counts.min() * distance
    assert fit.score(iris) * len(iris) == pytest.approx(MCLUST_IRIS["EEI"][0], abs=0.01)


def test_default_prior_is_mclusts(iris):
    """defaultPrior: shrinkage 0.01, the data's mean, dof p + 2, (1/G)^(2/p) var(X) (a
    trace per feature for the diagonal and spherical models)."""
    n_components, n_features = 3, iris.shape[1]
    factor = (1 / n_components) ** (2 / n_features)
    full = GaussianMixture(n_components, prior="default", random_state=0, max_iter=2)
    spherical = GaussianMixture(
        n_components, covariance_type="spherical", prior="default", random_state=0,
        max_iter=2,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full.fit(iris)
        spherical.fit(iris)
    for fit in (full, spherical):
        assert fit.prior_.shrinkage == 0.01
        assert fit.prior_.dof == n_features + 2
        np.testing.assert_allclose(fit.prior_.mean, iris.mean(axis=0), rtol=1e-14)
    covariance = np.cov(iris, rowvar=False)
    np.testing.assert_allclose(full.prior_.scale, factor * covariance, rtol=1e-12)
    expected = factor * np.trace(covariance) / n_features
    assert spherical.prior_.scale == pytest.approx(expected, rel=1e-12)


# ---------------------------------------------------------------- the M-step is the MAP
def _log_prior_scipy(name, means, covariances, prior):
    """The conjugate prior's log-density by scipy.stats: N(mean, Sigma_k / kappa) on
    each mean; inverse-Wishart(dof, scale) on each covariance (VVV) or on the shared
    one (EEE, once); inverse-gamma(dof / 2, scale / 2) on each variance (VII)."""
    kappa, mu, dof, scale = prior.shrinkage, prior.mean, prior.dof, prior.scale
    total = sum(
        stats.multivariate_normal.logpdf(m, mu, c / kappa)
        for m, c in zip(means, covariances, strict=True)
    )
    if name == "VVV":
        total += sum(stats.invwishart.logpdf(c, df=dof, scale=scale) for c in covariances)
    elif name == "EEE":
        total += stats.invwishart.logpdf(covariances[0], df=dof, scale=scale)
    else:
        total += sum(stats.invgamma.logpdf(c[0, 0], dof / 2, scale=scale / 2) for c in covariances)
    return total


def _unpack(name, theta, n_components, n_features):
    """Unconstrained parameters -> means and (K, D, D) covariances."""
    means = theta[: n_components * n_features].reshape(n_components, n_features)
    rest = theta[n_components * n_features :]
    if name == "VII":
        return means, np.exp(rest)[:, None, None] * np.eye(n_features)
    tril = np.tril_indices(n_features)
    count = len(tril[0])
    factors = []
    for k in range(1 if name == "EEE" else n_components):
        lower = np.zeros((n_features, n_features))
        lower[tril] = rest[k * count : (k + 1) * count]
        lower[np.diag_indices(n_features)] = np.exp(np.diag(lower))
        factors.append(lower @ lower.T)
    return means, np.broadcast_to(np.array(factors), (n_components, n_features, n_features))


@pytest.mark.parametrize("name", ["VVV", "EEE", "VII"])
def test_one_m_step_maximises_expected_loglik_plus_log_prior(name):
    """One EM iteration (max_iter=1) from a start: its M-step against scipy's numerical
    maximum of the expected complete-data log-likelihood plus the log-prior."""
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (6, 2)), rng.normal(3, 0.5, (6, 2))])
    model = get_covariance_model(name)
    start_means = np.array([[0.5, 0.0], [2.5, 3.0]])
    shared = name == "EEE"
    start_covariances = np.array([np.eye(2), np.eye(2) if shared else 0.5 * np.eye(2)])
    weights = np.array([0.4, 0.6])
    density = np.column_stack(
        [
            weights[k] * stats.multivariate_normal.pdf(X, start_means[k], start_covariances[k])
            for k in range(2)
        ]
    )
    resp = density / density.sum(axis=1, keepdims=True)  # the E-step of the start
    fit = GaussianMixture(
        2, covariance_type=model.name, prior="default", weights_init=weights,
        means_init=start_means, precisions_init=model.from_full(np.linalg.inv(start_covariances)),
        max_iter=1,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit.fit(X)

    def objective(theta):
        means, covariances = _unpack(name, theta, 2, 2)
        expected = sum(
            resp[:, k] @ stats.multivariate_normal.logpdf(X, means[k], covariances[k])
            for k in range(2)
        )
        return -(expected + _log_prior_scipy(name, means, covariances, fit.prior_))

    n_covariance = 2 if name == "VII" else 3 * (1 if name == "EEE" else 2)
    theta0 = np.concatenate([start_means.ravel(), np.zeros(n_covariance)])
    best = optimize.minimize(objective, theta0, method="BFGS", options={"gtol": 1e-10})
    means, covariances = _unpack(name, best.x, 2, 2)
    np.testing.assert_allclose(fit.means_, means, rtol=1e-5, atol=1e-6)
    full = model.to_full(fit.covariances_, 2, 2)
    np.testing.assert_allclose(full, covariances, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fit.weights_, resp.mean(axis=0), rtol=1e-12)


# ---------------------------------------------------------------- MAP EM is monotone
@pytest.mark.parametrize("prior", ["default", ConjugatePrior(shrinkage=1.0)])
@pytest.mark.parametrize("name", _slow_unless_default(sorted(PRIOR_RULES)))
def test_objective_never_decreases(iris, name, prior):
    """log-likelihood + log-prior (``lower_bounds_``) never falls, to its rounding: a
    sum of n terms, each rounded to eps. On 30 rows with a strong shrinkage the prior
    weighs as much as the data, so an objective that is not the one the M-step
    maximises would fall."""
    X = iris[::5]
    fit = GaussianMixture(
        3, covariance_type=get_covariance_model(name).name, prior=prior, n_init=1,
        init_params="random", random_state=3, tol=1e-12, max_iter=300,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit.fit(X)
    history = np.asarray(fit.lower_bounds_)
    assert len(history) > 5
    # a mean of n log-densities of mixed sign rounds to n eps times their mean magnitude
    # (not the mean's), and the log-prior's few dozen terms to a few dozen eps of it
    eps = np.finfo(np.float64).eps
    penalty = abs(history[-1] - fit.lower_bound_)
    rounding = eps * (len(X) * np.abs(fit.score_samples(X)).mean() + 64 * penalty)
    assert np.diff(history).min() >= -rounding
    # the objective is the log-likelihood plus a log-prior that is not zero
    assert history[-1] != pytest.approx(fit.lower_bound_, abs=1e-6)


@pytest.mark.parametrize("name", ["VVV", "EEE", "VII"])
def test_log_prior_is_scipys_up_to_a_constant(iris, name):
    """The log-prior in ``lower_bounds_`` (their last value less ``lower_bound_``, per
    row) changes between two parameter sets as scipy's densities of the prior do."""
    X = iris[::5]
    model = get_covariance_model(name)
    penalties, priors = [], []
    for max_iter in (0, 100):
        fit = GaussianMixture(
            3, covariance_type=model.name, prior=ConjugatePrior(shrinkage=1.0),
            n_init=1, random_state=0, max_iter=max_iter,
        )  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fit.fit(X)
        penalties.append((fit.lower_bounds_[-1] - fit.lower_bound_) * len(X))
        full = model.to_full(fit.covariances_, 3, 4)
        priors.append(_log_prior_scipy(name, fit.means_, full, fit.prior_))
    assert abs(priors[0] - priors[1]) > 0.1  # two different parameter sets
    assert penalties[0] - penalties[1] == pytest.approx(priors[0] - priors[1], rel=1e-8)


def test_objective_never_decreases_beside_noise(iris):
    fit = GaussianMixture(
        2, covariance_type="VVV", prior="default", noise=True, n_init=1, random_state=0,
        tol=1e-12,
    ).fit(iris)  # fmt: skip
    history = np.asarray(fit.lower_bounds_)
    rounding = len(iris) * np.finfo(np.float64).eps * np.abs(history).max()
    assert np.diff(history).min() >= -rounding
    assert np.isfinite(fit.bic(iris))


def test_noise_fit_matches_mclust(iris):
    """The prior beside a noise component, against (R, mclust 6.0.0)::

    noise <- rep(FALSE, 150); noise[c(42, 107, 118, 119, 123, 132)] <- TRUE
    f <- Mclust(as.matrix(iris[, 1:4]), G = 2, modelNames = "VVV",
                prior = priorControl(), initialization = list(noise = noise),
                control = emControl(tol = c(1e-12, sqrt(.Machine$double.eps))))
    f$loglik; f$bic; f$parameters$Vinv; f$parameters$pro
    """
    noise = np.zeros(len(iris), dtype=bool)
    noise[np.array([42, 107, 118, 119, 123, 132]) - 1] = True
    fit = GaussianMixture(
        2, covariance_type="VVV", prior="default", noise=True, noise_init=noise,
        tol=1e-15, max_iter=5000, random_state=0,
    ).fit(iris)  # fmt: skip
    assert fit.noise_vinv_ == pytest.approx(0.036709102898040857, rel=1e-14)
    assert fit.score(iris) * len(iris) == pytest.approx(-226.12382842364661, abs=LOGLIK_ATOL)
    assert -fit.bic(iris) == pytest.approx(-607.57735096427712, abs=2 * LOGLIK_ATOL)
    assert fit.noise_weight_ == pytest.approx(0.069164393959, rel=1e-5)


# ---------------------------------------------------------------- what the prior is for
def test_collapsed_component_stays_proper_with_the_prior():
    """faithful's waiting is in whole minutes: a component on the 15 rows with waiting
    == 78 collapses onto tied values without a prior (the variance floor holds it, a
    degenerate fit); with the default prior its covariance stays proper."""
    faithful = load_faithful()
    base = GaussianMixture(4, covariance_type="diag", random_state=0).fit(faithful)
    rows = (faithful["waiting"] == 78.0).to_numpy()
    eruptions = faithful["eruptions"].to_numpy()[rows]
    start = dict(
        weights_init=np.append(base.weights_ * (1.0 - rows.mean()), rows.mean()),
        means_init=np.vstack([base.means_, [eruptions.mean(), 78.0]]),
        precisions_init=np.vstack([base.precisions_, [1.0 / eruptions.var(), 1e4]]),
    )
    with pytest.warns(DegenerateComponentWarning, match="component 4"):
        GaussianMixture(5, covariance_type="diag", **start).fit(faithful)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateComponentWarning)
        fit = GaussianMixture(5, covariance_type="diag", prior="default", **start)
        fit.fit(faithful)
    assert fit.result_.degenerate == []
    assert np.all(np.isfinite(fit.covariances_)) and np.all(fit.covariances_ > 0)
    # at least the prior's share: scale / (n_k + dof + 3) with n_k <= 272
    floor = fit.prior_.scale / (len(faithful) + fit.prior_.dof + 3)
    assert fit.covariances_.min() > floor
    assert np.isfinite(fit.bic(faithful))


def test_duplicated_points_full_covariance():
    """Five copies of one point: without a prior (and no floor) the component on them
    is singular; with the prior it is positive definite."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (100, 2)), np.tile([[6.0, 6.0]], (5, 1))])
    start = dict(
        weights_init=np.array([100 / 105, 5 / 105]),
        means_init=np.array([[0.0, 0.0], [6.0, 6.0]]),
        precisions_init=np.array([np.eye(2), np.eye(2)]),
    )
    with pytest.warns(DegenerateComponentWarning, match="component 1"):
        GaussianMixture(2, reg_covar=0.0, **start).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DegenerateComponentWarning)
        fit = GaussianMixture(2, prior="default", **start).fit(X)
    assert np.all(np.linalg.eigvalsh(fit.covariances_) > 0)
    assert np.isfinite(fit.bic(X))


# ---------------------------------------------------------------- engines and options
@pytest.mark.parametrize("name", ["VVV", "EEE", "VII"])
def test_every_engine_gives_the_same_map_fit(iris, name):
    da = pytest.importorskip("dask.array")
    # From mclust's optimum every gain is at rounding level, so where tol=1e-12 stops
    # depends on the order of the sums: tol=0 runs each engine the same 20 iterations.
    fits = {
        engine: _from_mclust(name, iris, engine=engine, max_iter=20, tol=0.0)
        for engine in ("compiled", "blocks")
    }
    fits["dask"] = _from_mclust(name, da.from_array(iris, chunks=(40, 4)), max_iter=20, tol=0.0)
    reference = fits["compiled"]
    for engine, fit in fits.items():
        assert fit.n_iter_ == reference.n_iter_, engine
        # the same sums in another order: rounding, amplified by EM's few steps
        np.testing.assert_allclose(fit.means_, reference.means_, rtol=1e-10, err_msg=engine)
        np.testing.assert_allclose(
            fit.covariances_, reference.covariances_, rtol=1e-9, err_msg=engine
        )
        np.testing.assert_allclose(fit.prior_.scale, reference.prior_.scale, rtol=1e-12)


def test_user_prior_fields_and_defaults(iris):
    """A ConjugatePrior (or dict) sets some fields; the others are mclust's defaults.
    With shrinkage 0 the means are the data means of the responsibilities."""
    prior = ConjugatePrior(shrinkage=0.0, dof=10.0)
    fit = GaussianMixture(3, prior=prior, random_state=0, tol=1e-12).fit(iris)
    assert fit.prior_.shrinkage == 0.0 and fit.prior_.dof == 10.0
    np.testing.assert_allclose(fit.prior_.mean, iris.mean(axis=0), rtol=1e-14)
    as_dict = GaussianMixture(3, prior={"shrinkage": 0.0, "dof": 10.0}, random_state=0, tol=1e-12)
    np.testing.assert_allclose(as_dict.fit(iris).means_, fit.means_, rtol=1e-12)
    resp = fit.predict_proba(iris)
    data_means = resp.T @ iris / resp.sum(axis=0)[:, None]
    np.testing.assert_allclose(fit.means_, data_means, rtol=1e-6)  # the fixed point
    # a larger dof (more prior counts) makes every covariance's volume differ from the
    # default prior's fit
    default = GaussianMixture(3, prior="default", random_state=0).fit(iris)
    assert not np.allclose(default.covariances_, fit.covariances_, rtol=1e-3)


def test_no_prior_is_the_plain_fit(iris):
    fit = GaussianMixture(3, covariance_type="VEV", random_state=0).fit(iris)
    assert not hasattr(fit, "prior_")
    assert fit.lower_bounds_[-1] == fit.lower_bound_


def test_select_passes_the_prior_through(iris):
    result = select(
        iris, n_components=[2, 3], covariance_types=["VVV", "VII"],
        estimator_params={"prior": "default"},
    )  # fmt: skip
    fit = result.estimators_[("VVV", 3)]
    assert fit.prior_.dof == 6.0
    assert np.isfinite(result.table["bic"]).all()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"covariance_type": "VEE"}, "VEE.*has no conjugate prior.*VVV, EEE"),
        ({"family": "t"}, "prior= is for Gaussian components.*family='gaussian'"),
        ({"engine": "jax"}, "engine='jax' does not take a prior.*engine='auto'"),
        ({"prior": "mclust"}, "'prior' parameter .* must be None, 'default'"),
        ({"prior": {"shrink": 0.1}}, "'prior' parameter"),
        ({"prior": {"shrinkage": -1.0}}, "shrinkage must be a finite number >= 0"),
        ({"prior": {"scale": np.eye(3)}}, r"symmetric \(4, 4\) matrix"),
        ({"prior": {"scale": -np.eye(4)}}, "positive definite"),
        ({"prior": {"mean": [0.0]}}, "prior mean must be 4 finite numbers"),
        ({"prior": {"scale": np.eye(4)}, "covariance_type": "VII"}, "one positive number"),
    ],
)
def test_refusals_say_what_to_do(iris, options, message):
    options = {"prior": "default", **options}
    with pytest.raises(ValueError, match=message):
        GaussianMixture(2, **options).fit(iris)


def test_missing_values_are_refused_with_the_way_out(iris):
    X = iris.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"missing values.*X\[~np.isnan"):
        GaussianMixture(2, prior="default", missing="marginal").fit(X)
