"""select() over mclust's models: the default grid, one-dimensional data, mclust's table
and sign, BIC from mclust's parameter counts, ICL by hand, Gaussian and t in one table."""

import numpy as np
import pytest
from scipy import stats

from bayesgmm.covariance import get_covariance_model
from bayesgmm.datasets import load_seed_example, load_sp500_returns
from bayesgmm.selection import ALL_MODELS, select

#: mclust's 14 models, in mclust's order (mclust.options("emModelNames")).
MCLUST_ORDER = ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE",
                "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV"]  # fmt: skip


def mclust_parameter_count(name: str, G: int, d: int) -> int:
    """mclust's nMclustParams: mixing proportions, means and nVarParams, by hand."""
    pairs = d * (d - 1) // 2
    variance = {
        "EII": 1, "VII": G, "EEI": d, "VEI": G + d - 1, "EVI": 1 + G * (d - 1),
        "VVI": G * d, "EEE": d * (d + 1) // 2, "VEE": G + d * (d + 1) // 2 - 1,
        "EVE": 1 + G * (d - 1) + pairs, "VVE": G * d + pairs,
        "EEV": 1 + (d - 1) + G * pairs, "VEV": G + (d - 1) + G * pairs,
        "EVV": 1 + G * (d * (d + 1) // 2 - 1), "VVV": G * d * (d + 1) // 2,
        "E": 1, "V": G,
    }[name]  # fmt: skip
    return (G - 1) + G * d + variance


@pytest.fixture(scope="module")
def seed_grid():
    X = load_seed_example()[:200]
    return X, select(X, n_components=range(1, 4), random_state=0)


def test_default_grid_is_mclusts_fourteen_models(seed_grid):
    _, selection = seed_grid
    table = selection.table
    assert [get_covariance_model(t).mclust_name for t in ALL_MODELS] == MCLUST_ORDER
    assert list(dict.fromkeys(table["model"])) == MCLUST_ORDER
    assert len(table) == 14 * 3 and not table["failed"].any()
    wide = selection.criterion_table(sign="mclust")
    assert list(wide.columns) == MCLUST_ORDER and wide.index.tolist() == [1, 2, 3]


def test_bic_is_the_fits_log_likelihood_with_mclusts_counts(seed_grid):
    """BIC from each fit's own log-likelihood (MixtureResult) and mclust's parameter
    counts written out by hand; mclust's sign is the negative."""
    X, selection = seed_grid
    n, d = X.shape
    wide = selection.criterion_table(sign="mclust", degenerate=True)
    for row in selection.table.itertuples():
        fit = selection.estimators_[(row.covariance_type, row.n_components)]
        count = mclust_parameter_count(row.model, row.n_components, d)
        assert row.n_parameters == count
        log_likelihood = fit.result_.log_likelihood(X)
        expected = -2 * log_likelihood + count * np.log(n)
        assert row.bic == pytest.approx(expected, rel=1e-10)
        assert wide.loc[row.n_components, row.model] == pytest.approx(-expected, rel=1e-10)


def test_icl_by_hand_on_a_small_fit(seed_grid):
    """ICL = BIC - 2 sum_n log max_k z_nk (mclust's icl), the z from SciPy's densities."""
    X, selection = seed_grid
    fit = selection.estimators_[("full", 3)]
    dens = np.column_stack(
        [
            w * stats.multivariate_normal(m, c).pdf(X)
            for w, m, c in zip(fit.weights_, fit.means_, fit.covariances_, strict=True)
        ]
    )
    z = dens / dens.sum(axis=1, keepdims=True)
    row = selection.table.set_index(["covariance_type", "n_components"]).loc[("full", 3)]
    assert row["icl"] == pytest.approx(row["bic"] - 2 * np.log(z.max(axis=1)).sum(), rel=1e-9)


def test_summary_lists_the_best_in_either_sign(seed_grid):
    _, selection = seed_grid
    ours, theirs = selection.summary(n=3), selection.summary(n=3, sign="mclust")
    best = selection.best_params_
    model = get_covariance_model(best["covariance_type"]).mclust_name
    assert ours.columns[0] == f"{model},{best['n_components']}"
    np.testing.assert_allclose(theirs.loc["BIC"], -ours.loc["BIC"])
    assert (ours.loc["BIC diff"] >= 0).all() and (theirs.loc["BIC diff"] <= 0).all()


def test_one_dimensional_data_fit_e_and_v_once_each():
    """On one feature mclust has two models: E and V; the twelve others are copies."""
    X = load_sp500_returns().to_numpy()[:600]
    selection = select(X, n_components=range(1, 4), random_state=0)
    table = selection.table
    assert list(dict.fromkeys(table["model"])) == ["E", "V"]
    assert len(table) == 2 * 3
    assert len(selection.equivalents) == 12
    assert list(selection.criterion_table().columns) == ["E", "V"]
    for row in table.itertuples():
        assert row.n_parameters == mclust_parameter_count(row.model, row.n_components, 1)
    one = table[table["n_components"] == 1]
    np.testing.assert_allclose(one["bic"].iloc[0], one["bic"].iloc[1], rtol=1e-12)


def test_gaussian_and_t_candidates_in_one_table():
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.standard_t(3, size=(250, 2)), 6 + rng.standard_t(3, size=(250, 2))])
    selection = select(
        X, n_components=(1, 2), covariance_types=("EEE", "VVV"), family=("gaussian", "t")
    )
    table = selection.table
    assert list(selection.criterion_table().columns) == ["EEE", "VVV", "EEE-t", "VVV-t"]
    t_rows = table[table["family"] == "t"]
    for row in t_rows.itertuples():
        fit = selection.estimators_[(row.covariance_type, row.n_components, "t")]
        # the t fit's degrees of freedom are parameters on top of mclust's count
        count = mclust_parameter_count(row.model[:-2], row.n_components, 2) + row.n_components
        assert row.n_parameters == count
        covariances = fit.result_.draws()["covariances"].values[0, 0]  # full (K, D, D)
        dens = sum(
            w * stats.multivariate_t(m, c, df=nu).pdf(X)
            for w, m, c, nu in zip(fit.weights_, fit.means_, covariances, fit.dof_, strict=True)
        )
        assert row.bic == pytest.approx(-2 * np.log(dens).sum() + count * np.log(len(X)), rel=1e-9)
    # heavy tails: a t model wins, and best_params_ makes it again
    assert selection.best_params_["family"] == "t"
    assert selection.best_.family == "t"


def test_family_is_checked():
    X = load_seed_example()[:50]
    with pytest.raises(ValueError, match="family"):
        select(X, n_components=1, family="cauchy")
    with pytest.raises(ValueError, match="method='em'"):
        select(X, n_components=1, family="t", method="advi")
