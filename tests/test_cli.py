"""The bayesgmm command: fit/select/predict/info round trips and clear errors."""

import numpy as np
import pandas as pd
import pytest

from bayesgmm import GaussianMixture, load
from bayesgmm.cli import main
from bayesgmm.datasets import make_mixture


@pytest.fixture(scope="module")
def csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    truth = make_mixture(120, 2, 2, separation=8.0, random_state=0)
    frame = pd.DataFrame(truth.X, columns=["x", "y"])
    frame["name"] = "row"  # a text column the CLI must ignore
    path = folder / "data.csv"
    frame.to_csv(path, index=False)
    return folder, path, frame[["x", "y"]]


def test_fit_saves_a_model_equal_to_the_library_fit(csv, capsys):
    folder, path, X = csv
    model = folder / "m.nc"
    assert main(["fit", str(path), "-k", "2", "--covariance", "diag", "--out", str(model)]) == 0
    out = capsys.readouterr().out
    assert "BIC" in out and "saved to" in out
    loaded = load(model)
    direct = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    np.testing.assert_allclose(loaded.means.values, direct.means_)
    assert loaded.feature_names == ["x", "y"]


def test_predict_writes_labels_probabilities_and_density(csv, capsys):
    folder, path, X = csv
    model = folder / "p.nc"
    main(["fit", str(path), "-k", "2", "--out", str(model)])
    out_csv = folder / "pred.csv"
    assert main(["predict", str(model), str(path), "--out", str(out_csv)]) == 0
    predictions = pd.read_csv(out_csv)
    fitted = GaussianMixture(2, random_state=0).fit(X)
    assert list(predictions.columns) == ["label", "prob_0", "prob_1", "log_density"]
    np.testing.assert_array_equal(predictions["label"], fitted.predict(X))
    np.testing.assert_allclose(predictions[["prob_0", "prob_1"]], fitted.predict_proba(X))
    np.testing.assert_allclose(predictions["log_density"], fitted.score_samples(X))
    capsys.readouterr()
    assert main(["predict", str(model), str(path)]) == 0  # to standard output
    assert capsys.readouterr().out.startswith("label,prob_0,prob_1,log_density")


def test_info_describes_the_model(csv, capsys):
    folder, path, _ = csv
    model = folder / "i.nc"
    main(["fit", str(path), "-k", "2", "--out", str(model)])
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "covariance_type='full'" in out and "features: x, y" in out
    assert "degenerate components: none" in out


