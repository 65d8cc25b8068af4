"""Every registered model through the same checks of the ConditionalGenerator contract
(models/base.py): shapes and dtype, save/load, batch-size independence, log_prob or a typed
NoDensityError. A model joins by one line in its domain's table; the first test fails if a
ConditionalGenerator class exists that the registry does not list."""

import importlib
import pkgutil
from pathlib import Path

import pytest
import torch

import physgen
from physgen.core.run import Run
from physgen.core.training import StepConfig, TrainingConfig
from physgen.models.base import ConditionalGenerator, NoDensityError
from physgen.registry import REGISTRY
from synthetic import jet_pairs, showers

SRC = Path(physgen.__file__).parent


def _showers(n=120, seed=0):
    energies, deposits = showers(n, seed)
    return torch.as_tensor(deposits), torch.as_tensor(energies)[:, None]


def _jets(n=300, seed=0):
    parton, particle = jet_pairs(n, seed)
    return torch.as_tensor(particle), torch.as_tensor(parton)


def tiny(name):
    """(config, data, conditions) of a small model of each registered name."""
    from physgen.models.diffusion import DenoiserConfig
    from physgen.models.flows import FlowConfig

    training = TrainingConfig(epochs=2, batch_size=40, patience=None)
    flow = FlowConfig(transforms=2, hidden=(16,), bins=4)
    denoiser = DenoiserConfig(hidden=16, blocks=1, embedding=8)
    if name in ("coupling", "caloflow", "latent-flow", "diffusion", "flow-matching", "trees"):
        from physgen.calo.models.diffusion import DiffusionShowerConfig
        from physgen.calo.models.flows import FlowShowerConfig
        from physgen.calo.models.latent import LatentFlowConfig
        from physgen.calo.models.trees import TreeShowerConfig
        from physgen.models.trees import TreeConfig

        common = {"geometry": "ds1-photons", "training": training}
        config = {
            "coupling": lambda: FlowShowerConfig(model=name, flow=flow, **common),
            "caloflow": lambda: FlowShowerConfig(model=name, flow=flow, energy_flow=flow, **common),
            "latent-flow": lambda: LatentFlowConfig(flow=flow, latent_components=6, **common),
            "diffusion": lambda: DiffusionShowerConfig(
                model=name, denoiser=denoiser, steps=3, sampler="ddpm", **common
            ),
            "flow-matching": lambda: DiffusionShowerConfig(
                model=name, denoiser=denoiser, steps=3, **common
            ),
            "trees": lambda: TreeShowerConfig(
                latent_components=4,
                trees=TreeConfig(steps=2, duplicates=2, n_estimators=4, max_depth=2, n_jobs=1),
                **common,
            ),
        }[name]()
        return (config, *_showers())
    if name == "iqn":
        from physgen.jets.emulator import EmulatorConfig
        from physgen.models.iqn import IQNConfig

        return EmulatorConfig(iqn=IQNConfig(hidden=(16,)), training=training), *_jets()
    if name == "lattice-sampler":
        from physgen.lattice.variational import SamplerConfig

        steps = StepConfig(steps=3)
        return SamplerConfig(L=4, network="han", batch_size=32, optimizer=steps), None, None
    if name == "lattice-strip":
        from physgen.lattice.conditional_z import StripConfig

        pool = torch.randint(0, 2, (64, 8), generator=torch.Generator().manual_seed(0))
        return StripConfig(L=4, optimizer=StepConfig(steps=3)), None, pool.float()
    if name == "nested-flow":
        from physgen.nested.proposal import FlowProposalConfig

        points = torch.rand(200, 3, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.2
        return FlowProposalConfig(dim=3, flow=flow, training=training), points, None
    if name == "nested-flow-matching":
        from physgen.nested.fm_proposal import FlowMatchingProposalConfig

        points = torch.rand(200, 3, generator=torch.Generator().manual_seed(0)) * 0.5 + 0.2
        config = FlowMatchingProposalConfig(dim=3, network=denoiser, training=training, steps=3)
        return config, points, None
    if name == "committee-emulator":
        from physgen.emulate.emulator import EmulatorConfig as CommitteeEmulatorConfig
        from physgen.models.committee import CommitteeConfig

        theta = torch.rand(60, 2, generator=torch.Generator().manual_seed(0))
        summaries = torch.stack([theta.sum(1), theta[:, 0] * theta[:, 1], theta[:, 1]], 1)
        config = CommitteeEmulatorConfig(
            lower=(0.0, 0.0), upper=(1.0, 1.0), n_summaries=3, steps=20,
            committee=CommitteeConfig(members=3, hidden=(8,)), training=training,
        )  # fmt: skip
        return config, summaries, theta
    if name == "density-flow":
        from physgen.integrate.sampler import DensityFlowConfig
        from physgen.integrate.targets import Gaussian

        target = Gaussian(dim=2)
        config = DensityFlowConfig(
            target="gaussian", lower=tuple(target.lower), upper=tuple(target.upper),
            budget=2000, batch_size=32, flow=flow, optimizer=StepConfig(steps=1),
        )  # fmt: skip
        return config, target, None
    raise KeyError(f"no tiny configuration for the registered model '{name}': add one here")


def _conditions_for_sampling(model, conditions, n=90):
    if conditions is None:
        return torch.zeros(n, 0)
    return conditions[torch.arange(n) % len(conditions)]


def test_the_registry_lists_every_model_class():
    for module in pkgutil.walk_packages([str(SRC)], "physgen."):
        if not module.name.endswith(("geant4.engine", "geant4.worker")):
            try:
                importlib.import_module(module.name)
            except ImportError as err:  # an optional extra that is not installed
                pytest.skip(f"{module.name}: {err}")

    def concrete(cls):
        found = set()
        for sub in cls.__subclasses__():
            if "config_class" in vars(sub) or "name" in vars(sub):
                if not sub.__name__.startswith("_") and sub.name != "base":
                    found.add(sub.name)
            found |= concrete(sub)
        return found

    assert concrete(ConditionalGenerator) == set(REGISTRY.names)
    for name in REGISTRY.names:
        assert REGISTRY.model_class(name).name == name


def test_only_the_contract_saves_models():
    """torch.save writes model files in models/base.py and checkpoints in core/training.py."""
    writers = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "torch.save(" in path.read_text()
    )
    assert writers == ["core/training.py", "models/base.py"]


