"""mclust's 14 covariance models: M-steps, counts, constraints, decomposition, mclust's results.

Each model's M-step is checked against the constrained maximum of the expected
complete-data log-likelihood found by ``scipy.optimize`` over an explicit
parameterisation of its constraint (volumes, shapes with determinant 1, rotations
as Cayley transforms of skew-symmetric matrices); fitted covariances must
satisfy the constraint; counts are mclust's own; fits of iris reproduce mclust's
published result.
"""

import itertools
import warnings
from fractions import Fraction

import numpy as np
import pytest
from scipy import optimize

from bayesgmm import GaussianMixture
from bayesgmm.covariance import MODELS, decompose, get_covariance_model
from bayesgmm.covariance.base import INNER_TOL
from bayesgmm.covariance.spectral import symmetric_eigen
from bayesgmm.datasets import load_iris
from bayesgmm.result import MixtureResult

ALL = sorted(MODELS)
MCLUST_NAMES = [MODELS[name].mclust_name for name in ALL]
N_COMPONENTS, N_FEATURES = 3, 3


def _scatter_problem(seed=0, n_samples=60):
    """Regularised scatter matrices W_k (K, D, D) and counts n_k of soft responsibilities."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n_samples, N_FEATURES)) * np.array([1.0, 2.0, 0.5])
    X[:, 1] += 0.8 * X[:, 0]
    resp = rng.dirichlet(np.ones(N_COMPONENTS) * 0.7, size=n_samples)
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    reg = np.array([0.01, 0.02, 0.005])
    scatter = np.stack(
        [
            ((X - means[k]) * resp[:, k : k + 1]).T @ (X - means[k]) + nk[k] * np.diag(reg)
            for k in range(N_COMPONENTS)
        ]
    )
    return nk, scatter


def _in_layout(model, scatter):
    """The scatter in the form the model's layout hands to its estimate."""
    layout = model.layout
    if layout.shared:
        return scatter.sum(axis=0)
    if not layout.diagonal:
        return scatter.copy()
    diagonals = np.diagonal(scatter, axis1=1, axis2=2).copy()
    return diagonals if layout.per_feature else diagonals.sum(axis=1)


def _estimate(model, nk, scatter, previous=None):
    """The model's M-step (from zeros, or from ``previous`` covariances), as (K, D, D)."""
    stored = np.zeros(model.layout.storage_shape(N_COMPONENTS, N_FEATURES))
    if previous is not None:
        stored = np.ascontiguousarray(model.to_storage(previous), dtype=np.float64)
    model.estimate(nk, _in_layout(model, scatter), N_FEATURES, stored)
    return np.array(model.to_full(model.from_storage(stored), N_COMPONENTS, N_FEATURES))


def _objective(nk, scatter, full):
    """-2 x the covariance terms of the expected complete-data log-likelihood."""
    signs, log_dets = np.linalg.slogdet(full)
    if not np.all(signs > 0):  # where an optimiser's step overflows
        return np.inf
    traces = np.einsum("kij,kji->k", scatter, np.linalg.inv(full))
    return float(nk @ log_dets + traces.sum())


