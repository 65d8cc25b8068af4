import math

import numpy as np
import pytest

from physgen.lattice.quantum_ising import renyi_entropy

# free-fermion values measured independently (../shared/notes/lattice.md)
REFERENCE = {
    (16, 8, 1): 0.750055,
    (16, 8, 2): 0.573384,
    (32, 16, 1): 0.865439,
    (32, 16, 2): 0.662682,
}


@pytest.mark.parametrize(("key", "value"), REFERENCE.items())
def test_critical_chain_reference_values(key, value):
    L, sites, n = key
    assert renyi_entropy(L, sites, n) == pytest.approx(value, abs=2e-6)


def test_renyi_entropies_are_ordered_and_symmetric():
    for sites in (3, 5, 8):
        s1, s2, s3 = (renyi_entropy(20, sites, n) for n in (1, 2, 3))
        assert s1 > s2 > s3 > 0
        assert renyi_entropy(20, sites, 2) == pytest.approx(
            renyi_entropy(20, 20 - sites, 2), abs=1e-10
        )


def test_product_state_limit_and_conformal_scaling():
    # h >> J: the ground state is a product state, no entanglement
    assert renyi_entropy(24, 6, 2, J=1e-4, h=1.0) < 1e-6
    # critical: S_2(l) - S_2(l') = (c/6)(1 + 1/2) ln(chord ratio) + small corrections, c = 1/2
    L = 256
    chord = [L / math.pi * math.sin(math.pi * sites / L) for sites in (16, 64)]
    slope = (renyi_entropy(L, 64, 2) - renyi_entropy(L, 16, 2)) / math.log(chord[1] / chord[0])
    assert slope == pytest.approx(0.5 / 6 * 1.5, rel=0.05)
    assert np.isfinite(renyi_entropy(L, 64, 1))
