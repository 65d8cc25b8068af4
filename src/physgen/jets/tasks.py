"""What one chunk of Pythia events becomes: emulation pairs or JetNet-like particle clouds."""

from __future__ import annotations

import awkward as ak
import numpy as np

from physgen.jets.clustering import cluster, jet_kinematics
from physgen.jets.detector import smear_jets
from physgen.jets.event_record import final_state, has_abs_id, momenta, parton_level
from physgen.jets.kinematics import delta_r, pt_eta_phi_m, wrap_phi
from physgen.jets.matching import match_jets

__all__ = ["pair_settings", "cloud_settings", "emulation_pairs", "particle_clouds", "JET_TYPES"]

JET_TYPES = ("g", "q", "t", "W", "Z")
_HADRONIC_W = ("24:onMode = off", "24:onIfAny = 1 2 3 4 5")
_HADRONIC_Z = ("23:onMode = off", "23:onIfAny = 1 2 3 4 5")
_CLOUD_PROCESSES = {
    "g": ("HardQCD:gg2gg = on", "HardQCD:qqbar2gg = on"),
    "q": ("HardQCD:qg2qg = on", "HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on"),
    "t": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", *_HADRONIC_W),
    "W": ("WeakDoubleBoson:ffbar2WW = on", *_HADRONIC_W),
    "Z": ("WeakDoubleBoson:ffbar2gmZgmZ = on", "WeakZ0:gmZmode = 2", *_HADRONIC_Z),
}
_CLOUD_TARGET_IDS = {"g": (21,), "q": (1, 2, 3, 4, 5), "t": (6,), "W": (24,), "Z": (23,)}


def pair_settings(pt_hat_min: float, biased: bool, mpi: bool = True) -> tuple[str, ...]:
    settings = ["HardQCD:all = on", f"PhaseSpace:pTHatMin = {pt_hat_min}"]
    if biased:  # flatter pT spectrum; events carry weights 1 / bias
        settings += [
            "PhaseSpace:bias2Selection = on",
            "PhaseSpace:bias2SelectionPow = 4.",
            f"PhaseSpace:bias2SelectionRef = {pt_hat_min}",
        ]
    if not mpi:
        settings.append("PartonLevel:MPI = off")
    return tuple(settings)


def cloud_settings(jet_type: str, pt_hat: float = 1000.0) -> tuple[str, ...]:
    return (
        *_CLOUD_PROCESSES[jet_type],
        f"PhaseSpace:pTHatMin = {pt_hat - 5}",
        f"PhaseSpace:pTHatMax = {pt_hat + 5}",
    )


def _as_array(jets) -> np.ndarray:
    return np.stack([ak.to_numpy(jets[name]) for name in ("pt", "eta", "phi", "m")], 1).astype(
        np.float32
    )


def emulation_pairs(
    records,
    radius: float = 0.4,
    min_pt: float = 20.0,
    max_eta: float = 2.5,
    particle_min_pt: float = 5.0,
    max_dr: float = 0.2,
    detector_rng: np.random.Generator | None = None,
) -> dict:
    """Parton-level jets (pT > min_pt, |eta| < max_eta) matched one-to-one to particle-level
    jets of the same event. Particle jets are clustered down to ``particle_min_pt`` so that
    the response near the threshold is not truncated."""
    particles = records.prt
    parton_jets = jet_kinematics(cluster(parton_level(particles), radius, min_pt))
    parton_jets = parton_jets[(parton_jets.pt > min_pt) & (abs(parton_jets.eta) < max_eta)]
    particle_jets = jet_kinematics(cluster(final_state(particles), radius, particle_min_pt))
    matched_parton, matched_particle, event = match_jets(parton_jets, particle_jets, max_dr)
    weights = ak.to_numpy(ak.fill_none(ak.firsts(records.info.weights), 1.0)).astype(np.float64)
    rows = {
        "parton_jets": _as_array(matched_parton),
        "particle_jets": _as_array(matched_particle),
        "weights": weights[event],
    }
    if detector_rng is not None:
        rows["detector_jets"] = smear_jets(rows["particle_jets"], detector_rng)
    return rows


def particle_clouds(records, jet_type: str, n_particles: int = 30, radius: float = 0.8) -> dict:
    """The leading anti-kT jet of each event (|eta| < 2.5) that lies within dR < radius of a
    hard-process particle of the wanted type, as eta_rel, phi_rel, pT_rel, mask of its
    ``n_particles`` hardest constituents (zero-padded), and the jet's pt, eta, mass, count."""
    particles = records.prt
    jets, constituents = cluster(final_state(particles), radius, 100.0, with_constituents=True)
    kin = jet_kinematics(jets)
    leading = ak.firsts(kin)
    hard = particles[(abs(particles.status) == 22) | (abs(particles.status) == 23)]
    hard = hard[has_abs_id(hard, _CLOUD_TARGET_IDS[jet_type])]
    hard_pt, hard_eta, hard_phi, _ = pt_eta_phi_m(*momenta(hard))
    distance = delta_r(leading.eta, leading.phi, hard_eta, hard_phi)
    nearest = ak.fill_none(ak.min(distance, axis=1), np.inf)
    good = ak.to_numpy(ak.fill_none((abs(leading.eta) < 2.5) & (nearest < radius), False))
    leading = leading[good]
    parts = constituents[good][:, 0]
    part_pt, part_eta, part_phi, _ = pt_eta_phi_m(parts.px, parts.py, parts.pz, parts.E)
    order = ak.argsort(part_pt, axis=1, ascending=False)
    part_pt, part_eta, part_phi = part_pt[order], part_eta[order], part_phi[order]
    features = (
        part_eta - leading.eta,
        wrap_phi(part_phi - leading.phi),
        part_pt / leading.pt,
        ak.ones_like(part_pt),
    )  # eta_rel, phi_rel, pt_rel, mask
    cloud = np.stack(
        [ak.to_numpy(ak.fill_none(ak.pad_none(f, n_particles, clip=True), 0.0)) for f in features],
        -1,
    )
    jet = np.stack(
        [
            ak.to_numpy(leading.pt),
            ak.to_numpy(leading.eta),
            ak.to_numpy(leading.m),
            ak.to_numpy(ak.num(part_pt)),
        ],
        1,
    )
    return {"particle_features": cloud.astype(np.float32), "jet_features": jet.astype(np.float32)}