class _Constraint:
    """mclust's three letters as an explicit parameterisation of (K, D, D) covariances:
    log volumes, log shapes with sum 0 and rotations (I - S)^-1 (I + S) of
    skew-symmetric S."""

    def __init__(self, mclust_name, n_components, n_features):
        self.volume, self.shape, self.orientation = mclust_name
        self.k, self.d = n_components, n_features
        self.n_volumes = 1 if self.volume == "E" else n_components
        self.n_shapes = {"I": 0, "E": 1, "V": n_components}[self.shape] * (n_features - 1)
        self.n_rotations = {"I": 0, "E": 1, "V": n_components}[self.orientation]
        self.size = (
            self.n_volumes + self.n_shapes + self.n_rotations * n_features * (n_features - 1) // 2
        )

    def covariances(self, theta):
        k, d = self.k, self.d
        volumes = np.broadcast_to(np.exp(theta[: self.n_volumes]), (k,))
        shapes = np.zeros((k, d))
        if self.n_shapes:
            free = theta[self.n_volumes : self.n_volumes + self.n_shapes].reshape(-1, d - 1)
            shapes = np.broadcast_to(np.column_stack([free, -free.sum(axis=1)]), (k, d))
        rotations = np.broadcast_to(np.eye(d), (k, d, d))
        if self.n_rotations:
            upper = theta[self.n_volumes + self.n_shapes :].reshape(self.n_rotations, -1)
            skews = np.zeros((self.n_rotations, d, d))
            rows, columns = np.triu_indices(d, 1)
            skews[:, rows, columns] = upper
            skews -= np.swapaxes(skews, 1, 2)
            eye = np.eye(d)  # the Cayley transform: every rotation without eigenvalue -1
            rotations = np.broadcast_to(np.linalg.solve(eye - skews, eye + skews), (k, d, d))
        diagonal = volumes[:, None] * np.exp(shapes)
        return np.einsum("kij,kj,klj->kil", rotations, diagonal, rotations)


def _constrained_optimum(mclust_name, nk, scatter, n_starts=6):
    """The best of a few BFGS runs of the objective over the model's parameterisation."""
    constraint = _Constraint(mclust_name, N_COMPONENTS, N_FEATURES)
    rng = np.random.default_rng(1)

    def objective(theta):
        return _objective(nk, scatter, constraint.covariances(theta))

    best = None
    for start in range(n_starts):
        theta0 = np.zeros(constraint.size) if start == 0 else rng.normal(size=constraint.size)
        found = optimize.minimize(objective, theta0, method="BFGS", options={"gtol": 1e-9})
        if best is None or found.fun < best.fun:
            best = found
    return best.fun, constraint.covariances(best.x)


@pytest.mark.parametrize("covariance_type", ALL)
def test_m_step_is_the_constrained_maximum(covariance_type):
    """No covariances allowed by the model's constraint do better than its M-step (by
    numerical optimisation); the maximiser is the same. Catches a wrong closed form, an
    iteration that stops short or climbs to the wrong point, and a constraint the
    estimate does not impose (it would beat the optimum)."""
    model = get_covariance_model(covariance_type)
    nk, scatter = _scatter_problem()
    ours = _estimate(model, nk, scatter)
    assert np.all(np.linalg.eigvalsh(ours) > 0)
    best, optimum = _constrained_optimum(model.mclust_name, nk, scatter)
    reached = _objective(nk, scatter, ours)
    # our shortfall: inner iterations stop when they gain < INNER_TOL per observation
    # (x 100 for their linear convergence), plus the rounding of the sums (~1e-15)
    slack = 100 * INNER_TOL * nk.sum() + 1e-12 * abs(best)
    assert reached <= best + slack
    assert reached >= best - 1e-7 * abs(best)  # scipy's optimum is no better: the same point
    np.testing.assert_allclose(ours, optimum, rtol=1e-4, atol=1e-6 * np.abs(optimum).max())


@pytest.mark.parametrize("covariance_type", ALL)
def test_m_step_from_the_previous_estimate_never_does_worse(covariance_type):
    """An M-step started from the previous iteration's covariances (another scatter's
    estimate) ends at least as high as they are, and at the same maximum as from zeros:
    what keeps EM monotone however few inner iterations run."""
    model = get_covariance_model(covariance_type)
    nk, scatter = _scatter_problem(seed=3)
    previous_nk, previous_scatter = _scatter_problem(seed=4)
    previous = _estimate(model, previous_nk, previous_scatter)
    warm = _estimate(model, nk, scatter, previous=model.from_full(previous))
    cold = _estimate(model, nk, scatter)
    assert _objective(nk, scatter, warm) <= _objective(nk, scatter, previous)
    np.testing.assert_allclose(warm, cold, rtol=1e-6, atol=1e-9)


