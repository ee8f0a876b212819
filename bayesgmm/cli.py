"""The ``bayesgmm`` command line.

Commands
--------
demo
    The main job on bundled data (Old Faithful): model selection by BIC, an EM fit,
    a Bayesian fit of the chosen model, their comparison, and PNG plots.
fit DATA.csv
    Fit one model (EM, NUTS or ADVI) and save it as netCDF.
select DATA.csv
    Fit a grid of components x covariance types and rank it.
predict MODEL.nc DATA.csv
    Labels, responsibilities and log-densities of new rows, as CSV.
info MODEL.nc
    Describe a saved model.

Problems with files or options end in one line on standard error and exit status 2;
Ctrl-C ends in one line and status 130; a closed output pipe (``| head``) ends quietly
with status 141, as a program stopped by SIGPIPE does.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

__all__ = ["main"]

_EXIT_ERROR = 2
_EXIT_INTERRUPTED = 130  # 128 + SIGINT
_EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE
_DELIMITERS = (",", ";", "\t")
_METHODS = ("em", "nuts", "advi")
_TYPES = ("full", "tied", "diag", "spherical")
#: EM starts per fit in the demo (the estimator's default runs more on small data).
_DEMO_STARTS = 10


def _note(message: str) -> None:
    """A line on standard error about how the input was read."""
    print(f"bayesgmm: {message}", file=sys.stderr)


class CommandError(Exception):
    """A problem with the user's files or options: reported in one line, exit code 2."""


class _UsageError(CommandError):
    """A command line that argparse refuses; ``prog`` names the (sub)command."""

    def __init__(self, prog: str, message: str) -> None:
        super().__init__(f"{message}. See '{prog} --help'.")
        self.prog = prog


class _ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line naming the command and where help is."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(self.prog, message)


# ---------------------------------------------------------------------- input helpers
def _read_csv(path: str, columns: str | None = None) -> Any:
    """The numeric columns of a CSV file (or the ``--columns`` named), as a DataFrame."""
    frame = _parse_csv(path)
    if columns:
        return frame[_named_columns(frame, columns, path)]
    numeric = frame.select_dtypes("number")
    dropped = [name for name in frame.columns if name not in numeric.columns]
    if numeric.shape[1] == 0:
        raise CommandError(
            f"{path} has no numeric columns (columns: {list(frame.columns)}); a mixture "
            "model needs numbers."
        )
    if dropped:
        _note(f"ignoring non-numeric column(s) {dropped} of {path}")
    return numeric


def _named_columns(frame: Any, columns: str, path: str) -> list[str]:
    wanted = [name.strip() for name in columns.split(",") if name.strip()]
    missing = [name for name in wanted if name not in frame.columns]
    if missing:
        raise CommandError(
            f"{path} has no column(s) {missing}. Its columns are {list(frame.columns)}."
        )
    return wanted


def _model_columns(path: str, columns: str | None, model: Any) -> Any:
    """The columns of ``path`` that the model was fitted on, matched by name.

    Names that match in another order are reordered. ``--columns`` maps other names onto
    the model's features by position. A model fitted without names takes the numeric
    columns in their order.
    """
    expected = list(model.feature_names)
    named = bool(model.to_dataset().attrs["feature_names_given"])
    if columns:
        frame = _parse_csv(path)
        frame = frame[_named_columns(frame, columns, path)]
    elif named:
        frame = _parse_csv(path)
        missing = [name for name in expected if name not in frame.columns]
        if missing:
            raise CommandError(
                f"{path} has no column(s) {missing}, which the model was fitted on "
                f"(features {expected}; {path} has {list(frame.columns)}). Rename the "
                f"columns, or pass --columns with {path}'s columns in the model's order."
            )
        frame = frame[expected]
    else:
        frame = _read_csv(path)
    if frame.shape[1] != len(expected):
        raise CommandError(
            f"The model was fitted on {len(expected)} feature(s) {expected}, but {path} gives "
            f"{frame.shape[1]} ({list(frame.columns)}). Pass the same columns (--columns)."
        )
    if list(frame.columns) != expected:
        _note(f"using column(s) {list(frame.columns)} of {path} as the model's {expected}")
        frame = frame.set_axis(expected, axis=1)
    return frame


