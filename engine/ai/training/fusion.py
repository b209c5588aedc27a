"""Per-breast fusion of the CC and MLO view logits: a two-feature logistic
regression fitted on the validation part (so its probabilities are
calibrated there), by Newton's method with a small ridge."""

from __future__ import annotations

import numpy as np


def fit_logistic(
    x: np.ndarray, y: np.ndarray, ridge: float = 1e-3, iterations: int = 50
) -> tuple[np.ndarray, float]:
    """Weights (n_features,) and bias minimising the logistic loss."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    a = np.column_stack([x, np.ones(len(x))])
    beta = np.zeros(a.shape[1])
    reg = np.full(a.shape[1], ridge)
    reg[-1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(a @ beta, -30, 30)))
        grad = a.T @ (p - y) + reg * beta
        hess = (a * (p * (1 - p))[:, None]).T @ a + np.diag(reg) + 1e-9 * np.eye(a.shape[1])
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta[:-1], float(beta[-1])
