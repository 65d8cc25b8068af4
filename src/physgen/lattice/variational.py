"""Variational training of autoregressive samplers to a Boltzmann density (reverse KL).

Minimises F_q = E_q[ln q(s) + beta E(s)] / beta >= F with the REINFORCE gradient and a mean
baseline, E_q[(ln q + beta E - b) grad ln q], annealing beta_t = beta (1 - a^t) (Wu, Wang
and Zhang, PRL 122, 080602 (2019)).
"""

from __future__ import annotations

from dataclasses import field, replace
from typing import Annotated, Literal

import torch
from pydantic import Field

from physgen.core.config import settings
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.core.training import StepConfig, optimize
from physgen.lattice.entanglement import TrotterChain
from physgen.lattice.models import Ising, Potts
from physgen.models.autoregressive import MADE, AutoregressiveSampler, PixelCNN
from physgen.models.base import ConditionalGenerator, History, check_batch, legacy_payload
from physgen.models.hierarchical import HierarchicalSampler

Positive = Annotated[int, Field(ge=1)]
PositiveReal = Annotated[float, Field(gt=0, allow_inf_nan=False)]


@settings
class SamplerConfig:
    model: Literal["lattice-sampler"] = "lattice-sampler"
    lattice: Literal["ising2d", "potts", "tfim-chain"] = "ising2d"
    L: Annotated[int, Field(ge=2)] = 16  # tfim-chain: the sites of the quantum ring
    beta: PositiveReal = 0.4406868  # tfim-chain: the quantum inverse temperature (1/J)
    q: Annotated[int, Field(ge=2)] = 2
    trotter_step: PositiveReal = 0.25  # tfim-chain: imaginary-time step; slices = beta / step
    transverse_field: Annotated[float, Field(allow_inf_nan=False)] = 1.0  # tfim-chain: h / J
    network: Literal["made", "pixelcnn", "han"] = "made"  # han: hierarchical, L a power of two
    depth: Positive = 1  # han: 2 adds `width` hidden units per site to the large crosses' nets
    width: Positive = 16
    kernel: Positive = 5
    z2_symmetric: bool = True
    batch_size: Annotated[int, Field(ge=2)] = 1000
    annealing: Annotated[float, Field(ge=0, lt=1)] = 0.998
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
        if config.L < 4 or config.L & (config.L - 1):
            raise PhysgenInputError(f"the HAN needs L a power of two >= 4, not {config.L}")
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


class LatticeSampler(ConditionalGenerator):
    """An autoregressive sampler of a lattice's Boltzmann density under the model contract:
    x is (batch, n_sites) spins 0..q-1 as float32 (the network's coding; ``lattice_spins``
    maps them to the model's), there is no condition (conditions of shape (batch, 0)), and
    ``log_prob`` is the exact log q. ``fit`` trains by reverse KL against an energy function
    (by default the config's lattice) instead of data."""

    name = "lattice-sampler"
    config_class = SamplerConfig

    def __init__(self, config: SamplerConfig):
        super().__init__(config)
        self.net = build_sampler(config)
        self.n_features = self.net.n_sites

    @staticmethod
    def seed_of(config) -> int:
        return config.optimizer.seed

    def fit(self, data=None, conditions=None, run=None) -> History:
        """Reverse KL to exp(-beta E(s)): ``data`` is the energy function E of (batch,
        n_sites) network spins (None: the config's lattice), beta annealed from 0."""
        config = self.config
        energy = data if data is not None else lattice_energy(config)
        device = config.optimizer.device
        self.to(device)
        generator = torch.Generator(device=device).manual_seed(config.optimizer.seed)

        def step_loss(step: int):
            beta_t = boltzmann_beta(config) * (1 - config.annealing ** (step + 1))
            spins = self.net.sample(config.batch_size, generator)
            log_q = self.net.log_prob(spins)
            with torch.no_grad():
                signal = log_q + beta_t * energy(spins).to(log_q.dtype)
                advantage = signal - signal.mean()
            loss = (advantage * log_q).mean()
            free_energy = (signal.mean() / beta_t / self.n_features).item()
            return loss, {"beta": beta_t, "free_energy_per_site": free_energy}

        history = optimize(
            self.net,
            step_loss,
            config.optimizer,
            *Run.training_place(run, "sampler"),
            description=f"{config.network.upper()} {config.lattice} L={config.L}",
            generators={"sampling": generator},
        )
        self.eval()
        return {"sampler": history}

    def _sample(self, conditions, noise):
        return self.net.sample(len(conditions), noise).float()

    def log_prob(self, x, conditions=None):
        x = check_batch(x, "spins", self.n_features)
        return self.net.log_prob(x.to(self.device).long())

    @classmethod
    def upgrade_payload(cls, payload: dict) -> dict:
        """sampler.pt of physgen <= 0.1.0: the network's weights without the ``net.`` prefix."""
        if "format" in payload:
            return payload
        return legacy_payload(cls.name, payload["config"], payload["state_dict"], "net.")


def lattice_energy(config: SamplerConfig):
    """E(s) of (batch, n_sites) network spins for the config's lattice."""
    lattice = build_lattice(config)
    return lambda spins: lattice.energy(lattice_spins(config, spins).view(-1, *lattice.shape))


def train_sampler(config: SamplerConfig, run_dir=None, resume=False, progress=True):
    """Train a sampler by reverse KL; returns (the sampler's network, history). The network
    is ``LatticeSampler.net`` (sample(n, generator), log_prob(spins))."""

    model = LatticeSampler.from_config(config)
    history = model.fit(None, None, Run(run_dir, resume, progress))["sampler"]
    return model.net, history


def save_sampler(path, sampler, config: SamplerConfig) -> None:
    """Save a trained network (from ``train_sampler``) as a LatticeSampler model file."""
    model = LatticeSampler(config)
    model.net.load_state_dict(sampler.state_dict())
    model.save(path)


def load_sampler(path) -> tuple[AutoregressiveSampler | HierarchicalSampler, SamplerConfig]:
    """(network, config) of a LatticeSampler model file."""
    model = LatticeSampler.load(path)
    return model.net, model.config


def train_run(config_path, run_dir, overrides: dict, resume: bool = False, log=print) -> dict:
    """``physgen lattice train``: a LatticeSampler trained into a run folder (core.run);
    returns the sampler's history."""
    from physgen.core.config import load_config
    from physgen.core.device import resolve_device

    config = load_config(SamplerConfig, config_path, overrides, log)
    optimizer = replace(config.optimizer, device=resolve_device(config.optimizer.device))
    config = replace(config, optimizer=optimizer)
    run = Run(run_dir, resume)
    model = LatticeSampler.from_config(config)
    run.start(config, config.optimizer.seed)
    history = model.fit(None, None, run)["sampler"]
    run.finish(
        model,
        {"sampler": history},
        seconds=history["seconds"],
        steps=history["steps"],
        final_variational_free_energy_per_site=history["history"][-1]["free_energy_per_site"],
    )
    return history