def _parse_csv(path: str) -> Any:
    """Read a CSV file: delimiter and decimal mark from its text, rows checked against the header.

    A header whose most frequent separator is ';' or a tab sets the delimiter, and decimal
    commas are read as such when the delimiter is not a comma (a note says so). Rows with
    more fields than the header are read right when the extra fields are empty (a delimiter
    at the end of each row), and refused otherwise: pandas would shift the columns.
    """
    import pandas as pd

    file = Path(path)
    if not file.exists():
        raise CommandError(f"{path}: no such file. Give the path of a CSV file with a header row.")
    if file.is_dir():
        raise CommandError(f"{path} is a folder; give the path of a CSV file.")
    options, extra = _csv_dialect(file, path)
    try:
        if extra > 0:
            frame = _without_extra_fields(file, path, options, extra)
        else:
            frame = pd.read_csv(file, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CommandError(
            f"{path} could not be read as CSV ({type(error).__name__}: {error}). The file "
            "must be comma-separated text with a header row."
        ) from None
    empty = [
        name
        for name in frame.columns
        if str(name).startswith("Unnamed: ") and frame[name].isna().all()
    ]
    if empty:
        _note(f"ignoring {len(empty)} empty column(s) without a name in {path}")
        frame = frame.drop(columns=empty)
    if frame.empty:
        raise CommandError(f"{path} has no data rows.")
    return frame


def _csv_dialect(file: Path, path: str) -> tuple[dict[str, str], int]:
    """``sep`` and ``decimal`` for pandas, and how many more fields the first row has than
    the header, read from the first lines."""
    import csv

    with open(file, encoding="utf-8", errors="replace", newline="") as handle:
        header = handle.readline()
        sample = handle.read(1 << 16)
    counts = {delimiter: header.count(delimiter) for delimiter in _DELIMITERS}
    sep = max(_DELIMITERS, key=lambda delimiter: counts[delimiter])  # ties: the comma
    sep = sep if counts[sep] else ","
    options = {"sep": sep}
    if sep != ",":
        decimal = "," if re.search(r"\d,\d", sample) else "."
        shown = "tab" if sep == "\t" else repr(sep)
        marks = " with decimal commas" if decimal == "," else ""
        _note(f"note: reading {path} as {shown}-separated{marks}")
        options["decimal"] = decimal
    rows = list(csv.reader([header, sample.split("\n", 1)[0]], delimiter=sep))
    extra = len(rows[1]) - len(rows[0]) if len(rows) == 2 and rows[1] else 0
    return options, extra


def _without_extra_fields(file: Path, path: str, options: dict[str, str], extra: int) -> Any:
    """The rows have ``extra`` fields more than the header: empty ones are dropped."""
    import pandas as pd

    fields = pd.read_csv(file, header=None, skiprows=1, **options)
    names = list(pd.read_csv(file, nrows=0, **options).columns)
    if fields.iloc[:, len(names) :].isna().all().all():
        _note(f"note: every row of {path} ends in a delimiter; ignoring the empty last field")
        return fields.iloc[:, : len(names)].set_axis(names, axis=1)
    raise CommandError(
        f"{path}: its rows have {len(names) + extra} fields but its header names "
        f"{len(names)} columns ({names}), so values cannot be matched to names. Add the "
        "missing column name(s) to the header, or remove the extra field(s)."
    )


def _writable(path_text: str | None, option: str) -> None:
    """Refuse, before any work, an output path that cannot be written."""
    if not path_text:
        return
    path = Path(path_text)
    if path.is_dir():
        raise CommandError(f"{option} {path_text} is a folder; give a file name.")
    folder = path.parent
    if not folder.is_dir():
        raise CommandError(
            f"{option} {path_text}: the folder {str(folder)!r} does not exist. Create it or "
            "choose another path."
        )
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError("the file is read-only")
    except OSError as error:
        reason = getattr(error, "strerror", None) or error
        raise CommandError(
            f"{option} {path_text} cannot be written ({reason}). Choose a writable place."
        ) from None


def _parse_components(text: str) -> list[int]:
    """``"3"``, ``"1-9"`` or ``"2,3,5"`` to a list of ints."""
    values: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                low, high = (int(v) for v in part.split("-", 1))
                values.extend(range(low, high + 1))
            elif part:
                values.append(int(part))
    except ValueError:
        raise CommandError(
            f"--components {text!r} is not a number, a range like 1-9 or a list like 2,3,5."
        ) from None
    if not values or min(values) < 1:
        raise CommandError(f"--components {text!r} must give numbers of components >= 1.")
    return values


def _parse_types(text: str) -> list[str]:
    """Covariance models: mclust's names or scikit-learn's ("all": mclust's 14, in order)."""
    from .covariance import COVARIANCE_TYPES
    from .selection import ALL_MODELS

    if text.strip() == "all":
        return list(ALL_MODELS)
    types = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in types if name not in COVARIANCE_TYPES]
    if unknown or not types:
        raise CommandError(
            f"--covariance {text!r}: unknown type(s) {unknown}. Choose from "
            f"{list(COVARIANCE_TYPES)} (comma-separated for select, or 'all')."
        )
    return types