def _has_constraint(mclust_name, covariances):
    """Whether (K, D, D) covariances share what the model's letters say they share."""
    volumes, shapes, orientations = decompose(covariances)
    checks = []
    if mclust_name[0] == "E":
        checks.append(np.allclose(volumes, volumes[0], rtol=1e-9))
    if mclust_name[1] in "EI":
        expected = 1.0 if mclust_name[1] == "I" else shapes[0]
        checks.append(np.allclose(shapes, expected, rtol=1e-7))
    if mclust_name[2] in "EI":
        # shared axes: each component's orientation diagonalises every other covariance
        rotated = np.einsum("aji,bjl,alm->abim", orientations, covariances, orientations)
        off = rotated - np.einsum("abii->abi", rotated)[..., None] * np.eye(rotated.shape[-1])
        checks.append(np.abs(off).max() <= 1e-9 * np.abs(covariances).max())
    return all(checks)


@pytest.mark.parametrize("covariance_type", ALL)
def test_fitted_covariances_satisfy_the_constraint(covariance_type):
    """A whole fit's covariances keep the model's equal volumes, shapes or orientations
    (and VVV's fit, which has none, breaks them all): catches an M-step that loses the
    constraint, or a start that never imposes it."""
    X = load_iris().to_numpy()
    model = get_covariance_model(covariance_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = GaussianMixture(3, covariance_type=covariance_type, random_state=0, n_init=2)
        fit.fit(X)
    full = fit.result_.covariances.values
    assert _has_constraint(model.mclust_name, full)


def test_the_constraint_check_can_fail():
    """The check above is not vacuous: VVV's fit of iris shares none of the three."""
    X = load_iris().to_numpy()
    full = GaussianMixture(3, random_state=0).fit(X).result_.covariances.values
    for letters in ("EVV", "VEV", "VVE"):
        assert not _has_constraint(letters, full)


# Number of free parameters (weights, means, covariances) from mclust 6.0.0:
#   Rscript -e 'library(mclust); for (m in ...) for (d in 1:5) for (G in 1:4)
#               cat(nMclustParams(m, d = d, G = G))'
# each row over d = 1..5, and G = 1..4 within each d.
MCLUST_COUNTS = {
    "EII": [2, 4, 6, 8, 3, 6, 9, 12, 4, 8, 12, 16, 5, 10, 15, 20, 6, 12, 18, 24],
    "VII": [2, 5, 8, 11, 3, 7, 11, 15, 4, 9, 14, 19, 5, 11, 17, 23, 6, 13, 20, 27],
    "EEI": [2, 4, 6, 8, 4, 7, 10, 13, 6, 10, 14, 18, 8, 13, 18, 23, 10, 16, 22, 28],
    "VEI": [2, 5, 8, 11, 4, 8, 12, 16, 6, 11, 16, 21, 8, 14, 20, 26, 10, 17, 24, 31],
    "EVI": [2, 4, 6, 8, 4, 8, 12, 16, 6, 12, 18, 24, 8, 16, 24, 32, 10, 20, 30, 40],
    "VVI": [2, 5, 8, 11, 4, 9, 14, 19, 6, 13, 20, 27, 8, 17, 26, 35, 10, 21, 32, 43],
    "EEE": [2, 4, 6, 8, 5, 8, 11, 14, 9, 13, 17, 21, 14, 19, 24, 29, 20, 26, 32, 38],
    "VEE": [2, 5, 8, 11, 5, 9, 13, 17, 9, 14, 19, 24, 14, 20, 26, 32, 20, 27, 34, 41],
    "EVE": [2, 4, 6, 8, 5, 9, 13, 17, 9, 15, 21, 27, 14, 22, 30, 38, 20, 30, 40, 50],
    "VVE": [2, 5, 8, 11, 5, 10, 15, 20, 9, 16, 23, 30, 14, 23, 32, 41, 20, 31, 42, 53],
    "EEV": [2, 4, 6, 8, 5, 9, 13, 17, 9, 16, 23, 30, 14, 25, 36, 47, 20, 36, 52, 68],
    "VEV": [2, 5, 8, 11, 5, 10, 15, 20, 9, 17, 25, 33, 14, 26, 38, 50, 20, 37, 54, 71],
    "EVV": [2, 4, 6, 8, 5, 10, 15, 20, 9, 18, 27, 36, 14, 28, 42, 56, 20, 40, 60, 80],
    "VVV": [2, 5, 8, 11, 5, 11, 17, 23, 9, 19, 29, 39, 14, 29, 44, 59, 20, 41, 62, 83],
}


@pytest.mark.parametrize("mclust_name", sorted(MCLUST_COUNTS))
def test_parameter_counts_are_mclusts(mclust_name):
    model = get_covariance_model(mclust_name)
    grid = list(itertools.product(range(1, 6), range(1, 5)))
    ours = []
    for n_features, n_components in grid:
        shape = model.covariance_shape(n_components, n_features)
        covariances = np.ones(shape)
        if model.dims[-2:] == ("feature", "feature_bis"):
            covariances = np.broadcast_to(np.eye(n_features), shape).copy()
        result = MixtureResult(
            weights=np.full(n_components, 1 / n_components),
            means=np.zeros((n_components, n_features)),
            covariances=covariances,
            covariance_type=mclust_name,
        )
        ours.append(result.n_parameters)
    assert ours == MCLUST_COUNTS[mclust_name]


def test_every_mclust_name_is_registered():
    assert sorted(MCLUST_NAMES) == sorted(MCLUST_COUNTS)
    for name in MCLUST_COUNTS:
        assert get_covariance_model(name).mclust_name == name


@pytest.mark.parametrize("covariance_type", ALL)
def test_one_feature_every_model_is_e_or_v(covariance_type):
    """In one dimension a model is E (one variance) or V (one per component), by its
    volume letter: the same fit, log-likelihood and count as EII or VII."""
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(0, 1, 150), rng.normal(4, 0.4, 100)])[:, None]
    mclust_name = get_covariance_model(covariance_type).mclust_name
    twin = "EII" if mclust_name[0] == "E" else "VII"
    fits = []
    for name in (covariance_type, twin):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(GaussianMixture(2, covariance_type=name, random_state=0).fit(X))
    ours, theirs = fits
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-10)
    assert ours.result_.n_parameters == theirs.result_.n_parameters
    assert ours.bic(X) == pytest.approx(theirs.bic(X), rel=1e-10)


