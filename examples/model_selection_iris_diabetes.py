"""Model selection by BIC and ICL on iris and on Reaven & Miller's diabetes data.

mclust's classic results: on iris BIC prefers two components (the two species that
overlap, versicolor and virginica, merge) while three species exist; on the diabetes
data (glufast, glutest, instest) BIC picks three components close to the clinical
classes. ICL, which penalises overlap, often prefers fewer components.

Run: ``python examples/model_selection_iris_diabetes.py [--fast] [--out FOLDER]``
"""

import matplotlib.pyplot as plt
from _common import options

from bayesgmm import select
from bayesgmm.comparison import adjusted_rand_index
from bayesgmm.datasets import load_diabetes, load_iris

args = options(__doc__)
ks = range(1, 4) if args.fast else range(1, 10)
types = ("full", "diag") if args.fast else ("full", "tied", "diag", "spherical")

fig, axes = plt.subplots(2, 2, figsize=(12, 9), layout="constrained")
for row, (name, loader) in enumerate([("iris", load_iris), ("diabetes", load_diabetes)]):
    X, classes = loader(return_labels=True)
    selection = select(X, n_components=ks, covariance_types=types, random_state=0)
    for column, criterion in enumerate(("bic", "icl")):
        best = selection.ranking(criterion).iloc[0]
        model = selection.estimators_[(best["covariance_type"], int(best["n_components"]))]
        ari = adjusted_rand_index(classes, model.predict(X))
        print(
            f"{name}: {criterion.upper()} picks {best['covariance_type']} with "
            f"{int(best['n_components'])} components; ARI with the known classes {ari:.2f}"
        )
        ax = selection.plot(criterion, ax=axes[row, column])
        ax.set_title(f"{name}: model selection by {criterion.upper()}")
    degenerate = selection.table[selection.table["degenerate"]]
    if len(degenerate):
        print(f"  {len(degenerate)} degenerate fit(s) marked and excluded on {name}")
fig.savefig(args.out / "model_selection.png", dpi=100)
print(f"plot written to {args.out / 'model_selection.png'}")
