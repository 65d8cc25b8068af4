"""``pythia-tune``: Pythia 8 summaries of e+e- -> Z -> hadrons at 91.2 GeV (the LEP1
observables generator tunes are fitted to) as a function of three tune parameters.

Parameters: StringZ:aLund, StringZ:bLund (the Lund fragmentation function) and
TimeShower:alphaSvalue (the final-state shower's alpha_s(M_Z)); Monash: 0.68, 0.98, 0.1365.
Summaries are event averages of per-event features, so their covariance is the features'
sample covariance over the number of events:
- charged multiplicity: mean and fractions in [0,14), [14,18), [18,22), [22,26) (the last bin
  of each histogram is left out: the fractions sum to one);
- 1 - thrust (Pythia's Thrust): mean and fractions in [0,0.02), [0.02,0.05), [0.05,0.1);
- heavy-jet mass rho = m^2 / E_vis^2 of the two exclusive Durham jets (Pythia's ClusterJet on
  visible particles): mean and fractions in [0,0.02), [0.02,0.06);
- oblateness; per event, the mean xi = ln(1/x_p) of charged particles (x_p = 2|p|/sqrt s) and
  the fraction of charged particles with x_p > 0.1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physgen.core.errors import PhysgenInputError
from physgen.core.pythia import import_pythia, make_pythia
from physgen.emulate.simulator import Simulator

__all__ = ["PythiaTune", "PythiaTuneSettings", "MONASH", "event_features"]

MONASH = (0.68, 0.98, 0.1365)
E_CM = 91.2
LEP1 = (
    "Beams:idA = 11",
    "Beams:idB = -11",
    f"Beams:eCM = {E_CM}",
    "PDF:lepton = off",
    "WeakSingleBoson:ffbar2gmZ = on",
    "23:onMode = off",
    "23:onIfAny = 1 2 3 4 5",
)
MULTIPLICITY_EDGES = (0, 14, 18, 22, 26)
THRUST_EDGES = (0.0, 0.02, 0.05, 0.1)
MASS_EDGES = (0.0, 0.02, 0.06)


@dataclass(frozen=True)
class PythiaTuneSettings:
    events: int = 5000


def _fractions(values: np.ndarray, edges) -> np.ndarray:
    """Per-event indicators of the bins [edges[i], edges[i+1]): (events, len(edges) - 1)."""
    edges = np.asarray(edges, dtype=float)
    return ((values[:, None] >= edges[:-1]) & (values[:, None] < edges[1:])).astype(float)


def _bin_names(name, edges):
    return tuple(f"{name}[{lo:g},{hi:g})" for lo, hi in zip(edges[:-1], edges[1:], strict=True))


SUMMARY_NAMES = (
    "n_ch",
    *_bin_names("n_ch", MULTIPLICITY_EDGES),
    "1-T",
    *_bin_names("1-T", THRUST_EDGES),
    "rho_H",
    *_bin_names("rho_H", MASS_EDGES),
    "oblateness",
    "xi_p",
    "x_p>0.1",
)


def event_features(pythia, n_events: int) -> np.ndarray:
    """(events, 15) features of ``n_events`` generated events (the summaries' columns)."""
    pythia8mc = import_pythia()
    thrust = pythia8mc.Thrust()
    durham = pythia8mc.ClusterJet("Durham", 2)  # 2: visible final-state particles
    rows = []
    while len(rows) < n_events:
        if not pythia.next():
            continue
        event = pythia.event
        if not (thrust.analyze(event) and durham.analyze(event, 1e-9, 0.0, 2, 2)):
            continue
        jets = [durham.p(j) for j in range(durham.size())]
        visible = sum(jet.e() for jet in jets)
        heavy = max(jet.m2Calc() for jet in jets) / visible**2
        x_p = np.array(
            [2 * p.pAbs() / E_CM for p in event if p.isFinal() and p.isCharged()], dtype=float
        )
        rows.append(
            (
                event.nFinal(True),
                1 - thrust.thrust(),
                heavy,
                thrust.oblateness(),
                np.log(1 / x_p).mean() if len(x_p) else 0.0,
                (x_p > 0.1).mean() if len(x_p) else 0.0,
            )
        )
    raw = np.array(rows, dtype=float)
    n_ch, one_minus_t, rho = raw[:, 0], raw[:, 1], raw[:, 2]
    return np.column_stack(
        [
            n_ch,
            _fractions(n_ch, MULTIPLICITY_EDGES),
            one_minus_t,
            _fractions(one_minus_t, THRUST_EDGES),
            rho,
            _fractions(rho, MASS_EDGES),
            raw[:, 3:],
        ]
    )


class PythiaTune(Simulator):
    name = "pythia-tune"
    parameter_names = ("StringZ:aLund", "StringZ:bLund", "TimeShower:alphaSvalue")
    summary_names = SUMMARY_NAMES
    settings_class = PythiaTuneSettings

    def __init__(self, settings=None):
        super().__init__(settings)
        if self.settings.events < 10:
            raise PhysgenInputError("pythia-tune needs at least 10 events per call")

    @property
    def bounds(self) -> np.ndarray:
        return np.array([[0.3, 1.0], [0.6, 1.4], [0.12, 0.15]])

    def run(self, point, seed):
        names = self.parameter_names
        tune = tuple(f"{n} = {v:.6g}" for n, v in zip(names, point, strict=True))
        pythia = make_pythia((*LEP1, *tune), seed)
        features = event_features(pythia, self.settings.events)
        return features.mean(0), np.cov(features, rowvar=False) / len(features)
