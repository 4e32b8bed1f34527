"""Score curves of the search's candidates, to weigh fast mode's rung rules (issue 17).

For one (data, library) case of benchmarks/bench_search.py, train every candidate of the default
grid on the same 3 folds fast mode uses (its own ``FoldData`` / candidates, so the scores are the
rung scores fast mode computes), to ``n_estimators`` rounds, recording the fold scores at
``CHECKPOINTS``; then refit every candidate on the whole training part and score it on the held
out part (what the benchmark's ``dAP`` compares). Saved as an ``.npz``; ``simulate`` replays a
rung rule on the curves (which candidates reach which rung, the rounds trained, the choice and
its held-out AP against the one GridSearchCV chooses), without training anything again.

    python -m benchmarks.search_curves record nasscds lightgbm /tmp/curves-nass-lgb.npz
    python -m benchmarks.search_curves simulate /tmp/curves-*.npz
"""

from __future__ import annotations

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
def keep_top(fold_scores, keep):
    """The current rule: the best ``keep`` by mean score (ties: grid order)."""
    means = fold_scores.mean(axis=1)
    order = sorted(range(len(means)), key=lambda j: (-means[j], j))
    return sorted(order[:keep])


def simulate_rule(scores, checkpoints, budgets, select, n):
    """(rounds trained per fold in units of n, final candidate, reached per candidate)."""
    at = {c: j for j, c in enumerate(checkpoints)}
    alive = list(range(scores.shape[0]))
    trained = 0.0
    previous = 0
    for r, b in enumerate(budgets):
        trained += len(alive) * (b - previous) / n
        previous = b
        s = scores[alive][:, :, at[b]]
        if r + 1 == len(budgets):
            means = s.mean(axis=1)
            return trained, alive[min(range(len(alive)), key=lambda j: (-means[j], j))], alive
        prev_s = scores[alive][:, :, at[budgets[r - 1]]] if r else None
        kept = select(s, prev_s, len(alive))
        alive = [alive[j] for j in kept]


def simulate(paths):
    from focalboost.search import HALVING_FACTOR, _budgets, _rung_keep

    for path in paths:
        d = np.load(path)
        scores, checkpoints, held = d["scores"], list(d["checkpoints"]), d["held_out"]
        n = checkpoints[-1]
        means_n = scores[:, :, -1].mean(axis=1)
        grid_choice = min(range(len(means_n)), key=lambda j: (-means_n[j], j))
        print(f"\n{d['data']} {d['library']}: GridSearchCV's choice {d['candidates'][grid_choice]} "
              f"held-out AP {held[grid_choice]:.4f}")
        rules = {
            "top third (current)": lambda s, p, c: keep_top(s, max(1, -(-c // HALVING_FACTOR))),
        }
        for z in (0.5, 1.0, 2.0):
            rules[f"top third + within {z:g} paired SE"] = (
                lambda s, p, c, z=z: _rung_keep(s, max(1, -(-c // HALVING_FACTOR)), z))
        rules["trend (score + slope)"] = lambda s, p, c: keep_top(
            s if p is None else 2 * s - p, max(1, -(-c // HALVING_FACTOR)))
        schedules = {"n/9, n/3, n": _budgets(n), "n/3, n": [-(-n // 3), n],
                     "n/6, n/3, n": [-(-n // 6), -(-n // 3), n]}
        for sname, budgets in schedules.items():
            if any(b not in checkpoints for b in budgets):
                continue
            for rname, rule in rules.items():
                trained, choice, final = simulate_rule(scores, checkpoints, budgets, rule, n)
                print(f"  {sname:12s} {rname:34s} rounds/fold {trained:5.2f} n "
                      f"(grid 12) final {len(final):2d} choice {d['candidates'][choice]:42s} "
                      f"dAP {held[choice] - held[grid_choice]:+.4f}")


if __name__ == "__main__":
    if sys.argv[1] == "record":
        record(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        simulate(sys.argv[2:])
