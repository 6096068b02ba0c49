"""Shared fixtures: paths, a small synthetic dataset and tiny candidates."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"


def shared_dir() -> Path:
    return Path(os.environ.get("NAS_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(scope="session")
def tiny_space_path() -> Path:
    return FIXTURES / "tiny_space.yaml"


@pytest.fixture(scope="session")
def small_dataset():
    from nas.data import SyntheticSource

    return SyntheticSource(n_clips=160, seed=1).load()


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread():
    import torch

    torch.set_num_threads(1)
