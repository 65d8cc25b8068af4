"""Mutual-nearest-neighbour jet matching on hand-made events."""

import awkward as ak
import numpy as np

from physgen.jets.matching import match_jets


def jets(events):
    return ak.Array([[{"eta": e, "phi": p, "pt": pt} for e, p, pt in event] for event in events])


def test_one_to_one_matching_with_a_distance_cut():
    a = jets(
        [
            [(0.0, 0.0, 50), (1.0, 1.0, 40)],  # both have a partner
            [(0.0, 0.0, 30), (0.05, 0.0, 25)],  # two a jets compete for one b jet
            [(0.0, 0.0, 30)],  # no b jets in this event
            [(0.0, 0.0, 30)],  # partner too far
        ]
    )
    b = jets(
        [
            [(1.02, 1.0, 41), (0.01, 0.0, 49)],
            [(0.04, 0.0, 26)],
            [],
            [(0.5, 0.0, 31)],
        ]
    )
    matched_a, matched_b, event = match_jets(a, b, max_dr=0.2)
    assert event.tolist() == [0, 0, 1]
    assert ak.to_list(matched_a.pt) == [50, 40, 25]
    assert ak.to_list(matched_b.pt) == [49, 41, 26]
    assert np.all(np.hypot(matched_a.eta - matched_b.eta, matched_a.phi - matched_b.phi) < 0.2)
