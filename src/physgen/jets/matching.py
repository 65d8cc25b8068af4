"""One-to-one angular matching of two jet collections per event (mutual nearest neighbours)."""

from __future__ import annotations

import awkward as ak
import numpy as np

from physgen.jets.kinematics import delta_r

__all__ = ["match_jets"]


def _nearest(a, b):
    """Per jet of ``a``: index of, and distance to, the nearest jet of ``b`` (-1, inf: none)."""
    pairs = ak.cartesian([a, b], axis=1, nested=True)
    first, second = ak.unzip(pairs)
    distance = delta_r(first.eta, first.phi, second.eta, second.phi)
    index = ak.argmin(distance, axis=2, keepdims=True)
    nearest_distance = ak.fill_none(ak.firsts(distance[index], axis=2), np.inf)
    nearest_index = ak.fill_none(ak.firsts(index, axis=2), -1)
    return nearest_index, nearest_distance


def match_jets(a, b, max_dr: float):
    """Pairs (a_i, b_j) where b_j is a_i's nearest jet, a_i is b_j's nearest jet, dR < max_dr.

    Mutual nearest neighbours are one-to-one by construction. Returns the matched jets of
    ``a`` and of ``b``, flattened over events, in the same order, and each pair's event index.
    """
    b_of_a, distance = _nearest(a, b)
    a_of_b, _ = _nearest(b, a)
    safe = ak.where(b_of_a >= 0, b_of_a, 0)
    back = ak.fill_none(ak.pad_none(a_of_b, 1), -1)[safe]  # padded: events without b jets
    mutual = (b_of_a >= 0) & (back == ak.local_index(a)) & (distance < max_dr)
    event = ak.broadcast_arrays(np.arange(len(a)), mutual)[0]
    return (
        ak.flatten(a[mutual]),
        ak.flatten(b[safe[mutual]]),
        ak.to_numpy(ak.flatten(event[mutual])),
    )
