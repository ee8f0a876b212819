"""The ``bayesgmm`` command line: ``bayesgmm demo`` runs the main job on bundled data."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _demo(args: argparse.Namespace) -> int:
    from .datasets import load_faithful
    from .em import GaussianMixture

    X = load_faithful()
    print(f"Old Faithful: {len(X)} eruptions, features {list(X.columns)}")
    print("BIC (lower is better) by number of components, full covariance:")
    fits = {}
    for k in range(1, 6):
        fits[k] = GaussianMixture(k, covariance_type="full", random_state=0).fit(X)
        print(f"  K={k}: BIC {fits[k].bic(X):10.2f}")
    best = min(fits, key=lambda k: fits[k].bic(X))
    print(f"\nBest by BIC: K={best}")
    print(fits[best].result_)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bayesgmm`` command."""
    parser = argparse.ArgumentParser(prog="bayesgmm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="fit the bundled Old Faithful data and print the model")
    demo.set_defaults(run=_demo)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
