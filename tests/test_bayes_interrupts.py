"""Ctrl-C during a Bayesian fit raises KeyboardInterrupt promptly and leaves the
estimator as it was.

Non-regression (issue 15 item 5): PyMC's NUTS caught the interrupt and returned the
draws it had (1,370 of 2,000, marked converged, ``n_iter_=2000``); nutpie's blocking
call returned a trace padded with NaN, which failed in relabelling with SciPy's "matrix
contains invalid numeric entries". Each case fits once (the fitted state to keep), then
starts a long fit and is sent SIGINT once the sampler is running: a hook on the
sampler's entry point prints "sampling" when it starts.
"""

import signal
import subprocess
import sys
import time

import pytest

SCRIPT = """
import faulthandler, signal, sys, time, warnings
import numpy as np
signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
signal.signal(signal.SIGINT, signal.default_int_handler)
faulthandler.register(signal.SIGUSR1, all_threads=True)
from bayesgmm import BayesianGaussianMixture

case = sys.argv[1]
rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(-3, 1, (500, 2)), rng.normal(3, 1, (500, 2))])
warnings.simplefilter("ignore")
model = BayesianGaussianMixture(2, covariance_type="diag", method="map", random_state=0)
model.fit(X)
before = model.means_.copy(), model.n_iter_, model.inference_info_, model.result_


def announce(function):
    def wrapper(*args, **kwargs):
        print("sampling", flush=True)
        return function(*args, **kwargs)
    return wrapper


if case == "advi":
    import bayesgmm.bayes.samplers.advi as advi
    advi._optimise = announce(advi._optimise)
    options = {"method": "advi", "advi_tol": 1e-12, "advi_max_iter": 10**9}
elif case == "nutpie":
    import nutpie
    nutpie.sample = announce(nutpie.sample)
    options = {"method": "nuts", "nuts_sampler": "nutpie", "draws": 10**6, "chains": 2}
else:
    import pymc.sampling.mcmc as mcmc
    mcmc._mp_sample = announce(mcmc._mp_sample)
    options = {"method": "nuts", "nuts_sampler": "pymc", "draws": 10**6, "chains": 2,
               "cores": 2}
model.set_params(**options)
print("ready", flush=True)
try:
    model.fit(X)
except KeyboardInterrupt:
    seen = time.time()
    intact = (
        np.array_equal(model.means_, before[0])
        and model.n_iter_ == before[1]
        and model.inference_info_ is before[2]
        and model.result_ is before[3]
    )
    print("interrupted", repr(seen), "intact" if intact else "changed", flush=True)
else:
    print("returned", model.n_iter_, flush=True)
"""


def _lines_until(stream, word: str, limit: int = 50) -> None:
    for _ in range(limit):
        line = stream.readline()
        if not line:
            pytest.fail(f"the child exited before printing {word!r}")
        if line.strip() == word:
            return
    pytest.fail(f"no {word!r} in {limit} lines")


@pytest.mark.parametrize(
    "case",
    ["nutpie", "advi", pytest.param("pymc", marks=pytest.mark.slow)],
)
def test_ctrl_c_interrupts_a_bayesian_fit_promptly(case):
    if case == "nutpie":
        pytest.importorskip("nutpie")
    child = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, case],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _lines_until(child.stdout, "ready")
        _lines_until(child.stdout, "sampling")
        time.sleep(1.0)  # well inside the sampler's run
        sent = time.time()
        child.send_signal(signal.SIGINT)
        try:
            child.wait(timeout=60)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGUSR1)
            time.sleep(2.0)
            child.kill()
            pytest.fail(f"no exit 60 s after SIGINT; stacks:\n{child.stderr.read()}")
        words = child.stdout.readline().split()
        errors = child.stderr.read()
    finally:
        child.kill()
        child.stdout.close()
        child.stderr.close()
    assert words and words[0] == "interrupted", (words, errors[-2000:])
    assert words[2] == "intact", words
    # promptly: samplers look at signals every few ms; 5 s leaves room for a loaded machine
    assert float(words[1]) - sent < 5.0