@pytest.fixture(scope="module", params=REGISTRY.names)
def trained(request, tmp_path_factory):
    name = request.param
    if name == "trees":
        pytest.importorskip("xgboost")
    config, data, conditions = tiny(name)
    model = REGISTRY.build(config)
    history = model.fit(data, conditions, Run(tmp_path_factory.mktemp(name), progress=False))
    assert isinstance(history, dict) and history
    return model, data, conditions


def test_shapes_and_dtype(trained):
    model, _, conditions = trained
    c = _conditions_for_sampling(model, conditions)
    x = model.sample(c, torch.Generator().manual_seed(0))
    assert x.shape == (len(c), model.n_features) and x.dtype == torch.float32
    assert torch.isfinite(x).all()
    assert model.sample(c[:0], torch.Generator()).shape == (0, model.n_features)
    with pytest.raises(ValueError, match="2-D"):
        model.sample(c[:, 0] if c.shape[1] else torch.zeros(3), torch.Generator())


def test_sample_does_not_depend_on_the_batch_size(trained):
    model, _, conditions = trained
    c = _conditions_for_sampling(model, conditions)
    whole = model.sample(c, torch.Generator().manual_seed(5))
    for batch_size in (1, 13, 64):
        batched = model.sample(c, torch.Generator().manual_seed(5), batch_size=batch_size)
        # identical random numbers per row; float32 rounding of batched products remains
        torch.testing.assert_close(batched, whole, rtol=1e-4, atol=1e-2)
    assert not torch.equal(model.sample(c, torch.Generator().manual_seed(6)), whole)


def test_save_load_gives_identical_samples(trained, tmp_path):
    model, _, conditions = trained
    model.save(tmp_path / "model.pt")
    again = REGISTRY.load(tmp_path / "model.pt")
    assert type(again) is type(model) and again.config == model.config
    c = _conditions_for_sampling(model, conditions, 40)
    a = model.sample(c, torch.Generator().manual_seed(2), batch_size=16)
    b = again.sample(c, torch.Generator().manual_seed(2), batch_size=16)
    assert torch.equal(a, b)


def test_log_prob_is_finite_or_a_typed_error(trained):
    model, _, conditions = trained
    c = _conditions_for_sampling(model, conditions, 20)
    x = model.sample(c, torch.Generator().manual_seed(3))
    if not model.has_density:
        with pytest.raises(NoDensityError):
            model.log_prob(x, c)
        return
    log_prob = model.log_prob(x, c)
    assert log_prob.shape == (len(c),) and torch.isfinite(log_prob).all()


@pytest.mark.gpu
@pytest.mark.parametrize("name", REGISTRY.names)
def test_fit_and_sample_on_cuda(name):
    """Every registered model trains and samples with device cuda (skipped without a GPU)."""
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    if name == "trees":
        pytest.importorskip("xgboost")
    from dataclasses import replace

    config, data, conditions = tiny(name)
    if hasattr(config, "training"):
        config = replace(config, training=replace(config.training, device="cuda"))
    else:
        config = replace(config, optimizer=replace(config.optimizer, device="cuda"))
    model = REGISTRY.build(config)
    model.fit(data, conditions, Run(progress=False))
    assert model.device.type == "cuda"
    c = _conditions_for_sampling(model, conditions, 50)
    x = model.sample(c, torch.Generator().manual_seed(0), batch_size=20)
    assert x.device.type == "cuda" and torch.isfinite(x).all()
    if model.has_density:
        assert torch.isfinite(model.log_prob(x, c.cuda())).all()
