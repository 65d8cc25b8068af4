"""Jet clustering with FastJet's awkward interface (all events of a batch at once)."""

from __future__ import annotations

import awkward as ak

from physgen.core.errors import MissingExtraError
from physgen.jets.event_record import momenta
from physgen.jets.kinematics import pt_eta_phi_m

__all__ = ["cluster", "jet_kinematics"]


def _fastjet():
    try:
        import fastjet
    except ImportError as err:
        raise MissingExtraError("pythia", "fastjet") from err
    return fastjet


def cluster(particles, radius: float, min_pt: float, with_constituents: bool = False):
    """Anti-kT jets (px, py, pz, E records, pT-ordered) of each event; optionally with their
    constituents (same order)."""
    fastjet = _fastjet()
    px, py, pz, e = momenta(particles)
    vectors = ak.zip({"px": px, "py": py, "pz": pz, "E": e})
    sequence = fastjet.ClusterSequence(
        vectors, fastjet.JetDefinition(fastjet.antikt_algorithm, radius)
    )
    jets = sequence.inclusive_jets(min_pt=min_pt)
    constituents = sequence.constituents(min_pt=min_pt) if with_constituents else None
    order = ak.argsort(jets.px**2 + jets.py**2, axis=1, ascending=False)
    jets = jets[order]
    if with_constituents:
        return jets, constituents[order]
    return jets


def jet_kinematics(jets):
    """Record of pt, eta, phi, m for each jet."""
    pt, eta, phi, mass = pt_eta_phi_m(jets.px, jets.py, jets.pz, jets.E)
    return ak.zip({"pt": pt, "eta": eta, "phi": phi, "m": mass})