def _load_model(path: str) -> Any:
    from .result import load

    if not Path(path).exists():
        raise CommandError(f"{path}: no such file. Give a model saved by 'bayesgmm fit --out'.")
    try:
        return load(path)
    except (ValueError, OSError) as error:
        raise CommandError(f"{path} is not a bayesgmm model file: {error}") from None


def _estimator(args: argparse.Namespace, n_components: int, covariance_type: str) -> Any:
    if args.method == "em":
        from .em import GaussianMixture

        return GaussianMixture(
            n_components, covariance_type=covariance_type, random_state=args.seed
        )
    try:
        from .bayes import BayesianGaussianMixture
    except ImportError as error:  # pragma: no cover - depends on the installation
        raise CommandError(f"Bayesian fits are unavailable: {error}") from None
    return BayesianGaussianMixture(
        n_components=n_components,
        covariance_type=covariance_type,
        method=args.method,
        draws=args.draws,
        chains=args.chains,
        random_state=args.seed,
        progressbar=not args.quiet,
    )


def _print_table(frame: Any, file: Any = None) -> None:
    print(frame.to_string(float_format=lambda v: f"{v:.4g}", na_rep="-"), file=file)


# ---------------------------------------------------------------------- commands
def _fit(args: argparse.Namespace) -> int:
    _writable(args.out, "--out")
    ks = _parse_components(str(args.components))
    types = _parse_types(args.covariance)
    if len(ks) != 1 or len(types) != 1:
        raise CommandError(
            "fit takes one number of components and one covariance type; use 'bayesgmm "
            "select' to compare several."
        )
    X = _read_csv(args.data, args.columns)
    estimator = _estimator(args, ks[0], types[0])
    estimator.fit(X)
    result = estimator.result_
    print(result)
    print(f"BIC {result.bic(X):.2f}   AIC {result.aic(X):.2f}   ICL {result.icl(X):.2f}")
    if args.out:
        result.save(args.out)
        print(f"saved to {args.out}")
    return 0


