"""The stopping rule reaches the optimum: Aitken's projection of the remaining gain."""

import warnings

import numpy as np
import pytest

from bayesgmm import GaussianMixture
from bayesgmm.datasets import load_sp500_returns
from bayesgmm.em.stopping import aitken_converged, aitken_limit, converged_by


def _geometric(rate: float, scale: float, n: int, limit: float = -2.0) -> list[float]:
    """A linearly converging log-likelihood: L_t = L_inf - scale * rate**t."""
    return [limit - scale * rate**t for t in range(1, n + 1)]


@pytest.mark.parametrize("rate", [0.5, 0.9, 0.99, 0.999])
def test_stops_only_when_projected_remaining_gain_is_below_tol(rate):
    tol = 1e-6
    history = _geometric(rate, 1.0, 20_000)
    stop = next(t for t in range(2, len(history) + 1) if converged_by(history, t, tol))
    # closed form: after t steps the remaining gain is scale * rate**t
    remaining = -2.0 - history[stop - 1]
    assert remaining < tol
    # and it did not run far past the point where that became true
    first_true = next(t for t in range(1, len(history) + 1) if -2.0 - history[t - 1] < tol)
    assert stop <= first_true + 2


def test_last_gain_alone_would_stop_early_on_slow_convergence():
    """A gain below tol with a rate near one still leaves much more to come."""
    history = _geometric(0.999, 1e-3, 50)
    gain = history[-1] - history[-2]
    assert gain < 1e-5  # scikit-learn's rule with tol=1e-5 would stop here
    assert not converged_by(history, len(history), 1e-5)  # about 1e-3 * 0.95 is still to come


def test_compiled_rule_is_the_python_rule():
    """One source: the compiled rule the loop calls decides as the Python function does."""
    rng = np.random.default_rng(0)
    for _ in range(200):
        history = np.cumsum(rng.exponential(rng.choice([1e-9, 1e-6, 1e-3]), 6)) - 3.0
        history[rng.integers(6)] -= rng.choice([0.0, 1e-7])
        for n in range(1, 7):
            assert aitken_converged(history, n, 1e-6) == converged_by(history, n, 1e-6)


def test_aitken_limit_is_the_geometric_limit():
    history = _geometric(0.8, 1.0, 10)
    assert aitken_limit(history) == pytest.approx(-2.0, abs=1e-12)
    assert aitken_limit(history[:2]) == history[1]


def test_zero_tolerance_never_stops_and_decrease_means_converged():
    assert not aitken_converged(np.array([-3.0, -2.0, -2.0, -2.0]), 4, 0.0)
    assert aitken_converged(np.array([-3.0, -2.0, -2.0 - 1e-15]), 3, 1e-6)


@pytest.mark.slow
def test_sp500_bic_picks_the_k_of_a_tight_tolerance_fit():
    """Non-regression for the motivating case: default tol reaches the optimum.

    scikit-learn's default tol=1e-3 stops after a few iterations on the S&P 500 daily
    returns and its BIC then picks K=2; fitted to convergence, BIC picks K=3.
    """
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    X = load_sp500_returns().to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = {k: GaussianMixture(k, random_state=0).fit(X).bic(X) for k in range(1, 5)}
        early = {
            k: sklearn_mixture.GaussianMixture(k, random_state=0).fit(X).bic(X) for k in range(1, 5)
        }
    assert min(early, key=early.get) == 2
    assert min(ours, key=ours.get) == 3
    assert ours[3] < early[3] - 100
    assert np.all(np.isfinite(list(ours.values())))
