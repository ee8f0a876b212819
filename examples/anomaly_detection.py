"""Anomaly detection by low density: flag the points the fitted mixture finds unlikely.

A point is anomalous when its log-density falls below the 1 % quantile of the
log-densities of the training data. Here ten planted outliers are added to the Old
Faithful eruptions; the mixture finds them without labels. Without clean training data,
a uniform noise component (``noise=True``, mclust's ``Vinv``) fitted to all the rows
takes the outliers in: ``predict`` labels them -1.

Run: ``python examples/anomaly_detection.py [--fast] [--out FOLDER]``
"""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _common import options

from bayesgmm import GaussianMixture
from bayesgmm.datasets import load_faithful
from bayesgmm.plot import plot_density

args = options(__doc__)
X = load_faithful()
rng = np.random.default_rng(1)
planted = pd.DataFrame(
    {"eruptions": rng.uniform(1.5, 5.0, 10), "waiting": rng.uniform(95, 110, 10)}
)
data = pd.concat([X, planted], ignore_index=True)
is_planted = np.r_[np.zeros(len(X), bool), np.ones(len(planted), bool)]

gm = GaussianMixture(3, covariance_type="tied", random_state=0).fit(X)  # trained on clean data
log_density = gm.score_samples(data)
threshold = np.quantile(gm.score_samples(X), 0.01)
flagged = log_density < threshold
print(f"threshold (1% quantile of the training log-density): {threshold:.2f}")
print(
    f"flagged {flagged.sum()} points; {np.sum(flagged & is_planted)} of {is_planted.sum()} planted"
)

noisy = GaussianMixture(3, covariance_type="tied", noise=True, random_state=0).fit(data)
as_noise = noisy.predict(data) == -1
print(
    f"noise component: weight {noisy.noise_weight_:.3f}, {as_noise.sum()} points labelled -1, "
    f"{np.sum(as_noise & is_planted)} of {is_planted.sum()} planted"
)

ax = plot_density(gm, data, scatter_kwargs={"s": 8, "color": "0.6", "label": "observations"})
markers = {
    "flagged: log-density below the 1% quantile": (
        flagged,
        {"s": 80, "facecolors": "none", "edgecolors": "red", "linewidths": 1.5},
    ),
    "noise component (fitted on all rows): label -1": (
        as_noise,
        {"s": 20, "marker": "x", "color": "blue"},
    ),
}
for label, (rows, style) in markers.items():
    ax.scatter(data.loc[rows, "eruptions"], data.loc[rows, "waiting"], label=label, **style)
ax.legend(loc="lower right", fontsize="small")
ax.set_title("Anomalies: points of low fitted density")
plt.savefig(args.out / "anomaly_detection.png", dpi=100)
print(f"plot written to {args.out / 'anomaly_detection.png'}")
