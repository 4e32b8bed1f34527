"""Score curves of the search's candidates, to weigh fast mode's rung rules (issue 17).

For one (data, library) case of benchmarks/bench_search.py, train every candidate of the default
grid on the same 3 folds fast mode uses (its own ``FoldData`` / candidates, so the scores are the
rung scores fast mode computes), to ``n_estimators`` rounds, recording the fold scores at
``CHECKPOINTS``; then refit every candidate on the whole training part and score it on the held
out part (what the benchmark's ``dAP`` compares). Saved as an ``.npz``; ``simulate`` replays a
rung rule on the curves (which candidates reach which rung, the rounds trained, the choice and
its held-out AP against the one GridSearchCV chooses), without training anything again.

    python -m benchmarks.search_curves record nasscds lightgbm /tmp/curves-nass-lgb.npz
    (data: nasscds, synthetic, caravan, spam7, oj; see benchmarks/bench_search.py)
    python -m benchmarks.search_curves simulate /tmp/curves-*.npz
"""

from __future__ import annotations

import ast
import sys
import time
import warnings

import numpy as np

CHECKPOINTS = (4, 6, 8, 10, 12, 15, 17, 20, 25, 30, 34, 40, 50, 60, 67, 75, 100)


def record(data, library, path):
    from sklearn.base import clone
    from sklearn.model_selection import check_cv

    from focalboost._search_boosters import FoldData
    from focalboost.search import average_precision, default_param_grid
    from sklearn.model_selection import ParameterGrid

    from .bench_search import estimator, load_data

    (X_train, X_test, y_train, y_test), = load_data(False, (data,)).values()
    est = estimator(library, False)
    candidates = list(ParameterGrid(default_param_grid(2)))
    folds = list(check_cv(3, y_train, classifier=True).split(X_train, y_train))
    n = est.get_params()["n_estimators"] or 100
    checkpoints = [c for c in CHECKPOINTS if c <= n]
    scores = np.full((len(candidates), len(folds), len(checkpoints)), np.nan)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for k, (train, test) in enumerate(folds):
            fold = FoldData(library, est, X_train, y_train, None, train, test)
            for i, params in enumerate(candidates):
                cand = fold.candidate(params)
                for j, rounds in enumerate(checkpoints):
                    cand.train_to(rounds)
                    if rounds == n:
                        cand.finish()
                    scores[i, k, j] = cand.score(average_precision)
        held_out = np.array([
            average_precision(clone(est).set_params(**p).fit(X_train, y_train), X_test, y_test)
            for p in candidates
        ])
    np.savez(path, scores=scores, checkpoints=np.array(checkpoints), held_out=held_out,
             candidates=np.array([repr(p) for p in candidates]), data=data, library=library)
    print(f"{data} {library}: {time.perf_counter() - t0:.1f} s -> {path}")


# --- rules ---------------------------------------------------------------------------------------
def _top(key, keep):
    order = sorted(range(len(key)), key=lambda j: (-key[j], j))
    return sorted(order[:keep])


def _se_keep(fold_scores, keep, n_se):
    """The standard-error rung rule weighed before the current one (the branch ``halving``): the
    best ``keep`` by mean score, plus every candidate whose fold-wise paired differences from the
    last of them have a mean within ``n_se`` standard errors (exact ties with one fold)."""
    from focalboost.search import _ranked

    n_f = fold_scores.shape[1]
    means = fold_scores.mean(axis=1)
    order = _ranked(means)
    kept = order[:keep]
    last = fold_scores[kept[-1]]
    for j in order[keep:]:
        d = last - fold_scores[j]
        se = np.std(d, ddof=1) / np.sqrt(n_f) if n_f > 1 else 0.0
        if not np.isnan(np.mean(d)) and np.mean(d) <= n_se * se:
            kept.append(j)
    return sorted(kept)


