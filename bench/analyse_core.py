"""Time the clustered linear-probability fit (CR2 + Bell-McCaffrey df) at production scale.

Run: ``uv run python bench/analyse_core.py [n_rows] [n_clusters]``. Generates 1,000,000 rows,
4 arms, 5 covariates and 600,000 clusters (mostly singletons and pairs) by default, then
prints the seconds for ``lm_robust`` and the process's peak resident memory.
"""

from __future__ import annotations

import resource
import sys
import time

import numpy as np

from analysis.stats.regression import lm_robust


def make_data(n_rows: int, n_clusters: int, seed: int = 1) -> tuple[np.ndarray, ...]:
    """Outcome, design (intercept, 3 arm dummies, 5 covariates, 3 strata dummies), clusters."""
    rng = np.random.default_rng(seed)
    extra = rng.integers(0, n_clusters, n_rows - n_clusters)
    clusters = np.concatenate([np.arange(n_clusters), extra])
    rng.shuffle(clusters)
    arm_of_cluster = rng.integers(0, 4, n_clusters)
    stratum = rng.integers(0, 4, n_rows)
    arm = arm_of_cluster[clusters]
    covariates = np.column_stack(
        [
            rng.normal(40, 12, n_rows),
            rng.binomial(1, 0.3, n_rows),
            rng.binomial(1, 0.5, n_rows),
            rng.normal(0, 1, n_rows),
            rng.poisson(2, n_rows),
        ]
    )
    x = np.column_stack(
        [
            np.ones(n_rows),
            *(arm == a for a in (1, 2, 3)),
            covariates,
            *(stratum == s for s in (1, 2, 3)),
        ]
    ).astype(np.float64)
    p = 0.5 + 0.03 * (arm > 0) - 0.1 * covariates[:, 1]
    y = rng.binomial(1, p).astype(np.float64)
    return y, x, clusters


def main() -> None:
    n_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    n_clusters = int(sys.argv[2]) if len(sys.argv) > 2 else 600_000
    y, x, clusters = make_data(n_rows, n_clusters)
    sizes = np.bincount(np.bincount(clusters))
    print(f"rows {n_rows:,}, columns {x.shape[1]}, clusters {n_clusters:,}")
    print("cluster sizes (size: count):", {s: int(c) for s, c in enumerate(sizes) if c})
    start = time.perf_counter()
    fit = lm_robust(y, x, clusters=clusters)
    seconds = time.perf_counter() - start
    arms = fit.coefficients[1:4]
    print(f"lm_robust CR2 + Bell-McCaffrey df for all {x.shape[1]} terms: {seconds:.2f} s")
    start = time.perf_counter()
    lm_robust(y, x, clusters=clusters, df_terms=[fit.terms[j] for j in (1, 2, 3)])
    print(f"same, df for the 3 arm terms only: {time.perf_counter() - start:.2f} s")
    for c in arms:
        print(f"  {c.term}: {c.estimate:.4f} (se {c.std_error:.4f}, df {c.df:.0f})")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