def _select(args: argparse.Namespace) -> int:
    from .selection import select

    for option, target in (
        ("--out", args.out),
        ("--save-best", args.save_best),
        ("--plot", args.plot),
    ):
        _writable(target, option)
    if args.plot:
        _use_agg()
    ks, types = _parse_components(args.components), _parse_types(args.covariance)
    X = _read_csv(args.data, args.columns)
    params: dict[str, Any] = {}
    if args.method != "em":
        params = {"draws": args.draws, "chains": args.chains}
    selection = select(
        X,
        n_components=ks,
        covariance_types=types,
        criterion=args.criterion,
        method=args.method,
        random_state=args.seed,
        progress=not args.quiet,
        estimator_params=params,
    )
    print(selection)
    best = selection.best_params_
    print(f"\nbest: {best['covariance_type']} with {best['n_components']} components")
    if args.out:
        selection.table.to_csv(args.out, index=False)
        print(f"table written to {args.out}")
    if args.save_best:
        selection.best_.result_.save(args.save_best)
        print(f"best model saved to {args.save_best}")
    if args.plot:
        ax = selection.plot()
        ax.figure.savefig(args.plot, dpi=120)
        print(f"plot written to {args.plot}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    _writable(args.out, "--out")
    result = _load_model(args.model)
    X = _model_columns(args.data, args.columns, result)
    resp = result.responsibilities(X)
    if hasattr(resp, "data_vars"):  # Bayesian: posterior mean and 94% credible bounds
        table = {"label": np.asarray(resp["mean"].argmax("component").values)}
        for k in range(result.n_components):
            table[f"prob_{k}"] = resp["mean"].isel(component=k).values
            for bound in ("lower", "upper"):
                table[f"prob_{k}_{bound}"] = resp[bound].isel(component=k).values
    else:
        table = {"label": result.predict(X).values}
        for k in range(result.n_components):
            table[f"prob_{k}"] = resp.isel(component=k).values
    table["log_density"] = result.log_prob(X).values
    frame = pd.DataFrame(table, index=X.index)
    if args.out:
        frame.to_csv(args.out, index=False)
        print(f"{len(frame)} predictions written to {args.out}")
    else:
        frame.to_csv(sys.stdout, index=False)
    return 0


def _info(args: argparse.Namespace) -> int:
    result = _load_model(args.model)
    print(result)
    print(f"features: {', '.join(result.feature_names)}")
    print(f"free parameters: {result.n_parameters}")
    if result.converged is not None:
        print(f"converged: {result.converged}")
    if result.reg_covar is not None:
        print(f"reg_covar: {result.reg_covar:g}")
    print(f"degenerate components: {'; '.join(result.degenerate) or 'none'}")
    if result.posterior is not None:
        posterior = result.posterior.posterior
        print(
            f"posterior: {posterior.sizes['chain']} chain(s) x {posterior.sizes['draw']} draws; "
            f"groups {list(result.posterior.groups())}"
        )
    return 0


# ---------------------------------------------------------------------- demo
def _use_agg() -> None:
    try:
        import matplotlib
    except ImportError:
        raise CommandError(
            'Plots need matplotlib: pip install "bayesgmm[plot]" (or run without --plot).'
        ) from None
    matplotlib.use("Agg")


def _demo(args: argparse.Namespace) -> int:
    from .datasets import load_faithful

    out = Path(args.out)
    plots = not args.no_plots and _demo_plot_folder(out)
    X = load_faithful()
    print(f"Old Faithful: {len(X)} eruptions, features {list(X.columns)} (minutes)")
    selection = _demo_selection(args, X)
    em = selection.best_
    bayes = comparison = None
    if args.method != "none":
        bayes, comparison = _demo_bayes(args, X, em, selection.best_params_)
    if plots:
        _demo_plots(out, X, selection, em, bayes, comparison)
    return 0


def _demo_plot_folder(out: Path) -> bool:
    """Whether plots can be drawn; the folder is made (and checked) before any fit."""
    try:
        _use_agg()
    except CommandError as error:
        print(f"no plots: {error}")
        return False
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out} is a file; give a folder for the plots.")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as error:
        raise CommandError(
            f"--out {out} cannot be written ({error.strerror or error}). Choose a writable "
            "folder, or pass --no-plots."
        ) from None
    return True


