"""A data-free electromagnetic physics list for e-, e+ and photons.

Every standard physics list shipped with geant4-pybind reads data tables (SeltzerBerger
bremsstrahlung, Livermore photo-effect, ...) that cannot be installed offline. These
processes and models need none: photo-effect (Sandia parametrisation), Klein-Nishina
Compton, relativistic pair production, Urban multiple scattering, Moller-Bhabha
ionisation, relativistic bremsstrahlung (with LPM) at all energies, e+ annihilation.

The wheel exports these C++ classes but does not bind them, so they are constructed with
ctypes: allocate with the C++ ``operator new``, call the mangled constructor, register
with G4PhysicsListHelper. Objects are over-allocated (their exact sizes are not exported);
Geant4 owns and deletes them as usual.
"""

from __future__ import annotations

import ctypes

from physgen.calo.geant4.runtime import import_geant4

_ALLOCATION_BYTES = 8192  # generous upper bound on sizeof() of a process or model
_FELECTROMAGNETIC = 2  # G4ProcessType::fElectromagnetic

_SYMBOLS = {
    "new": "_Znwm",
    "string_ctor": "_ZNSt7__cxx1112basic_stringIcSt11char_traitsIcESaIcEEC1EPKcRKS3_",
    "electron": "_ZN10G4Electron8ElectronEv",
    "positron": "_ZN10G4Positron8PositronEv",
    "gamma": "_ZN7G4Gamma5GammaEv",
    "helper": "_ZN19G4PhysicsListHelper20GetPhysicsListHelperEv",
    "add_transportation": "_ZN19G4PhysicsListHelper17AddTransportationEv",
    "register": "_ZN19G4PhysicsListHelper15RegisterProcessEP10G4VProcessP20G4ParticleDefinition",
    "set_em_model_process": "_ZN12G4VEmProcess10SetEmModelEP10G4VEmModeli",
    "set_em_model_loss": "_ZN20G4VEnergyLossProcess10SetEmModelEP10G4VEmModeli",
    # processes
    "phot": "_ZN21G4PhotoElectricEffectC1ERK8G4String13G4ProcessType",
    "compt": "_ZN19G4ComptonScatteringC1ERK8G4String13G4ProcessType",
    "conv": "_ZN17G4GammaConversionC1ERK8G4String13G4ProcessType",
    "msc": "_ZN21G4eMultipleScatteringC1ERK8G4String",
    "eIoni": "_ZN13G4eIonisationC1ERK8G4String",
    "eBrem": "_ZN17G4eBremsstrahlungC1ERK8G4String",
    "annihil": "_ZN19G4eplusAnnihilationC1ERK8G4String",
    # models
    "pe_model": "_ZN19G4PEEffectFluoModelC1ERK8G4String",
    "compton_model": "_ZN21G4KleinNishinaComptonC1EPK20G4ParticleDefinitionRK8G4String",
    "pair_model": "_ZN24G4PairProductionRelModelC1EPK20G4ParticleDefinitionRK8G4String",
    "brem_model": "_ZN25G4eBremsstrahlungRelModelC1EPK20G4ParticleDefinitionRK8G4String",
}

PHYSICS_LIST_NAME = (
    "physgen-data-free-EM (Sandia PE, Klein-Nishina, PairProductionRel, Urban msc, "
    "MollerBhabha, eBremRel all energies, annihilation)"
)