@pytest.mark.parametrize("covariance_type", ALL)
def test_empty_component_stays_finite_and_engines_agree(covariance_type):
    """A component that no point belongs to (n_k ~ 1e-15): finite log-likelihoods, a
    positive definite covariance, and the same history from both engines."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3)) * np.array([1.0, 0.5, 2.0])
    X[:300] += 4.0
    model = get_covariance_model(covariance_type)
    shape = model.covariance_shape(3, 3)
    precisions = np.ones(shape)
    if model.dims[-2:] == ("feature", "feature_bis"):
        precisions = np.broadcast_to(np.eye(3), shape).copy()
    start = {
        "weights_init": np.array([0.5, 0.5, 0.0]),
        "means_init": np.array([[4.0, 4.0, 4.0], [0.0, 0.0, 0.0], [50.0, 50.0, 50.0]]),
        "precisions_init": precisions,
    }
    fits = []
    for engine in ("compiled", "blocks"):
        fit = GaussianMixture(
            3, covariance_type=covariance_type, tol=0.0, max_iter=5, engine=engine, **start
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits.append(fit.fit(X))
    assert np.isfinite(fits[0].lower_bounds_).all()
    assert np.all(np.linalg.eigvalsh(fits[0].result_.covariances.values) > 0)
    np.testing.assert_allclose(fits[0].lower_bounds_, fits[1].lower_bounds_, rtol=1e-12)


def test_iris_vev_two_components_matches_mclust():
    """mclust's documented result: ``Mclust(iris[, -5])`` picks VEV with 2 components,
    log-likelihood -215.726, df 26, BIC -561.7285 (mclust's sign: 2 log L - df log n).
    Without regularisation (mclust has none), to the printed digits."""
    X = load_iris().to_numpy()
    fit = GaussianMixture(2, covariance_type="VEV", reg_covar=0.0, random_state=0).fit(X)
    assert fit.result_.n_parameters == 26
    assert fit.lower_bound_ * len(X) == pytest.approx(-215.726, abs=5e-4)
    assert -fit.bic(X) == pytest.approx(-561.7285, abs=5e-4)


# Mclust(iris[, -5], G = 2, modelNames = m) in mclust 6.0.0 (Rscript; R 4.2.2):
# log-likelihood and df per model.
MCLUST_IRIS_K2 = {
    "EII": (-536.6527, 10),
    "VII": (-478.5591, 11),
    "EEI": (-488.9148, 13),
    "VEI": (-443.0667, 14),
    "EVI": (-463.5690, 16),
    "VVI": (-386.1853, 17),
    "EEE": (-296.4476, 19),
    "VEE": (-278.0572, 20),
    "EVE": (-273.4962, 22),
    "VVE": (-244.9697, 23),
    "EEV": (-259.6669, 25),
    "VEV": (-215.7260, 26),
    "EVV": (-259.0164, 28),
    "VVV": (-214.3547, 29),
}


@pytest.mark.parametrize("mclust_name", sorted(MCLUST_IRIS_K2))
def test_iris_two_components_at_least_as_good_as_mclust(mclust_name):
    """Every model's two-component fit of iris (without regularisation, as mclust) has
    mclust's parameter count and a log-likelihood no lower than mclust's, to its printed
    digits (mclust's one start stops short on VVE: -244.9697 against our -244.5706)."""
    X = load_iris().to_numpy()
    fit = GaussianMixture(2, covariance_type=mclust_name, reg_covar=0.0, random_state=0).fit(X)
    log_likelihood, df = MCLUST_IRIS_K2[mclust_name]
    assert fit.result_.n_parameters == df
    assert fit.lower_bound_ * len(X) >= log_likelihood - 5e-5


def _exact_characteristic(matrix, x):
    """det(x I - matrix) in exact rational arithmetic (floats are exact rationals)."""
    n = matrix.shape[0]
    rows = [
        [Fraction(x) * (i == j) - Fraction(float(matrix[i, j])) for j in range(n)] for i in range(n)
    ]
    determinant = Fraction(1)
    for c in range(n):  # Gaussian elimination, exact
        pivot = next(r for r in range(c, n) if rows[r][c] != 0)
        if pivot != c:
            rows[c], rows[pivot] = rows[pivot], rows[c]
            determinant = -determinant
        determinant *= rows[c][c]
        for r in range(c + 1, n):
            factor = rows[r][c] / rows[c][c]
            rows[r] = [a - factor * b for a, b in zip(rows[r], rows[c], strict=True)]
    return determinant


@pytest.mark.parametrize("seed", range(4))
def test_jacobi_eigenvalues_have_high_relative_accuracy(seed):
    """Graded matrices S C S (features on scales from 1e-6 to 1e3): each eigenvalue is
    bracketed, to a relative 1e-12, by a sign change of the exact characteristic
    polynomial; eigenvectors are orthonormal and sorted by decreasing eigenvalue."""
    rng = np.random.default_rng(seed)
    n = 4
    root = rng.normal(size=(n, n))
    correlation = root @ root.T + n * np.eye(n)
    scales = 10.0 ** rng.uniform(-6, 3, n)
    matrix = correlation * scales[:, None] * scales[None, :]
    values, vectors = np.empty(n), np.empty((n, n))
    symmetric_eigen(matrix, values, vectors, np.empty((n, n)))
    assert np.all(np.diff(values) < 0)
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(n), atol=1e-13)
    for value in values:
        low = _exact_characteristic(matrix, value * (1 - 1e-12))
        high = _exact_characteristic(matrix, value * (1 + 1e-12))
        assert (low > 0) != (high > 0), value


def test_decompose_matches_the_definitions():
    """Volumes |Sigma|^(1/D), shapes of determinant 1 in decreasing order, orthonormal
    orientations, and lambda D A D^T rebuilds each covariance."""
    rng = np.random.default_rng(3)
    roots = rng.normal(size=(2, 5, 3, 3))
    covariances = roots @ np.swapaxes(roots, -1, -2) + 0.1 * np.eye(3)
    volumes, shapes, orientations = decompose(covariances)
    assert volumes.shape == (2, 5) and shapes.shape == (2, 5, 3)
    np.testing.assert_allclose(volumes, np.linalg.det(covariances) ** (1 / 3), rtol=1e-12)
    np.testing.assert_allclose(shapes.prod(axis=-1), 1.0, rtol=1e-12)
    assert np.all(np.diff(shapes, axis=-1) <= 0)
    eye = np.broadcast_to(np.eye(3), orientations.shape)
    np.testing.assert_allclose(np.swapaxes(orientations, -1, -2) @ orientations, eye, atol=1e-12)
    rebuilt = (
        volumes[..., None, None]
        * (orientations * shapes[..., None, :])
        @ np.swapaxes(orientations, -1, -2)
    )
    np.testing.assert_allclose(rebuilt, covariances, rtol=1e-10, atol=1e-12)
    largest = np.take_along_axis(
        orientations, np.abs(orientations).argmax(axis=-2)[..., None, :], axis=-2
    )
    assert np.all(largest > 0)  # the sign convention


def test_decompose_refuses_what_it_cannot_decompose():
    with pytest.raises(ValueError, match=r"\(\.\.\., K, D, D\)"):
        decompose(np.eye(3))
    with pytest.raises(ValueError, match="positive definite.*reg_covar"):
        decompose(np.array([[[1.0, 2.0], [2.0, 1.0]]]))


def test_result_exposes_volume_shape_and_orientation():
    """MixtureResult's labelled parts of an EEV fit: one volume and one shape for all,
    an orientation per component, and together the fitted covariances."""
    iris = load_iris()
    fit = GaussianMixture(2, covariance_type="EEV", random_state=0).fit(iris)
    result = fit.result_
    assert result.volumes.dims == ("component",)
    assert result.shapes.dims == ("component", "feature")
    assert result.orientations.dims == ("component", "feature", "feature_bis")
    assert list(result.orientations.feature.values) == list(iris.columns)
    np.testing.assert_allclose(result.volumes, result.volumes[0], rtol=1e-10)
    np.testing.assert_allclose(result.shapes, result.shapes[[0, 0]], rtol=1e-8)
    D, A = result.orientations.values, result.shapes.values
    rebuilt = result.volumes.values[:, None, None] * (D * A[:, None, :]) @ np.swapaxes(D, 1, 2)
    np.testing.assert_allclose(rebuilt, fit.covariances_, rtol=1e-10)


_RULES = {"VVE": "per_component_rule", "EVE": "equal_volume_rule"}


def _orientation_kernels(mclust_name):
    """Compiled profile, derivatives and M-step pieces of EVE or VVE, for the tests."""
    import numba

    from bayesgmm.covariance import diagonal, ellipsoidal
    from bayesgmm.covariance import orientation_newton as newton

    rule = getattr(diagonal, _RULES[mclust_name])
    curvature = newton.free_curvature if mclust_name == "VVE" else newton.equal_volume_curvature

    @numba.njit
    def profile(nk, rotated):
        shape = (rotated.shape[0], rotated.shape[1])
        return newton.profile(nk, rotated, nk.sum(), rule, np.empty(shape), np.empty(shape))

    @numba.njit
    def derivatives(nk, rotated):
        pair_p, pair_q = newton.pairs_of(rotated.shape[1])
        gradient = np.empty(pair_p.shape[0])
        hessian = np.empty((pair_p.shape[0], pair_p.shape[0]))
        newton.derivatives(
            nk, nk.sum(), rotated, rule, curvature, pair_p, pair_q, gradient, hessian
        )
        return gradient, hessian

    @numba.njit
    def sweeps(nk, rotated, count):
        """``count`` plane-rotation sweeps alone (the rule between them)."""
        shape = (rotated.shape[0], rotated.shape[1])
        diagonals, deltas = np.empty(shape), np.empty(shape)
        orientation = np.eye(rotated.shape[1])
        for _ in range(count):
            newton.profile(nk, rotated, nk.sum(), rule, diagonals, deltas)
            ellipsoidal._orientation_sweep(deltas, rotated, orientation)
        return newton.profile(nk, rotated, nk.sum(), rule, diagonals, deltas)

    return profile, derivatives, sweeps


def _rotated_by(rotated, omega):
    """``R^T B_k R`` for the Cayley transform R of the skew matrix with upper ``omega``."""
    n = rotated.shape[1]
    skew = np.zeros((n, n))
    skew[np.triu_indices(n, 1)] = omega
    skew -= skew.T
    rotation = np.linalg.solve(np.eye(n) - skew / 2, np.eye(n) + skew / 2)
    return np.einsum("ia,kij,jb->kab", rotation, rotated, rotation)


def _thin_components(seed, n_components, n_features, rows, decades=4):
    """Scatter matrices of components with few rows in many dimensions, the features on
    scales from 0.1 up to ``decades`` powers of ten (4: to 1,000, as wine's): where the
    orientation's objective is flat."""
    rng = np.random.default_rng(seed)
    scales = np.logspace(-1, decades - 1, n_features)
    nk = np.full(n_components, float(rows))
    scatter = np.empty((n_components, n_features, n_features))
    for k in range(n_components):
        mixing = np.eye(n_features) + 0.3 * rng.normal(size=(n_features, n_features))
        points = rng.normal(size=(rows, n_features)) @ mixing * scales
        centred = points - points.mean(axis=0)
        scatter[k] = centred.T @ centred + rows * np.diag(1e-6 * scales**2)
    return nk, scatter


@pytest.mark.parametrize("mclust_name", ["VVE", "EVE"])
def test_orientation_derivatives_match_finite_differences(mclust_name):
    """The Newton step's gradient and Hessian of the profile are its derivatives (central
    differences in the rotation's pair coordinates), on badly scaled data away from the
    minimum. Catches a sign or a missing term in either (the low-rank part of EVI's
    curvature included), which would leave EM monotone but the steps useless."""
    profile, derivatives, _ = _orientation_kernels(mclust_name)
    # scales over 2 decades: over 4, a step that resolves one pair's curvature is too
    # long for another's (the profile's third derivatives grow with the scale ratio)
    nk, scatter = _thin_components(seed=2, n_components=3, n_features=5, rows=9, decades=2)
    gradient, hessian = derivatives(nk, scatter)
    size = gradient.shape[0]

    def at(omega):
        return profile(nk, _rotated_by(scatter, omega))

    def differences(step):
        basis = np.eye(size) * step
        first = np.array([(at(e) - at(-e)) / (2 * step) for e in basis])
        second = np.empty((size, size))
        for i, j in itertools.product(range(size), repeat=2):
            a, b = basis[i], basis[j]
            second[i, j] = (at(a + b) - at(a - b) - at(b - a) + at(-a - b)) / (4 * step**2)
        return first, second

    # central differences; the profile's third derivatives are large along the pairs of
    # features far apart in scale, so the gradient's step is short (truncation ~ h^2,
    # rounding ~ eps |f| / h: both ~1e-9 relative at 1e-6) and the Hessian's is
    # Richardson's extrapolation from h and h / 2 (truncation ~ h^4; rounding ~
    # eps |f| / h^2)
    numeric_gradient = differences(1e-6)[0]
    coarse, fine = differences(1e-4)[1], differences(5e-5)[1]
    numeric_hessian = (4 * fine - coarse) / 3
    np.testing.assert_allclose(
        gradient, numeric_gradient, rtol=1e-6, atol=1e-7 * np.abs(gradient).max()
    )
    np.testing.assert_allclose(
        hessian, numeric_hessian, rtol=1e-5, atol=1e-6 * np.abs(hessian).max()
    )


@pytest.mark.parametrize("mclust_name", ["VVE", "EVE"])
def test_orientation_m_step_reaches_the_minimum_where_sweeps_creep(mclust_name):
    """On thin, badly scaled components the plane-rotation sweeps alone stop short of
    the minimum at the M-step's cap of sweeps; the M-step (sweeps, then Newton steps)
    ends where twenty times as many sweeps do, at a minimum, and a second M-step from
    it gains nothing. Catches Newton steps that are never taken or stop short."""
    from bayesgmm.covariance.ellipsoidal import ORIENTATION_SWEEPS

    profile, derivatives, sweeps = _orientation_kernels(mclust_name)
    model = get_covariance_model(mclust_name)
    nk, scatter = _thin_components(seed=2, n_components=6, n_features=13, rows=16)
    swept = sweeps(nk, scatter.copy(), ORIENTATION_SWEEPS)
    minimum = sweeps(nk, scatter.copy(), 20 * ORIENTATION_SWEEPS)
    stored = np.zeros(scatter.shape)
    model.estimate(nk, scatter, 13, stored)
    reached = _objective(nk, scatter, stored) / nk.sum()
    stored_again = stored.copy()
    model.estimate(nk, scatter, 13, stored_again)
    again = _objective(nk, scatter, stored_again) / nk.sum()
    assert swept - minimum > 1e5 * INNER_TOL  # the sweeps alone creep here
    # the M-step stops once a step gains < INNER_TOL (Newton's last gains shrink
    # quadratically, so what is left is within a few INNER_TOL)
    assert reached <= minimum + 10 * INNER_TOL
    assert again >= reached - 10 * INNER_TOL
    # a minimum: the Hessian positive definite, and the Newton decrement g' H^-1 g (twice
    # the gain a Newton step would still make) within the M-step's stopping tolerance
    _, _, orientations = decompose(stored)
    rotated = np.einsum("ia,kij,jb->kab", orientations[0], scatter, orientations[0])
    gradient, hessian = derivatives(nk, rotated)
    curvatures = np.linalg.eigvalsh(hessian)
    assert curvatures.min() > 0
    assert gradient @ np.linalg.solve(hessian, gradient) <= 20 * INNER_TOL


@pytest.mark.parametrize(("mclust_name", "seed"), [("VVE", 2), ("EVE", 5)])
def test_em_never_decreases_on_thin_badly_scaled_components(mclust_name, seed):
    """EM with EVE and VVE on the wine data (13 features on scales from 0.1 to 1,600,
    six components of about 30 rows), where Newton steps run in the M-steps: every
    iteration's mean log-likelihood is at least the previous one's, to the rounding of
    a sum of N log-densities.

    Without a variance floor (``reg_covar=0``), as EM's ascent is a property of the
    unregularised problem: with the floor the M-step maximises a slightly different
    objective, and along wine's flat ridges the log-likelihood then falls by up to 2e-8
    per row per iteration (measured at the default floor and at 1e-6). The seeds are
    starts whose components stay proper without it."""
    from importlib import resources

    import pandas as pd

    with resources.files("bayesgmm._data").joinpath("wine_sklearn.csv").open() as handle:
        X = pd.read_csv(handle).drop(columns=["target"]).to_numpy(dtype=float)
    model = GaussianMixture(
        6, covariance_type=mclust_name, init_params="random_from_data", n_init=1, tol=0.0,
        max_iter=150, reg_covar=0.0, random_state=seed,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = np.array(model.fit(X).lower_bounds_)
    rounding = len(X) * np.finfo(float).eps * np.abs(history).max()
    assert np.isfinite(history).all()
    assert np.diff(history).min() >= -rounding
    assert history[-1] > history[0] + 0.01
