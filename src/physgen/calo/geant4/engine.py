"""One Geant4 run manager per process, shooting single particles event by event.

Every event re-seeds the random engine from (run seed, global event index), so an event's
shower depends only on those two numbers: output is bit-identical whatever the number of
worker processes or the order in which chunks are simulated.
"""

from __future__ import annotations

import numpy as np

from physgen.calo.geant4.runtime import import_geant4, real_data_available

PARTICLES = {"e-": "e-", "e+": "e+", "gamma": "gamma", "photon": "gamma"}


def event_seeds(run_seed: int, event_index: int) -> list[int]:
    """Two positive 31-bit seeds for one event, from a SeedSequence of (seed, index)."""
    state = np.random.SeedSequence([run_seed, event_index]).generate_state(2, dtype=np.uint32)
    return [int(s) % (2**31 - 1) + 1 for s in state]


class Geant4Engine:
    """A serial Geant4 run manager with a detector, a physics list and a particle gun."""

    def __init__(
        self,
        detector_construction,
        particle: str,
        position_mm,
        direction,
        physics: str = "auto",
        cut_mm: float = 0.7,
        on_event=None,
        stepping_action=None,
    ):
        """``stepping_action``: a callable g4 -> G4UserSteppingAction (the fast-simulation
        hand-over, calo.geant4.fast_sim), or None."""
        g4 = import_geant4()
        self.g4 = g4
        if physics == "auto":
            physics = "FTFP_BERT" if real_data_available() else "data-free-em"
        self.physics_name = physics
        self._queue: list[tuple[float, list[int]]] = []
        self._on_event = on_event
        self.current_seeds: list[int] = []
        engine = self

        class Gun(g4.G4VUserPrimaryGeneratorAction):
            def __init__(self):
                super().__init__()
                self.gun = g4.G4ParticleGun(1)
                self.gun.SetParticleByName(PARTICLES[particle])
                self.gun.SetParticleMomentumDirection(g4.G4ThreeVector(*direction))
                self.gun.SetParticlePosition(g4.G4ThreeVector(*[v * g4.mm for v in position_mm]))

            def GeneratePrimaries(self, event):
                energy_mev, seeds = engine._queue.pop(0)
                engine.current_seeds = seeds
                # CLHEP reads the seed array up to a terminating zero
                g4.HepRandom.setTheSeeds([*seeds, 0])
                self.gun.SetParticleEnergy(energy_mev * g4.MeV)
                self.gun.GeneratePrimaryVertex(event)

        class EventAction(g4.G4UserEventAction):
            def EndOfEventAction(self, event):
                if engine._on_event is not None:
                    engine._on_event()

        class Actions(g4.G4VUserActionInitialization):
            def Build(self):
                self.SetUserAction(Gun())
                self.SetUserAction(EventAction())
                if stepping_action is not None:
                    self.SetUserAction(stepping_action(g4))

        self.run_manager = g4.G4RunManagerFactory.CreateRunManager(g4.G4RunManagerType.SerialOnly)
        self.run_manager.SetUserInitialization(detector_construction)
        self.run_manager.SetUserInitialization(self._physics_list(physics, cut_mm))
        self._actions = Actions()
        self.run_manager.SetUserInitialization(self._actions)
        ui = g4.G4UImanager.GetUIpointer()
        for command in (
            "/control/verbose 0",
            "/run/verbose 0",
            "/event/verbose 0",
            "/tracking/verbose 0",
            "/process/em/verbose 0",
            "/process/verbose 0",
        ):
            ui.ApplyCommand(command)
        g4.G4EmParameters.Instance().SetVerbose(0)
        self.run_manager.Initialize()
        self._detector = detector_construction

    def _physics_list(self, physics: str, cut_mm: float):
        if physics == "data-free-em":
            from physgen.calo.geant4.em_physics import make_physics_list

            return make_physics_list(cut_mm)
        factory = self.g4.G4PhysListFactory()
        if not factory.IsReferencePhysList(physics):
            raise ValueError(f"unknown Geant4 reference physics list '{physics}'")
        physics_list = factory.GetReferencePhysList(physics)
        physics_list.SetDefaultCutValue(cut_mm * self.g4.mm)
        return physics_list

    def shoot(self, energies_mev, seeds) -> None:
        """Simulate one event per energy, each with its own seeds."""
        self._queue = [(float(e), list(s)) for e, s in zip(energies_mev, seeds, strict=True)]
        self.run_manager.BeamOn(len(self._queue))
