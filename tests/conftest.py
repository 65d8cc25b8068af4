from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip("../shared is not present")
    return SHARED


def pytest_configure(config):
    # 2 torch threads on these 2 vCPUs can be several times slower than 1 under load
    import torch

    torch.set_num_threads(1)