def _demo_selection(args: argparse.Namespace, X: Any) -> Any:
    from .selection import select

    ks = range(1, 3) if args.fast else range(1, 7)
    print(
        f"\n1. Model selection by BIC over K = {ks.start}..{ks.stop - 1} x 4 covariance types "
        f"(EM, {_DEMO_STARTS} starts per fit to keep the demo short)"
    )
    selection = select(
        X,
        n_components=ks,
        covariance_types=_TYPES,  # the four the Bayesian model has, for step 2
        random_state=0,
        progress=not args.quiet,
        estimator_params={"n_init": _DEMO_STARTS},
    )
    shown = selection.table.pivot(index="n_components", columns="covariance_type", values="bic")
    print("BIC (lower is better):")
    _print_table(shown[[t for t in _TYPES if t in shown]])
    best = selection.best_params_
    print(f"best: {best['covariance_type']} with {best['n_components']} components")
    print(selection.best_.result_)
    return selection


def _demo_bayes(args: argparse.Namespace, X: Any, em: Any, best: dict) -> tuple[Any, Any]:
    """The Bayesian fit of the chosen model and its comparison with EM (None, None if absent)."""
    import numpy as np

    print(f"\n2. Bayesian fit of the same model ({args.method})")
    try:
        from .bayes import BayesianGaussianMixture
    except ImportError as error:
        print(f"skipped: the Bayesian estimator is not available ({error})")
        return None, None
    from .comparison import compare

    draws, chains = (100, 2) if args.fast else (500, 2)
    kwargs: dict[str, Any] = {
        "n_components": best["n_components"],
        "covariance_type": best["covariance_type"],
        "method": args.method,
        "draws": draws,
        "chains": chains,
        "random_state": 0,
        "progressbar": not args.quiet,
    }
    if args.method == "nuts":
        kwargs["tune"] = draws
    else:  # a demo: ADVI with the estimator's convergence check, capped
        kwargs["advi_max_iter"] = 20_000
    bayes = BayesianGaussianMixture(**kwargs).fit(X)
    print(bayes.result_)
    comparison = compare(em, bayes, X)
    print("\n3. EM versus Bayes, component by component (EM's numbering)")
    shown = comparison.table.copy()
    shown["inside"] = np.where(shown.pop("em_inside"), "yes", "NO")
    _print_table(shown.drop(columns=["posterior_sd"]).set_index("parameter"))
    print()
    _print_table(comparison.global_table)
    return bayes, comparison


def _demo_plots(out: Path, X: Any, selection: Any, em: Any, bayes: Any, comparison: Any) -> None:
    import matplotlib.pyplot as plt

    from . import plot

    written = []

    def save(ax_or_fig: Any, name: str) -> None:
        figure = getattr(ax_or_fig, "figure", ax_or_fig)
        figure.savefig(out / name, dpi=110)
        plt.close(figure)
        written.append(name)

    save(selection.plot(), "selection_bic.png")
    save(plot.plot_clusters(em, X), "em_clusters.png")
    save(plot.plot_uncertainty(em, X), "em_uncertainty.png")
    save(plot.plot_density(em, X), "em_density.png")
    if bayes is not None:
        aligned = comparison.bayes_aligned  # numbered as EM's components, so colours match
        save(plot.plot_posterior_ellipses(aligned, X), "bayes_posterior_ellipses.png")
        save(plot.plot_uncertainty(aligned, X), "bayes_uncertainty.png")
        save(comparison.plot(X), "em_vs_bayes.png")
    print(f"\nplots written to {out.resolve()}/: {', '.join(written)}")