def test_select_writes_table_best_model_and_plot(csv, capsys):
    folder, path, _ = csv
    table, best, png = folder / "sel.csv", folder / "best.nc", folder / "sel.png"
    argv = ["select", str(path), "-k", "1-3", "--covariance", "full,spherical", "-q"]
    argv += ["--out", str(table), "--save-best", str(best), "--plot", str(png)]
    assert main(argv) == 0
    frame = pd.read_csv(table)
    assert len(frame) == 6 and frame["best"].sum() == 1
    chosen = frame[frame["best"]].iloc[0]
    assert load(best).n_components == chosen["n_components"]
    assert png.stat().st_size > 10_000
    assert "best:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["fit", "missing.csv"], "no such file"),
        (["fit", "{data}", "--covariance", "round"], "unknown type"),
        (["fit", "{data}", "-k", "two"], "not a number"),
        (["fit", "{data}", "-k", "1-3"], "one number of components"),
        (["fit", "{data}", "--columns", "x,zz"], "no column"),
        (["fit", "{text}"], "no numeric columns"),
        (["fit", "{empty}"], "could not be read"),
        (["select", "{data}", "-k", "0"], ">= 1"),
        (["info", "{data}"], "not a bayesgmm model file"),
        (["predict", "missing.nc", "{data}"], "no such file"),
    ],
)
def test_bad_files_and_options_give_one_line_errors(csv, capsys, argv, text):
    folder, path, _ = csv
    (folder / "text.csv").write_text("a,b\nx,y\nz,w\n")
    (folder / "empty.csv").write_text("")
    files = {"data": path, "text": folder / "text.csv", "empty": folder / "empty.csv"}
    argv = [arg.format(**files) for arg in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert text in err and "Traceback" not in err
    assert err.startswith(f"bayesgmm {argv[0]}: error:")
    assert err.count("\n") == 1


def test_demo_em_only_writes_plots(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--fast", "--method", "none", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "Model selection by BIC" in text and "best:" in text
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["em_clusters.png", "em_density.png", "em_uncertainty.png", "selection_bic.png"]


def test_demo_with_a_bayesian_fit(tmp_path, capsys):
    """README's main job (``bayesgmm demo``: EM, then ADVI by default), in the default run."""
    out = tmp_path / "demo"
    assert main(["demo", "--fast", "--method", "advi", "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert "EM versus Bayes" in text and "adjusted_rand_index" in text
    for name in ("bayes_posterior_ellipses.png", "bayes_uncertainty.png", "em_vs_bayes.png"):
        assert (out / name).stat().st_size > 10_000


def test_fit_nuts_saves_a_posterior_near_the_truth_that_info_and_predict_read(csv, capsys):
    """The CLI's Bayesian path in the default run (the slow tests add the demo and ADVI):
    the default sampler's posterior, saved, read back, near the simulated truth, and
    predictions whose credible bounds bracket the posterior-mean responsibilities."""
    folder, path, X = csv
    model = folder / "nuts.nc"
    argv = ["fit", str(path), "-k", "2", "--method", "nuts", "--draws", "200", "--chains", "2"]
    assert main([*argv, "--out", str(model), "-q"]) == 0
    capsys.readouterr()
    draws = load(model).draws()
    assert (draws.sizes["chain"], draws.sizes["draw"]) == (2, 200)
    truth = make_mixture(120, 2, 2, separation=8.0, random_state=0)
    means = draws["means"].mean(("chain", "draw")).values
    weights = draws["weights"].mean(("chain", "draw")).values
    for j, true_mean in enumerate(truth.means):
        k = int(np.argmin(np.linalg.norm(means - true_mean, axis=1)))
        n_j = int(np.sum(truth.labels == j))
        # separated clusters: the posterior mean within 4 standard errors of the truth,
        # the weight within 4 binomial standard errors
        standard_error = np.sqrt(np.diag(truth.covariances[j]) / n_j)
        assert np.all(np.abs(means[k] - true_mean) < 4 * standard_error), (j, means[k])
        assert abs(weights[k] - n_j / 120) < 4 * np.sqrt(0.25 / 120)
    assert main(["info", str(model)]) == 0
    assert "posterior:" in capsys.readouterr().out
    out_csv = folder / "nuts_pred.csv"
    assert main(["predict", str(model), str(path), "--out", str(out_csv)]) == 0
    predictions = pd.read_csv(out_csv)
    # the CLI writes what the library computes from the saved posterior (the posterior
    # mean responsibility can lie outside its own equal-tailed interval when a few draws
    # carry all of it, so the bounds are checked for order, not against the mean)
    expected = load(model).responsibilities(X.values)
    for k in range(2):
        np.testing.assert_allclose(predictions[f"prob_{k}"], expected["mean"][:, k], atol=1e-12)
        np.testing.assert_allclose(
            predictions[f"prob_{k}_lower"], expected["lower"][:, k], atol=1e-12
        )
        np.testing.assert_allclose(
            predictions[f"prob_{k}_upper"], expected["upper"][:, k], atol=1e-12
        )
        assert (predictions[f"prob_{k}_lower"] <= predictions[f"prob_{k}_upper"]).all()
    assert (predictions["label"] == expected["mean"].argmax("component").values).all()


@pytest.mark.slow
def test_fit_advi_saves_a_posterior_that_info_and_predict_read(csv, capsys):
    folder, path, X = csv
    model = folder / "advi.nc"
    argv = ["fit", str(path), "-k", "2", "--method", "advi", "--draws", "100", "--chains", "2"]
    assert main([*argv, "--out", str(model), "-q"]) == 0
    capsys.readouterr()
    assert main(["info", str(model)]) == 0
    assert "posterior:" in capsys.readouterr().out
    out_csv = folder / "advi_pred.csv"
    assert main(["predict", str(model), str(path), "--out", str(out_csv)]) == 0
    predictions = pd.read_csv(out_csv)
    assert {"prob_0_lower", "prob_0_upper", "log_density"} <= set(predictions.columns)
    assert (predictions["prob_0_lower"] <= predictions["prob_0"] + 1e-12).all()


# ---------------------------------------------------------------- columns by name
@pytest.fixture(scope="module")
def model(csv):
    folder, path, _ = csv
    target = folder / "named.nc"
    assert main(["fit", str(path), "-k", "2", "-q", "--out", str(target)]) == 0
    return target


def _predictions(path):
    return pd.read_csv(path)


def test_predict_matches_columns_by_name_in_any_order(csv, model, capsys):
    """Non-regression: columns were renamed by position, giving silently wrong numbers."""
    folder, path, X = csv
    swapped = folder / "swapped.csv"
    X[["y", "x"]].assign(note="row").to_csv(swapped, index=False)
    assert main(["predict", str(model), str(path), "--out", str(folder / "a.csv")]) == 0
    assert main(["predict", str(model), str(swapped), "--out", str(folder / "b.csv")]) == 0
    straight, reordered = _predictions(folder / "a.csv"), _predictions(folder / "b.csv")
    pd.testing.assert_frame_equal(straight, reordered)
    np.testing.assert_allclose(straight["log_density"], load(model).log_prob(X).values)


def test_predict_refuses_other_column_names(csv, model, capsys):
    folder, _, X = csv
    other = folder / "other.csv"
    X.set_axis(["a", "b"], axis=1).to_csv(other, index=False)
    capsys.readouterr()
    assert main(["predict", str(model), str(other)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "has no column(s) ['x', 'y'], which the model was fitted on" in err
    assert "pass --columns" in err
    # --columns maps other names onto the model's features, in the model's order
    out = folder / "mapped.csv"
    assert main(["predict", str(model), str(other), "--columns", "a,b", "--out", str(out)]) == 0
    assert "using column(s) ['a', 'b'] of" in capsys.readouterr().err
    np.testing.assert_allclose(_predictions(out)["log_density"], load(model).log_prob(X).values)


def test_predict_with_a_model_fitted_without_names_takes_columns_in_order(csv, capsys):
    folder, path, X = csv
    unnamed = folder / "unnamed.nc"
    GaussianMixture(2, random_state=0).fit(X.to_numpy()).result_.save(unnamed)
    out = folder / "unnamed.csv"
    assert main(["predict", str(unnamed), str(path), "--out", str(out)]) == 0
    np.testing.assert_allclose(
        _predictions(out)["log_density"], load(unnamed).log_prob(X.to_numpy()).values
    )


def test_predict_refuses_a_damaged_model(csv, model, capsys):
    """Non-regression: NaN weights loaded and every row was labelled 0, exit status 0."""
    h5py = pytest.importorskip("h5py")
    folder, path, _ = csv
    damaged = folder / "damaged.nc"
    damaged.write_bytes(model.read_bytes())
    with h5py.File(damaged, "r+") as handle:
        handle["bayesgmm/weights"][0] = np.nan
    capsys.readouterr()
    assert main(["predict", str(damaged), str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "not a bayesgmm model file" in captured.err
    assert "its variable 'weights' (component 0) is NaN or infinite" in captured.err


def test_info_does_not_print_data_from_other_files(csv, model, capsys):
    h5py = pytest.importorskip("h5py")
    folder, _, _ = csv
    secret = folder / "secret.bin"
    secret.write_bytes(np.array([123456.789, 987654.321, 1.0, 2.0, 3.0, 4.0]).tobytes())
    borrowed = folder / "borrowed.nc"
    borrowed.write_bytes(model.read_bytes())
    with h5py.File(borrowed, "r+") as handle:
        group = handle["bayesgmm"]
        attrs = {k: v for k, v in group["means"].attrs.items() if k != "DIMENSION_LIST"}
        scales = [group["means"].dims[axis][0] for axis in range(2)]
        for axis, scale in enumerate(scales):
            group["means"].dims[axis].detach_scale(scale)
        del group["means"]
        means = group.create_dataset("means", shape=(2, 2), dtype="<f8",
                                     external=[(str(secret), 0, 32)])  # fmt: skip
        for key, value in attrs.items():
            means.attrs[key] = value
        for axis, scale in enumerate(scales):
            means.dims[axis].attach_scale(scale)
    capsys.readouterr()
    assert main(["info", str(borrowed)]) == 2
    captured = capsys.readouterr()
    assert "123456" not in captured.out + captured.err
    assert "keeps its values in other files" in captured.err


# ---------------------------------------------------------------- CSV dialects
def test_semicolons_and_decimal_commas_are_read_with_a_note(csv, capsys):
    """Non-regression: such a file was read as one column."""
    folder, path, X = csv
    european = folder / "european.csv"
    X.to_csv(european, index=False, sep=";", decimal=",")
    argv = ["-k", "2", "-q"]
    assert main(["fit", str(european), *argv, "--out", str(folder / "eu.nc")]) == 0
    assert "as ';'-separated with decimal commas" in capsys.readouterr().err
    assert main(["fit", str(path), *argv, "--out", str(folder / "us.nc")]) == 0
    np.testing.assert_array_equal(load(folder / "eu.nc").means, load(folder / "us.nc").means)


def test_a_delimiter_ending_every_row_is_ignored_with_a_note(csv, capsys):
    folder, path, X = csv
    trailing = folder / "trailing.csv"
    trailing.write_text("x,y\n" + "".join(f"{a:.17g},{b:.17g},\n" for a, b in X.to_numpy()))
    assert main(["fit", str(trailing), "-k", "2", "-q", "--out", str(folder / "t.nc")]) == 0
    assert "ends in a delimiter; ignoring the empty last field" in capsys.readouterr().err
    direct = GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_allclose(load(folder / "t.nc").means.values, direct.means_)


def test_a_field_more_than_the_header_is_refused(csv, capsys):
    """Non-regression: pandas took the first field as the index and shifted the columns."""
    folder, _, X = csv
    shifted = folder / "shifted.csv"
    rows = "".join(f"{i},{a:.17g},{b:.17g}\n" for i, (a, b) in enumerate(X.to_numpy()))
    shifted.write_text("x,y\n" + rows)
    capsys.readouterr()
    assert main(["fit", str(shifted)]) == 2
    err = capsys.readouterr().err
    assert "its rows have 3 fields but its header names 2 columns (['x', 'y'])" in err
    assert err.count("\n") == 1


# ---------------------------------------------------------------- outputs and errors
@pytest.mark.parametrize(
    "argv",
    [
        ["fit", "{data}", "--out", "{nowhere}/m.nc"],
        ["fit", "{data}", "--out", "{folder}"],
        ["select", "{data}", "-k", "1-2", "--save-best", "{nowhere}/best.nc"],
        ["select", "{data}", "-k", "1-2", "--out", "{nowhere}/table.csv"],
        ["select", "{data}", "-k", "1-2", "--plot", "{nowhere}/bic.png"],
        ["predict", "{model}", "{data}", "--out", "{nowhere}/p.csv"],
    ],
)
def test_an_unwritable_output_is_refused_before_any_fit(csv, model, capsys, argv):
    """Non-regression: a traceback came after the whole fit had run."""
    folder, path, _ = csv
    names = {"data": path, "nowhere": folder / "no-such-folder", "folder": folder, "model": model}
    argv = [arg.format(**names) for arg in argv]
    capsys.readouterr()
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing was fitted or predicted
    assert captured.err.startswith(f"bayesgmm {argv[0]}: error: --")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["fit"], "bayesgmm fit: error: the following arguments are required: data. See "
                  "'bayesgmm fit --help'."),
        (["fit", "data.csv", "--method", "gibbs"], "bayesgmm fit: error: argument --method: "
                                                   "invalid choice: 'gibbs'"),
        ([], "bayesgmm: error: the following arguments are required: COMMAND"),
        (["bogus"], "bayesgmm: error: argument COMMAND: invalid choice: 'bogus'"),
    ],
)  # fmt: skip
def test_argument_errors_are_one_line(capsys, argv, text):
    """Non-regression: argparse printed a six-line usage block; the docs promise one line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(text)
    assert err.count("\n") == 1


def test_help_exits_zero(capsys):
    assert main(["fit", "--help"]) == 0
    assert "usage: bayesgmm fit" in capsys.readouterr().out


def _cli(*args, **kwargs):
    """Run python on this checkout's bayesgmm, with the default Ctrl-C handling."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.Popen([sys.executable, *args], cwd=root, env=env, text=True, **kwargs)


def test_a_closed_pipe_ends_quietly(csv, model, tmp_path):
    """Non-regression: ``bayesgmm predict ... | head`` ended in a BrokenPipeError traceback."""
    import subprocess

    _, _, X = csv
    big = tmp_path / "big.csv"
    pd.concat([X] * 40, ignore_index=True).to_csv(big, index=False)  # ~ 300 KB of output
    child = _cli("-m", "bayesgmm.cli", "predict", str(model), str(big),
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert child.stdout.readline().startswith("label,")
    child.stdout.close()  # as `head -1` does
    err = child.stderr.read()
    assert child.wait(timeout=120) == 141
    assert err == ""


def test_ctrl_c_ends_in_one_line_and_status_130(tmp_path):
    """Non-regression: Ctrl-C printed a 35-line KeyboardInterrupt traceback."""
    import signal
    import subprocess
    import time

    rng = np.random.default_rng(0)
    big = tmp_path / "big.csv"
    pd.DataFrame(rng.normal(size=(20_000, 4)), columns=list("abcd")).to_csv(big, index=False)
    # as from a terminal: SIGINT unblocked and handled by Python, whatever this process
    # inherited; SIGUSR1 dumps the child's stacks if it hangs
    script = f"""
import faulthandler, signal, sys
signal.pthread_sigmask(signal.SIG_UNBLOCK, {{signal.SIGINT}})
signal.signal(signal.SIGINT, signal.default_int_handler)
faulthandler.register(signal.SIGUSR1, all_threads=True)
from bayesgmm.cli import main
print("ready", flush=True)
sys.exit(main(["select", {str(big)!r}, "-k", "1-9", "-q"]))
"""
    child = _cli("-c", script, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(2.0)  # inside main, fitting
        child.send_signal(signal.SIGINT)
        try:
            status = child.wait(timeout=120)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGUSR1)
            time.sleep(2.0)
            child.kill()
            pytest.fail(f"no exit 120 s after SIGINT; stacks:\n{child.stderr.read()}")
    finally:
        child.kill()
        err = child.stderr.read()
        child.stdout.close()
        child.stderr.close()
    assert status == 130
    assert err == "bayesgmm select: interrupted\n"
