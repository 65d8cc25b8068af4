from dataclasses import asdict, replace

import numpy as np
import pytest
import torch

from physgen.calo.geometry import get_geometry
from physgen.calo.io import read_showers, write_showers
from physgen.calo.models import SHOWER_MODELS
from physgen.calo.models.base import generate_showers
from physgen.calo.models.diffusion import DiffusionShowerConfig
from physgen.calo.models.flows import FlowShowerConfig
from physgen.calo.models.latent import LatentFlowConfig
from physgen.calo.models.trees import TreeShowerConfig
from physgen.calo.showers import LayerEnergyRepresentation
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.core.training import TrainingConfig
from physgen.models.base import NoDensityError
from physgen.models.flows import FlowConfig
from synthetic import showers

GEOMETRY = get_geometry("ds1-photons")
QUIET = Run(progress=False)


def tiny_data(n=200, seed=0):
    return showers(n, seed)


def tiny_config(model, epochs=3):
    training = TrainingConfig(epochs=epochs, batch_size=50, learning_rate=1e-3, patience=None)
    flow = FlowConfig(kind="coupling-rqs", transforms=2, hidden=(32,), bins=4)
    if model == "latent-flow":
        return LatentFlowConfig(
            geometry="ds1-photons", flow=flow, latent_components=8, training=training
        )
    return FlowShowerConfig(
        model=model,
        geometry="ds1-photons",
        flow=flow,
        energy_flow=FlowConfig(kind="nsf", transforms=2, hidden=(16,)),
        training=training,
    )


def fit(model, energies, showers, run=QUIET):
    return model.fit(torch.as_tensor(showers), torch.as_tensor(energies).reshape(-1, 1), run)


def sample(model, energies, batch_size=1000, seed=0):
    return generate_showers(model, energies, batch_size, seed)


@pytest.mark.parametrize("model_name", ["coupling", "caloflow"])
def test_training_lowers_the_loss_and_samples_are_valid(model_name, tmp_path):
    energies, showers = tiny_data()
    model = SHOWER_MODELS.build(tiny_config(model_name, epochs=6))
    histories = fit(model, energies, showers, Run(tmp_path / "run", progress=False))
    for history in histories.values():
        losses = [h["train_loss"] for h in history["history"]]
        assert losses[-1] < losses[0]
    generated = sample(model, energies[:64], batch_size=20, seed=3)
    assert generated.shape == (64, 368) and generated.dtype == np.float32
    assert np.isfinite(generated).all() and (generated >= 0).all()
    positive = generated[generated > 0]
    assert positive.size and positive.min() >= GEOMETRY.threshold_mev
    # the generated file passes the reader's validation
    write_showers(tmp_path / "gen.h5", energies[:64], generated)
    assert np.array_equal(read_showers(tmp_path / "gen.h5")[1], generated)


@pytest.mark.parametrize("model_name", ["coupling", "caloflow"])
def test_save_load_gives_identical_samples(model_name, tmp_path):
    energies, showers = tiny_data(100)
    model = SHOWER_MODELS.build(tiny_config(model_name, epochs=1))
    fit(model, energies, showers)
    model.save(tmp_path / "model.pt")
    again = SHOWER_MODELS.load(tmp_path / "model.pt")
    assert type(again) is type(model)
    a = sample(model, energies[:30], batch_size=7, seed=11)
    b = sample(again, energies[:30], batch_size=7, seed=11)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, sample(again, energies[:30], batch_size=7, seed=12))
    x = torch.as_tensor(showers[:5]) + 0.001
    e = torch.as_tensor(energies[:5]).reshape(-1, 1)
    assert torch.allclose(model.log_prob(x, e), again.log_prob(x, e))


