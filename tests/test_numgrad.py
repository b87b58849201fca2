"""gn.numerical_gradient: the vector–Jacobian product by central differences."""

import numpy as np
import pytest

import gatednp as gn


def test_matches_an_analytic_vjp_of_a_nonlinear_function():
    rng = np.random.default_rng(0)
    w, x = rng.standard_normal((4, 3)), rng.standard_normal((2, 3))
    df = rng.standard_normal((2, 4))
    y = lambda x: np.tanh(x @ w.T)  # noqa: E731
    exact = (df * (1 - y(x) ** 2)) @ w
    assert np.allclose(gn.numerical_gradient(y, x, df), exact, rtol=1e-6, atol=1e-9)


def test_closure_over_a_weight_and_scalar_functions():
    rng = np.random.default_rng(1)
    w, x = rng.standard_normal((4, 3)), rng.standard_normal((2, 3))
    df = rng.standard_normal((2, 4))
    w_before = w.copy()
    dw = gn.numerical_gradient(lambda _: x @ w.T, w, df)  # w perturbed in place, read by closure
    assert np.allclose(dw, df.T @ x, atol=1e-8) and np.array_equal(w, w_before)
    assert np.allclose(gn.numerical_gradient(lambda v: float(np.sum(v**2)), x), 2 * x, atol=1e-7)


def test_refuses_float32_and_mismatched_df():
    with pytest.raises(TypeError, match="float64"):
        gn.numerical_gradient(lambda v: v, np.zeros(3, np.float32), np.ones(3))
    with pytest.raises(ValueError, match="shape"):
        gn.numerical_gradient(lambda v: v, np.zeros(3), np.ones(2))
