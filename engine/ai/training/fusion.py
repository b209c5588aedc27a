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


def fit_softmax(
    x: np.ndarray, y: np.ndarray, classes: int, ridge: float = 1e-2
) -> tuple[np.ndarray, np.ndarray]:
    """Multinomial logistic regression (weights (features, classes), bias
    (classes,)) by L-BFGS; used to refit the density head on whole images."""
    from scipy.optimize import minimize

    x = np.asarray(x, dtype=np.float64)
    mu, sd = x.mean(axis=0), x.std(axis=0) + 1e-6
    xs = (x - mu) / sd
    onehot = np.eye(classes)[np.asarray(y, dtype=int)]
    n, d = xs.shape

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w = theta[: d * classes].reshape(d, classes)
        b = theta[d * classes :]
        z = xs @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        value = -np.sum(onehot * np.log(p + 1e-12)) / n + 0.5 * ridge * np.sum(w * w)
        g = (p - onehot) / n
        return value, np.concatenate([(xs.T @ g + ridge * w).ravel(), g.sum(axis=0)])

    res = minimize(loss, np.zeros(d * classes + classes), jac=True, method="L-BFGS-B")
    w = res.x[: d * classes].reshape(d, classes)
    b = res.x[d * classes :]
    # Fold the standardisation into the layer: z = ((x - mu) / sd) @ w + b.
    return w / sd[:, None], b - (mu / sd) @ w