def test_caloflow_energy_representation_round_trips():
    energies, showers = tiny_data(20)
    representation = LayerEnergyRepresentation(GEOMETRY)
    e_inc = torch.as_tensor(energies)
    e_layer = representation.layer_energies(torch.as_tensor(showers))
    ratios = representation.energy_ratios(e_layer, e_inc)
    assert ratios.min() >= 0 and ratios.max() <= 1
    back = representation.layers_from_ratios(ratios, e_inc)
    assert torch.allclose(back, e_layer, rtol=1e-4, atol=1e-2)
    decoded = representation.decode(representation.encode(torch.as_tensor(showers), e_inc), e_inc)
    assert torch.allclose(decoded, torch.as_tensor(showers), rtol=1e-4, atol=1e-2)


@pytest.mark.parametrize("model_name", ["coupling", "latent-flow"])
def test_the_training_seed_fixes_the_initial_weights(model_name):
    def weights(seed):
        config = tiny_config(model_name)
        config = replace(config, training=replace(config.training, seed=seed))
        model = SHOWER_MODELS.build(config)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    torch.manual_seed(123)
    first = weights(0)
    state = torch.random.get_rng_state()
    assert torch.equal(weights(0), first)  # another build, the global state moved on
    assert torch.equal(torch.random.get_rng_state(), state)  # and is left as it was
    assert not torch.equal(weights(1), first)


@pytest.mark.parametrize("model_name", ["coupling", "caloflow"])
def test_showers_do_not_depend_on_the_generation_batch_size(model_name):
    """Fault of physgen 0.1.0: the coupling and caloflow showers of one seed differed by up to
    1.4e4 MeV between batch sizes (each batch drew from one generator in turn). Every row
    now gets its own random numbers (models.noise.RowNoise); what is left is float32 rounding
    of the batched matrix products."""
    energies, showers = tiny_data(300)
    model = SHOWER_MODELS.build(tiny_config(model_name, epochs=1))
    fit(model, energies, showers)
    whole = torch.as_tensor(sample(model, energies, batch_size=300, seed=1))
    for batch_size in (1, 7, 64, 256, 299):
        batched = torch.as_tensor(sample(model, energies, batch_size=batch_size, seed=1))
        torch.testing.assert_close(batched, whole, rtol=1e-4, atol=1e-2)
    assert not torch.allclose(torch.as_tensor(sample(model, energies, 300, seed=2)), whole)


