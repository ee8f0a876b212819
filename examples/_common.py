"""Shared command-line options of the example scripts: ``--fast`` and ``--out``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def options(description: str) -> argparse.Namespace:
    """Parse ``--fast`` (small grids, few draws; also BAYESGMM_FAST=1) and ``--out``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--fast", action="store_true", help="small settings, for tests")
    parser.add_argument("--out", default=os.environ.get("BAYESGMM_EXAMPLES_OUT", "example-plots"))
    args, _ = parser.parse_known_args()  # known only: the docs build runs these scripts
    args.fast = args.fast or os.environ.get("BAYESGMM_FAST") == "1"
    args.out = Path(args.out)
    args.out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    return args