def replay(scores, checkpoints, budgets, rung_se=(), trend=False, best_of=(), candidates=None):
    """Replay fast mode on recorded curves: (rounds trained per fold in units of n, candidates
    at each rung, final candidate). ``rung_se``: the standard-error rule's width at each rung
    (:func:`_se_keep`); ``trend``: rank a rung by score + (score - score at half the rung's
    budget) instead (best third only); ``best_of``: the first rung also keeps the best candidate
    of each value of these parameters (``focalboost.search.FIRST_RUNG_KEEPS_BEST_OF``;
    ``candidates``: the parameter dicts)."""
    from focalboost.search import HALVING_FACTOR, _rung_keep

    at = {c: j for j, c in enumerate(checkpoints)}
    n = checkpoints[-1]
    alive, previous, trained, sizes = list(range(scores.shape[0])), 0, 0.0, []
    for r, b in enumerate(budgets):
        trained += len(alive) * (b - previous) / n
        previous = b
        sizes.append(len(alive))
        fold_scores = scores[alive][:, :, at[b]]
        means = fold_scores.mean(axis=1)
        if r + 1 == len(budgets):
            return trained, sizes, alive[min(range(len(alive)), key=lambda j: (-means[j], j))]
        keep = max(1, -(-len(alive) // HALVING_FACTOR))
        if trend:
            half = min(checkpoints, key=lambda c: abs(c - b / 2))
            key = 2 * means - scores[alive][:, :, at[half]].mean(axis=1)
            kept = _top(key, keep)
        elif r < len(rung_se) and rung_se[r] > 0:
            kept = _se_keep(fold_scores, keep, rung_se[r])
        else:
            groups = None
            if r == 0 and best_of:
                groups = [tuple(repr(candidates[i].get(name)) for name in best_of) for i in alive]
            kept = _rung_keep(means, keep, groups)
        alive = [alive[j] for j in kept]


RULES = {  # name: (budgets as fractions of n rounds, standard-error widths, trend, best of)
    "n/9, n/3, n: best third (plain)": ((9, 3, 1), (), False, ()),
    "n/9, n/3, n: + best of each alpha at rung 1 (default)": ((9, 3, 1), (), False, ("alpha",)),
    "n/9, n/3, n: + best of each gamma at rung 1": ((9, 3, 1), (), False, ("gamma",)),
    "n/9, n/3, n: standard errors 0.5, 0": ((9, 3, 1), (0.5, 0), False, ()),
    "n/9, n/3, n: standard errors 1, 0": ((9, 3, 1), (1, 0), False, ()),
    "n/9, n/3, n: standard errors 2, 0": ((9, 3, 1), (2, 0), False, ()),
    "n/9, n/3, n: trend (score + slope since half the budget)": ((9, 3, 1), (), True, ()),
    "n/6, n/3, n: best third": ((6, 3, 1), (), False, ()),
    "n/3, n: best third": ((3, 1), (), False, ()),
}


def simulate(paths, out=print):
    out("| case | rule | rounds per fold | candidates per rung | choice | CV score - GridSearchCV's "
        "| held-out AP - GridSearchCV's |")
    out("|---|---|---|---|---|---|---|")
    for path in paths:
        d = np.load(path)
        scores, checkpoints, held = d["scores"], [int(c) for c in d["checkpoints"]], d["held_out"]
        n = checkpoints[-1]
        final = scores[:, :, -1].mean(axis=1)
        grid_choice = min(range(len(final)), key=lambda j: (-final[j], j))
        case = f"{d['data']} {d['library']}"
        candidates = [ast.literal_eval(str(c)) for c in d["candidates"]]
        out(f"| {case} | GridSearchCV | 12 n | 12 | {d['candidates'][grid_choice]} | "
            f"(CV {final[grid_choice]:.4f}) | (AP {held[grid_choice]:.4f}) |")
        for name, (fractions, rung_se, trend, best_of) in RULES.items():
            budgets = [-(-n // f) for f in fractions]
            if any(b not in checkpoints for b in budgets):
                continue
            trained, sizes, choice = replay(scores, checkpoints, budgets, rung_se, trend, best_of,
                                            candidates)
            out(f"| {case} | {name} | {trained:.2f} n | {', '.join(map(str, sizes))} | "
                f"{d['candidates'][choice]} | {final[choice] - final[grid_choice]:+.4f} | "
                f"{held[choice] - held[grid_choice]:+.4f} |")


if __name__ == "__main__":
    if sys.argv[1] == "record":
        record(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        simulate(sys.argv[2:])
