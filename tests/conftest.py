"""Shared test settings: one torch thread (small nets; the machine may be busy), fixed seeds."""
import numpy as np
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def no_figure_leaks():
    """For the widget tests: every figure a pure function makes is closed before it is returned."""
    import matplotlib.pyplot as plt
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a figure was left open"
