"""The compiled likelihood Op and log posterior against independent references.

* ``MixtureLogp`` (the PyMC model's likelihood): row log-densities and responsibilities
  against SciPy's multivariate normal densities and ``logsumexp``; its symbolic
  gradient against finite differences (``pytensor.gradient.verify_grad``).
* ``PosteriorDensity`` (what nutpie samples): the whole log posterior against the
  PyMC model's ``model.logp()`` (value differences between points, so the additive
  constant cancels, and gradients), and its gradient against finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pymc")

import pytensor  # noqa: E402
import pytensor.tensor as pt  # noqa: E402
from scipy.special import logsumexp  # noqa: E402
from scipy.stats import multivariate_normal  # noqa: E402

from bayesgmm.bayes.density import PosteriorDensity  # noqa: E402
from bayesgmm.bayes.likelihood import MixtureLogp  # noqa: E402
from bayesgmm.bayes.model import build_model, standardised_data  # noqa: E402
from bayesgmm.bayes.priors import Priors  # noqa: E402
from bayesgmm.datasets import make_mixture  # noqa: E402

TYPES = ("full", "tied", "diag", "spherical")


def _random_factor(rng, kind, k, d):
    if kind == "diag":
        return np.abs(rng.normal(size=(k, d))) + 0.3
    factor = np.triu(rng.normal(scale=0.4, size=(k, d, d)))
    idx = np.arange(d)
    factor[:, idx, idx] = np.abs(factor[:, idx, idx]) + 0.5
    return factor


@pytest.mark.parametrize("kind", ["full", "diag"])
@pytest.mark.parametrize("shape", [(700, 3, 2), (300, 2, 4), (50, 1, 1)])
def test_op_matches_scipy(kind, shape):
    n, k, d = shape
    rng = np.random.default_rng(1)
    z = rng.normal(size=(n, d)) * 2.0
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(size=(k, d))
    factor = _random_factor(rng, kind, k, d)
    log_prob, resp = (v.eval() for v in MixtureLogp(kind)(z, np.log(weights), means, factor))
    if kind == "diag":
        precisions = factor[:, :, None] * np.eye(d) * factor[:, None, :]
    else:
        precisions = factor @ factor.transpose(0, 2, 1)
    covariances = np.linalg.inv(precisions)
    terms = np.stack(
        [
            np.log(weights[j]) + multivariate_normal(means[j], covariances[j]).logpdf(z).reshape(n)
            for j in range(k)
        ],
        axis=1,
    )
    expected = logsumexp(terms, axis=1)
    np.testing.assert_allclose(log_prob, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(resp, np.exp(terms - expected[:, None]), atol=1e-12)


@pytest.mark.parametrize("kind", ["full", "diag"])
def test_op_gradient_matches_finite_differences(kind):
    rng = np.random.default_rng(2)
    n, k, d = 60, 3, 2
    z = rng.normal(size=(n, d))
    g = rng.normal(size=n)  # a non-trivial cotangent: every row weighted differently
    factor = _random_factor(rng, kind, k, d)
    mask = np.triu(np.ones((d, d))) if kind == "full" else 1.0

    def cost(log_weights, means, free_factor):
        # keep W upper triangular, as the Op requires
        return (MixtureLogp(kind)(z, log_weights, means, free_factor * mask)[0] * g).sum()

    pytensor.gradient.verify_grad(
        cost,
        [np.log(rng.dirichlet(np.ones(k))), rng.normal(size=(k, d)), factor],
        rng=np.random.default_rng(3),
        abs_tol=1e-6,
        rel_tol=1e-6,
    )


def test_op_refuses_its_responsibilities_gradient():
    log_prob, resp = MixtureLogp("diag")(
        np.zeros((2, 1)), pt.dvector("w"), np.zeros((1, 1)), [[1.0]]
    )
    with pytest.raises(NotImplementedError, match="not differentiable"):
        pytensor.grad(resp.sum(), log_prob.owner.inputs[1])


def test_op_rejects_wrong_dimensions():
    with pytest.raises(TypeError, match="means must have 2 dimensions"):
        MixtureLogp("full")(np.zeros((2, 1)), np.zeros(1), np.zeros(1), np.ones((1, 1, 1)))


def _pymc_reference(model):
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    point = model.initial_point()
    names = [var.name for var in model.value_vars]

    def as_point(theta):
        out, offset = {}, 0
        for name in names:
            size = point[name].size
            out[name] = theta[offset : offset + size].reshape(point[name].shape)
            offset += size
        return out

    return lambda theta: (float(logp(as_point(theta))), dlogp(as_point(theta)))


@pytest.mark.parametrize("covariance_type", TYPES)
@pytest.mark.parametrize(
    "k, d",
    [
        (3, 2),
        pytest.param(2, 3, marks=pytest.mark.slow),
        pytest.param(1, 2, marks=pytest.mark.slow),
    ],
)
def test_density_equals_pymc_model(covariance_type, k, d):
    """Same function as PyMC's model: value differences and gradients at random points."""
    truth = make_mixture(150, k, d, random_state=4)
    priors = Priors(weights_alpha=1.5, means_sigma=1.8, lkj_eta=2.5, sd_alpha=2.2, sd_beta=1.7)
    model = build_model(truth.X, k, covariance_type, priors)
    density = PosteriorDensity(standardised_data(model), k, covariance_type, priors)
    reference = _pymc_reference(model)
    rng = np.random.default_rng(5)
    thetas = [0.5 * rng.normal(size=density.n_dim) for _ in range(3)]
    ours = [density(theta) for theta in thetas]
    theirs = [reference(theta) for theta in thetas]
    for (
        (value, grad),
        (ref_value, ref_grad),
    ) in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(value - ours[0][0], ref_value - theirs[0][0], atol=1e-9)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("covariance_type", TYPES)
def test_density_gradient_matches_finite_differences(covariance_type):
    truth = make_mixture(80, 3, 2, random_state=6)
    z = (truth.X - truth.X.mean(0)) / truth.X.std(0)
    density = PosteriorDensity(z, 3, covariance_type, Priors())
    theta = 0.3 * np.random.default_rng(7).normal(size=density.n_dim)
    _, grad = density(theta)
    step = 1e-6
    numeric = np.array(
        [
            (density(theta + step * e)[0] - density(theta - step * e)[0]) / (2 * step)
            for e in np.eye(density.n_dim)
        ]
    )
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6)


def test_density_round_trips_start_values():
    """to_unconstrained then expand returns the weights, means and covariances given."""
    rng = np.random.default_rng(8)
    k, d = 3, 2
    weights = rng.dirichlet(np.ones(k))
    means = rng.normal(size=(k, d))
    a = rng.normal(size=(k, d, d))
    covariances = a @ a.transpose(0, 2, 1) + np.eye(d)
    chol = np.linalg.cholesky(covariances)
    rows, cols = np.tril_indices(d)
    start = {"weights": weights, "z_means": means}
    start.update({f"z_chol_{j}": chol[j][rows, cols] for j in range(k)})
    density = PosteriorDensity(np.zeros((5, d)), k, "full", Priors())
    values = density.expand(density.to_unconstrained(start))
    np.testing.assert_allclose(values["weights"], weights, rtol=1e-12)
    np.testing.assert_allclose(values["z_means"], means)
    np.testing.assert_allclose(values["z_covariances"], covariances, rtol=1e-12)


def test_density_is_minus_infinity_off_the_support():
    density = PosteriorDensity(np.zeros((4, 1)), 2, "diag", Priors())
    value, _ = density(np.array([0.0, 0.0, 0.0, np.nan, 0.0]))
    assert value == -np.inf
