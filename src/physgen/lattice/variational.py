"""Variational training of autoregressive samplers to a Boltzmann density (reverse KL).

Minimises F_q = E_q[ln q(s) + beta E(s)] / beta >= F with the REINFORCE gradient and a mean
baseline, E_q[(ln q + beta E - b) grad ln q], annealing beta_t = beta (1 - a^t) (Wu, Wang
and Zhang, PRL 122, 080602 (2019)).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from physgen.core.atomic import atomic_path
from physgen.core.errors import PhysgenInputError
from physgen.core.training import StepConfig, optimize
from physgen.lattice.entanglement import TrotterChain
from physgen.lattice.models import Ising, Potts
from physgen.models.autoregressive import MADE, AutoregressiveSampler, PixelCNN
from physgen.models.hierarchical import HierarchicalSampler


@dataclass(frozen=True)
class SamplerConfig:
    lattice: str = "ising2d"  # ising2d | potts | tfim-chain
    L: int = 16  # tfim-chain: the sites of the quantum ring
    beta: float = 0.4406868  # tfim-chain: the quantum inverse temperature (1/J)
    q: int = 2
    trotter_step: float = 0.25  # tfim-chain: imaginary-time step; slices = beta / step
    transverse_field: float = 1.0  # tfim-chain: h / J
    network: str = "made"  # made | pixelcnn | han (hierarchical; L a power of two)
    depth: int = 1  # han: 2 adds `width` hidden units per site to the nets of the large crosses
    width: int = 16
    kernel: int = 5
    z2_symmetric: bool = True
    batch_size: int = 1000
    annealing: float = 0.998
    optimizer: StepConfig = field(default_factory=StepConfig)


def trotter_chain(config: SamplerConfig) -> TrotterChain:
    slices = round(config.beta / config.trotter_step)
    if abs(slices * config.trotter_step - config.beta) > 1e-9 * config.beta:
        raise PhysgenInputError(
            f"beta {config.beta} is not a whole number of Trotter steps {config.trotter_step}"
        )
    return TrotterChain(config.L, slices, config.trotter_step, h=config.transverse_field)


def build_lattice(config: SamplerConfig):
    if config.lattice == "ising2d":
        return Ising(config.L)
    if config.lattice == "potts":
        return Potts(config.L, q=config.q)
    if config.lattice == "tfim-chain":
        return trotter_chain(config).classical_model()
    raise ValueError(f"unknown lattice '{config.lattice}': ising2d, potts or tfim-chain")


def boltzmann_beta(config: SamplerConfig) -> float:
    """The factor of the lattice energy in the target exp(-beta E): the tfim-chain's
    classical energy is already the dimensionless action."""
    return 1.0 if config.lattice == "tfim-chain" else config.beta


def lattice_spins(config: SamplerConfig, spins: torch.Tensor) -> torch.Tensor:
    """Network spins 0..q-1 -> the model's spins (-1/+1 for Ising)."""
    return spins if config.lattice == "potts" else 2 * spins - 1


def han_hidden_units(config: SamplerConfig) -> int:
    """Hidden units per site in the HAN's conditional nets (depth 2: ``width``; else 0)."""
    return config.width if config.network == "han" and config.depth > 1 else 0


def build_sampler(config: SamplerConfig) -> AutoregressiveSampler | HierarchicalSampler:
    q = config.q if config.lattice == "potts" else 2
    n_sites = build_lattice(config).n_sites
    if config.lattice == "tfim-chain" and config.network != "made":
        raise PhysgenInputError("the tfim-chain torus is not square: use network 'made'")
    if config.network == "han":
        return HierarchicalSampler(
            config.L,
            q,
            z2_symmetric=config.z2_symmetric and q == 2,
            hidden=han_hidden_units(config),
        )
    if config.network == "made":
        conditional = MADE(n_sites, q, depth=config.depth, width=config.width)
    elif config.network == "pixelcnn":
        conditional = PixelCNN(
            config.L, q, depth=config.depth, width=config.width, kernel=config.kernel
        )
    else:
        raise ValueError(f"unknown network '{config.network}': made, pixelcnn or han")
    return AutoregressiveSampler(conditional, z2_symmetric=config.z2_symmetric and q == 2)


def train_sampler(config: SamplerConfig, run_dir=None, resume=False, progress=True):
    """Train a sampler by reverse KL; returns (sampler, history)."""
    sampler = build_sampler(config)
    lattice = build_lattice(config)
    generator = torch.Generator().manual_seed(config.optimizer.seed)

    def step_loss(step: int):
        beta_t = boltzmann_beta(config) * (1 - config.annealing ** (step + 1))
        spins = sampler.sample(config.batch_size, generator)
        log_q = sampler.log_prob(spins)
        energy = lattice.energy(lattice_spins(config, spins).view(-1, *lattice.shape)).float()
        with torch.no_grad():
            signal = log_q + beta_t * energy
            advantage = signal - signal.mean()
        loss = (advantage * log_q).mean()
        free_energy = (signal.mean() / beta_t / lattice.n_sites).item()
        return loss, {"beta": beta_t, "free_energy_per_site": free_energy}

    history = optimize(
        sampler,
        step_loss,
        config.optimizer,
        run_dir,
        resume,
        progress,
        description=f"{config.network.upper()} {config.lattice} L={config.L}",
    )
    return sampler, history


def save_sampler(path, sampler: AutoregressiveSampler, config: SamplerConfig) -> None:
    with atomic_path(path) as tmp:
        torch.save({"config": asdict(config), "state_dict": sampler.state_dict()}, tmp)


def load_sampler(path) -> tuple[AutoregressiveSampler, SamplerConfig]:
    from physgen.core.config import from_dict

    payload = torch.load(Path(path), map_location="cpu", weights_only=False)
    config = from_dict(SamplerConfig, payload["config"], str(path))
    sampler = build_sampler(config)
    sampler.load_state_dict(payload["state_dict"])
    sampler.eval()
    return sampler, config
