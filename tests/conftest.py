"""Hypothesis profiles and helpers shared by the tests.

Profiles (choose with HYPOTHESIS_PROFILE): `ci` (default; bounded, derandomized, no deadline)
and `dev` (more examples, random seeds).
"""

import os

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st

settings.register_profile("ci", max_examples=15, deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Shapes for the finite-difference and invariant tests of each cell (tiny, so Jacobians are cheap)
SHAPES = dict(
    T=st.integers(1, 8),
    B=st.integers(1, 4),
    I=st.integers(1, 5),
    H=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)


def randomize(module, rng: np.random.Generator, scale: float = 0.6):
    """Every parameter from U(-scale, scale): biases nonzero and bias_ih ≠ bias_hh."""
    for _, p in module.named_parameters():
        p.data[...] = rng.uniform(-scale, scale, p.data.shape)
    return module