class _Bridge:
    """ctypes handles to the C++ symbols of the geant4-pybind extension."""

    def __init__(self):
        g4 = import_geant4()
        self.lib = ctypes.CDLL(g4.__file__)
        self.libstdcxx = ctypes.CDLL("libstdc++.so.6")
        vp = ctypes.c_void_p
        self.fn = {}
        for key, symbol in _SYMBOLS.items():
            lib = self.libstdcxx if key in ("new", "string_ctor") else self.lib
            self.fn[key] = getattr(lib, symbol)
        self.fn["new"].restype = vp
        self.fn["new"].argtypes = [ctypes.c_size_t]
        for key in ("electron", "positron", "gamma", "helper"):
            self.fn[key].restype = vp
            self.fn[key].argtypes = []
        self.fn["register"].restype = ctypes.c_bool
        self._keep_alive = []

    def alloc(self, n_bytes: int = _ALLOCATION_BYTES) -> int:
        pointer = self.fn["new"](n_bytes)
        ctypes.memset(pointer, 0, n_bytes)
        return pointer

    def g4string(self, text: str) -> int:
        """A heap-allocated std::string (G4String has no extra members); kept alive."""
        pointer = self.alloc(64)
        allocator = ctypes.create_string_buffer(8)
        encoded = ctypes.c_char_p(text.encode())
        self.fn["string_ctor"](ctypes.c_void_p(pointer), encoded, allocator)
        self._keep_alive.append(encoded)
        return pointer

    def construct(self, key: str, *args) -> int:
        pointer = self.alloc()
        self.fn[key](ctypes.c_void_p(pointer), *args)
        return pointer

    def particle(self, name: str) -> int:
        return self.fn[name]()


def construct_data_free_em_processes() -> None:
    """Register the processes; call from ``ConstructProcess`` of a G4VUserPhysicsList."""
    bridge = _Bridge()
    vp = ctypes.c_void_p
    helper = vp(bridge.fn["helper"]())
    bridge.fn["add_transportation"](helper)
    gamma, electron, positron = (vp(bridge.particle(n)) for n in ("gamma", "electron", "positron"))
    em = ctypes.c_int(_FELECTROMAGNETIC)

    def register(process: int, particle) -> None:
        if not bridge.fn["register"](helper, vp(process), particle):
            raise RuntimeError("G4PhysicsListHelper refused a process")

    def with_model(process: int, setter: str, model: int) -> int:
        bridge.fn[setter](vp(process), vp(model), ctypes.c_int(0))
        return process

    s = bridge.g4string
    null = vp(0)
    # photons
    register(
        with_model(
            bridge.construct("phot", vp(s("phot")), em),
            "set_em_model_process",
            bridge.construct("pe_model", vp(s("PhotoElectric"))),
        ),
        gamma,
    )
    register(
        with_model(
            bridge.construct("compt", vp(s("compt")), em),
            "set_em_model_process",
            bridge.construct("compton_model", null, vp(s("Klein-Nishina"))),
        ),
        gamma,
    )
    register(
        with_model(
            bridge.construct("conv", vp(s("conv")), em),
            "set_em_model_process",
            bridge.construct("pair_model", null, vp(s("BetheHeitlerLPM"))),
        ),
        gamma,
    )
    # electrons and positrons (msc and ionisation keep their data-free default models)
    for particle in (electron, positron):
        register(bridge.construct("msc", vp(s("msc"))), particle)
        register(bridge.construct("eIoni", vp(s("eIoni"))), particle)
        register(
            with_model(
                bridge.construct("eBrem", vp(s("eBrem"))),
                "set_em_model_loss",
                bridge.construct("brem_model", null, vp(s("eBremLPM"))),
            ),
            particle,
        )
    register(bridge.construct("annihil", vp(s("annihil"))), positron)


def make_physics_list(cut_mm: float = 0.7):
    """A G4VUserPhysicsList with the data-free EM processes and a production cut."""
    g4 = import_geant4()

    class DataFreeEmPhysicsList(g4.G4VUserPhysicsList):
        def __init__(self):
            super().__init__()
            self.SetDefaultCutValue(cut_mm * g4.mm)

        def ConstructParticle(self):
            for particle in (g4.G4Gamma, g4.G4Electron, g4.G4Positron, g4.G4Proton, g4.G4Geantino):
                particle.Definition()

        def ConstructProcess(self):
            construct_data_free_em_processes()

        def SetCuts(self):
            self.SetCutsWithDefault()

    return DataFreeEmPhysicsList()
