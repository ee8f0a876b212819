"""Data statistics a fit needs once: weighted moments, and the data's second moment.

Both are one pass over the rows, block by block (in memory) or chunk by chunk (dask),
so out-of-core data are read once and no temporary larger than a block is made. Rows
are shifted by the data's weighted mean before any second-order statistic is formed,
so data far from the origin (offset 1e6 or 1e8) keep their accuracy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .blocks import Workers, map_row_blocks

__all__ = ["weighted_moments", "second_moment", "chunk_moments", "combine_moments"]


def chunk_moments(X: Any, weights: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """Total weight, weighted mean and weighted sum of squares about it, of one chunk.

    Examples
    --------
    >>> chunk_moments(np.array([[1.0], [3.0]]), np.ones(2))
    (2.0, array([2.]), array([2.]))
    """
    X = np.asarray(X, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    total = float(weights.sum())
    if total <= 0:
        return 0.0, np.zeros(X.shape[1]), np.zeros(X.shape[1])
    mean = weights @ X / total
    return total, mean, weights @ (X - mean) ** 2


def combine_moments(
    parts: list[tuple[float, np.ndarray, np.ndarray]],
) -> tuple[float, np.ndarray, np.ndarray]:
    """Combine chunk moments (Chan, Golub & LeVeque 1979): no cancellation at any offset.

    Examples
    --------
    >>> parts = [chunk_moments(np.array([[1.0]]), np.ones(1)),
    ...          chunk_moments(np.array([[3.0]]), np.ones(1))]
    >>> combine_moments(parts)
    (2.0, array([2.]), array([2.]))
    """
    total, mean, squares = parts[0]
    for part_total, part_mean, part_squares in parts[1:]:
        if part_total <= 0:
            continue
        combined = total + part_total
        delta = part_mean - mean
        mean = mean + delta * (part_total / combined)
        squares = squares + part_squares + delta**2 * (total * part_total / combined)
        total = combined
    return total, mean, squares


def weighted_moments(X: Any, weights: Any, workers: Workers) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and variance per feature, accurate for data far from the origin.

    Examples
    --------
    >>> weighted_moments(np.array([[1.0], [3.0]]), np.ones(2), Workers(1))
    (array([2.]), array([1.]))
    """
    parts = map_row_blocks(chunk_moments, X, weights, workers, 2 * X.shape[1])
    total, mean, squares = combine_moments(parts)
    return mean, squares / total


def _block_second_moment(shift: np.ndarray) -> Any:
    def second(X: np.ndarray, weights: np.ndarray) -> np.ndarray:
        Xs = np.asarray(X, dtype=np.float64) - shift
        return (Xs * np.asarray(weights, dtype=np.float64)[:, None]).T @ Xs

    return second


def second_moment(X: Any, weights: Any, shift: np.ndarray, workers: Workers) -> np.ndarray:
    """``sum_n w_n (x_n - shift)(x_n - shift)^T``, (D, D).

    Examples
    --------
    >>> second_moment(np.array([[1.0], [3.0]]), np.ones(2), np.array([2.0]), Workers(1))
    array([[2.]])
    """
    parts = map_row_blocks(_block_second_moment(shift), X, weights, workers, 2 * X.shape[1])
    return np.sum(parts, axis=0)