@pytest.mark.parametrize(
    ("model_name", "samplers"),
    [("diffusion", ["heun", "dpmpp2m", "ddpm"]), ("flow-matching", ["euler", "midpoint"])],
)
def test_diffusion_and_flow_matching_models(model_name, samplers, tmp_path):
    from physgen.calo.training_run import _choose_sampler
    from physgen.models.diffusion import DenoiserConfig

    energies, showers = tiny_data(150)
    config = DiffusionShowerConfig(
        model=model_name,
        geometry="ds1-photons",
        steps=6,
        denoiser=DenoiserConfig(hidden=32, blocks=1, embedding=8),
        training=TrainingConfig(epochs=4, batch_size=50, patience=None),
    )
    model = SHOWER_MODELS.build(config)
    history = fit(model, energies, showers)["network"]["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    model.save(tmp_path / "model.pt")
    again = SHOWER_MODELS.load(tmp_path / "model.pt")
    for sampler in samplers:
        _choose_sampler(again, sampler, 4)
        _choose_sampler(model, sampler, 4)
        generated = sample(again, energies[:12], batch_size=5, seed=1)
        assert np.isfinite(generated).all() and (generated >= 0).all()
        assert np.array_equal(generated, sample(model, energies[:12], batch_size=5, seed=1))
    with pytest.raises(PhysgenInputError, match="not available"):
        _choose_sampler(again, "no-such-sampler", None)


def test_caloflow_with_a_distilled_student(tmp_path):
    energies, showers = tiny_data(150)
    config = FlowShowerConfig(
        model="caloflow",
        geometry="ds1-photons",
        flow=FlowConfig(kind="maf", transforms=2, hidden=(64,)),
        energy_flow=FlowConfig(kind="nsf", transforms=2, hidden=(16,)),
        student=FlowConfig(kind="iaf", transforms=2, hidden=(64,)),
        training=TrainingConfig(epochs=3, batch_size=50, learning_rate=1e-3, patience=None),
    )
    model = SHOWER_MODELS.build(config)
    histories = fit(model, energies, showers, Run(tmp_path / "run", progress=False))
    student_losses = [h["train_loss"] for h in histories["student"]["history"]]
    assert student_losses[-1] < student_losses[0]
    generated = sample(model, energies[:40], batch_size=20, seed=3)
    assert np.isfinite(generated).all() and (generated >= 0).all()
    model.save(tmp_path / "model.pt")
    again = SHOWER_MODELS.load(tmp_path / "model.pt")
    assert again.student is not None
    assert np.array_equal(sample(again, energies[:40], batch_size=20, seed=3), generated)
    with pytest.raises(PhysgenInputError, match="distillation needs"):
        SHOWER_MODELS.build(FlowShowerConfig(model="caloflow", student=config.student))


def test_trees_model(tmp_path):
    pytest.importorskip("xgboost")
    from physgen.models.trees import TreeConfig

    energies, showers = tiny_data(200)
    config = TreeShowerConfig(
        geometry="ds1-photons",
        latent_components=8,
        trees=TreeConfig(
            steps=4,
            duplicates=3,
            n_estimators=10,
            max_depth=3,
            n_jobs=1,
            multi_strategy="multi_output_tree",
        ),
    )
    model = SHOWER_MODELS.build(config)
    history = fit(model, energies, showers)
    assert 0 < history["trees"]["explained_variance"] < 1
    generated = sample(model, energies[:40], batch_size=20, seed=3)
    assert generated.shape == (40, 368) and np.isfinite(generated).all()
    positive = generated[generated > 0]
    assert positive.size and positive.min() >= GEOMETRY.threshold_mev
    # layer energies come from the sampled ratios: E_tot / E_inc is in the physical range
    assert np.all(generated.sum(1) <= 1.5 * energies[:40] * (1 + 1e-5))
    model.save(tmp_path / "model.pt")
    again = SHOWER_MODELS.load(tmp_path / "model.pt")
    assert np.array_equal(sample(again, energies[:40], batch_size=20, seed=3), generated)
    again.steps = 2  # a divisor of the fitted 4 levels
    assert sample(again, energies[:5], seed=1).shape == (5, 368)
    again.steps = 3
    with pytest.raises(PhysgenInputError, match="divisor"):
        sample(again, energies[:5], seed=1)


def test_latent_flow_model(tmp_path):
    energies, showers = tiny_data(300)
    config = LatentFlowConfig(
        geometry="ds1-photons",
        latent_components=16,
        marginal_bins=3,  # Gaussianisation tables per third of the energies
        flow=FlowConfig(kind="coupling-rqs", transforms=4, hidden=(32,), bins=4),
        training=TrainingConfig(epochs=8, batch_size=50, learning_rate=3e-3, patience=None),
    )
    model = SHOWER_MODELS.build(config)
    history = fit(model, energies, showers, Run(tmp_path / "run", progress=False))["flow"]
    losses = [h["train_loss"] for h in history["history"]]
    assert losses[-1] < losses[0]
    assert 0 < history["explained_variance"] < 1
    generated = sample(model, energies[:40], batch_size=15, seed=3)
    assert generated.shape == (40, 368) and generated.dtype == np.float32
    assert np.isfinite(generated).all() and (generated >= 0).all()
    positive = generated[generated > 0]
    assert positive.size and positive.min() >= model.zero_suppression_mev.item()
    assert np.all(generated.sum(1) <= 1.5 * energies[:40] * (1 + 1e-5))
    model.save(tmp_path / "model.pt")
    again = SHOWER_MODELS.load(tmp_path / "model.pt")
    assert np.array_equal(sample(again, energies[:40], batch_size=15, seed=3), generated)
    assert torch.equal(
        again.latent_log_prob(showers[:5], energies[:5]),
        model.latent_log_prob(showers[:5], energies[:5]),
    )
    with pytest.raises(NoDensityError):
        model.log_prob(torch.as_tensor(showers[:2]), torch.as_tensor(energies[:2]).reshape(-1, 1))


def test_trees_models_saved_by_physgen_0_1_still_load(tmp_path):
    """The 0.1.0 file: one config for every family with the geometry beside it, the trees
    beside the weights, and (older still) the PCA under pca_* and one residual width."""
    pytest.importorskip("xgboost")
    from physgen.calo.models.base import ShowerConfig
    from physgen.calo.models.diffusion import DiffusionShowerConfig
    from physgen.models.trees import TreeConfig

    energies, showers = tiny_data(100)
    trees = TreeConfig(steps=2, duplicates=1, n_estimators=3, max_depth=2, n_jobs=1)
    config = TreeShowerConfig(geometry="ds1-photons", latent_components=4, trees=trees)
    model = SHOWER_MODELS.build(config)
    fit(model, energies, showers)
    model.save(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=False)
    old_config = {**asdict(DiffusionShowerConfig()), **asdict(FlowShowerConfig())}
    old_config.update(payload["config"], latent_components=None, marginal_bins=1)
    old_config["tree_components"] = payload["config"]["latent_components"]
    del old_config["latent_components"], old_config["geometry"]
    state = payload["state_dict"]
    for name in ("mean", "components", "scale"):
        state[f"pca_{name}"] = state.pop(f"pca.{name}")
    state["residual_std"] = state.pop("pca.residual_var")[0].sqrt()
    state.pop("pca.residual_mean")
    state["layer_matrix"] = LayerEnergyRepresentation(GEOMETRY).layer_matrix
    old = {
        "model": "trees",
        "geometry": "ds1-photons",
        "config": old_config,
        "state_dict": state,
        "trees": payload["extra"]["trees"],
    }
    torch.save(old, tmp_path / "old.pt")
    loaded = SHOWER_MODELS.load(tmp_path / "old.pt")
    assert isinstance(loaded.config, ShowerConfig) and loaded.config.latent_components == 4
    model.pca.residual_mean.zero_()  # old files had none (an unconditional one is ~1e-8)
    assert np.array_equal(sample(loaded, energies[:9], seed=2), sample(model, energies[:9], seed=2))


def test_zero_suppression_is_the_training_voxel_quantile():
    energies, showers = tiny_data(100)
    model = SHOWER_MODELS.build(tiny_config("coupling"))
    nonzero = showers[showers > 0]
    cut = model.fit_zero_suppression(showers)
    assert cut == pytest.approx(max(np.quantile(nonzero, 0.01), GEOMETRY.threshold_mev))
    cleaned = model._clean(torch.tensor([[cut * 0.99, cut * 1.01, float("nan")]]))
    assert cleaned.tolist() == [[0.0, pytest.approx(cut * 1.01), 0.0]]
    off = SHOWER_MODELS.build(replace(tiny_config("coupling"), zero_suppression_quantile=None))
    assert off.fit_zero_suppression(showers) == pytest.approx(GEOMETRY.threshold_mev)


def test_each_family_refuses_the_settings_of_another(tmp_path):
    """A trees: block on a coupling model was silently ignored in physgen 0.1.0."""
    from physgen.calo.training_run import shower_config

    (tmp_path / "c.yaml").write_text("model: coupling\ntrees:\n  steps: 4\n")
    with pytest.raises(PhysgenInputError, match="unknown setting 'trees'"):
        shower_config(None, tmp_path / "c.yaml")
    (tmp_path / "l.yaml").write_text("model: latent-flow\ntraining:\n  learning_rate: 1e-3\n")
    config = shower_config(None, tmp_path / "l.yaml", log=lambda m: None)
    assert config.model == "latent-flow" and config.training.learning_rate == 0.001
    said = []
    assert shower_config("coupling", tmp_path / "l.yaml", log=said.append).model == "coupling"
    assert "overrides" in said[0]