# ---------------------------------------------------------------------- parser
def _parser() -> argparse.ArgumentParser:
    parser = _ArgumentParser(
        prog="bayesgmm",
        description="Gaussian mixture models: EM and Bayesian (PyMC) fits, selection, plots.",
    )
    common = _ArgumentParser(add_help=False)
    common.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def bayes_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--method", choices=_METHODS, default="em", help="default: em")
        sub.add_argument("--draws", type=int, default=1000, help="posterior draws per chain")
        sub.add_argument("--chains", type=int, default=4, help="chains (NUTS)")
        sub.add_argument("--seed", type=int, default=0, help="random_state (default 0)")
        sub.add_argument("--columns", help="comma-separated columns to use (default: numeric)")

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="the main job: selection, EM and Bayesian fits on Old Faithful, plots",
    )
    demo.add_argument("--out", default="bayesgmm-demo", help="folder for the PNG plots")
    demo.add_argument(
        "--method",
        choices=("advi", "nuts", "none"),
        default="advi",
        help="Bayesian method (default advi: seconds; nuts: tens of seconds; none: EM only)",
    )
    demo.add_argument("--fast", action="store_true", help="a smaller grid and fewer draws")
    demo.add_argument("--no-plots", action="store_true", help="print tables only")
    demo.set_defaults(run=_demo)

    fit = commands.add_parser("fit", parents=[common], help="fit one model and save it (netCDF)")
    fit.add_argument("data", help="CSV file with a header row")
    fit.add_argument("--components", "-k", default="2", help="number of components")
    fit.add_argument(
        "--covariance", default="full", help=f"one of {', '.join(_TYPES)} or mclust's names"
    )
    fit.add_argument("--out", help="save the model to this .nc file")
    bayes_options(fit)
    fit.set_defaults(run=_fit)

    sel = commands.add_parser("select", parents=[common], help="rank components x covariance types")
    sel.add_argument("data", help="CSV file with a header row")
    sel.add_argument("--components", "-k", default="1-9", help="e.g. 1-9 or 2,3,4")
    sel.add_argument(
        "--covariance", default="all", help="comma-separated models, or all (mclust's 14)"
    )
    sel.add_argument("--criterion", choices=("bic", "aic", "icl"), default="bic")
    sel.add_argument("--out", help="write the table to this CSV file")
    sel.add_argument("--save-best", help="save the best model to this .nc file")
    sel.add_argument("--plot", help="write the criterion plot to this PNG file")
    bayes_options(sel)
    sel.set_defaults(run=_select)

    pred = commands.add_parser(
        "predict", parents=[common], help="labels and probabilities of new rows (CSV)"
    )
    pred.add_argument("model", help="model file written by 'bayesgmm fit --out'")
    pred.add_argument("data", help="CSV file with the model's feature columns")
    pred.add_argument("--out", help="CSV file to write (default: standard output)")
    pred.add_argument("--columns", help="comma-separated columns to use")
    pred.set_defaults(run=_predict)

    info = commands.add_parser("info", parents=[common], help="describe a saved model")
    info.add_argument("model", help="model file written by 'bayesgmm fit --out'")
    info.set_defaults(run=_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bayesgmm`` command.

    Parameters
    ----------
    argv : list of str or None, default=None
        Command-line arguments without the program name (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 for a problem with the files or options (one line on
        standard error), 130 when interrupted (Ctrl-C), 141 when standard output is
        closed early (``bayesgmm predict ... | head``).

    Examples
    --------
    >>> main(["info", "no-such-file.nc"])
    2
    """
    command = "bayesgmm"
    try:
        args = _parser().parse_args(argv)
        command = f"bayesgmm {args.command}"
        logging.basicConfig(level=logging.WARNING, format="bayesgmm: %(message)s")
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            status = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except _UsageError as error:
        print(f"{error.prog}: error: {error}", file=sys.stderr)
        return _EXIT_ERROR
    except SystemExit as exit_:  # --help
        return exit_.code if isinstance(exit_.code, int) else _EXIT_ERROR
    except BrokenPipeError:
        _detach_stdout()
        return _EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"{command}: interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED
    except (CommandError, ValueError, TypeError, OSError) as error:
        print(f"{command}: error: {error}", file=sys.stderr)
        return _EXIT_ERROR


def _detach_stdout() -> None:
    """Point standard output at the null device, so the exit's flush raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no file descriptor (captured output)
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
