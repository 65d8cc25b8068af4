from dataclasses import replace

import numpy as np
import pytest
import torch

from physgen.calo.geometry import get_geometry
from physgen.calo.io import read_showers, write_showers
from physgen.calo.shower_models import (
    CaloFlowShowerModel,
    ShowerModel,
    ShowerModelConfig,
    build_model,
)
from physgen.core.training import TrainingConfig
from physgen.models.flows import FlowConfig

GEOMETRY = get_geometry("ds1-photons")


def tiny_data(n=200, seed=0):
    rng = np.random.default_rng(seed)
    energies = np.exp(rng.uniform(np.log(1e3), np.log(1e5), n)).astype(np.float32)
    weights = rng.gamma(0.7, 1.0, (n, 368)) * (rng.random((n, 368)) < 0.4)
    showers = weights / weights.sum(1, keepdims=True) * energies[:, None] * 0.9
    return energies, showers.astype(np.float32)


def tiny_config(model, epochs=3):
    return ShowerModelConfig(
        model=model,
        flow=FlowConfig(kind="coupling-rqs", transforms=2, hidden=(32,), bins=4),
        energy_flow=FlowConfig(kind="nsf", transforms=2, hidden=(16,)),
        training=TrainingConfig(epochs=epochs, batch_size=50, learning_rate=1e-3, patience=None),
    )


@pytest.mark.parametrize("model_name", ["coupling", "caloflow"])
def test_training_lowers_the_loss_and_samples_are_valid(model_name, tmp_path):
    energies, showers = tiny_data()
    model = build_model(GEOMETRY, tiny_config(model_name, epochs=6))
    histories = model.fit(energies, showers, tmp_path / "run", progress=False)
    for history in histories.values():
        losses = [h["train_loss"] for h in history["history"]]
        assert losses[-1] < losses[0]
    generated = model.sample(energies[:64], batch_size=20, seed=3)
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
    model = build_model(GEOMETRY, tiny_config(model_name, epochs=1))
    model.fit(energies, showers, progress=False)
    model.save(tmp_path / "model.pt")
    again = ShowerModel.load(tmp_path / "model.pt")
    assert type(again) is type(model)
    a = model.sample(energies[:30], batch_size=7, seed=11)
    b = again.sample(energies[:30], batch_size=7, seed=11)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, again.sample(energies[:30], batch_size=7, seed=12))
    x = torch.as_tensor(showers[:5]) + 0.001
    e = torch.as_tensor(energies[:5])
    assert torch.allclose(model.log_prob(x, e), again.log_prob(x, e))


def test_caloflow_energy_representation_round_trips():
    energies, showers = tiny_data(20)
    model = CaloFlowShowerModel(GEOMETRY, tiny_config("caloflow"))
    e_inc = torch.as_tensor(energies)
    e_layer = model._layer_energies(torch.as_tensor(showers))
    ratios = model._energy_ratios(e_layer, e_inc)
    assert ratios.min() >= 0 and ratios.max() <= 1
    assert torch.allclose(model._layers_from_ratios(ratios, e_inc), e_layer, rtol=1e-4, atol=1e-2)


@pytest.mark.parametrize("model_name", ["coupling", "latent-flow"])
def test_the_training_seed_fixes_the_initial_weights(model_name):
    def weights(seed):
        config = tiny_config(model_name)
        config = replace(config, training=replace(config.training, seed=seed))
        return torch.cat([p.detach().flatten() for p in build_model(GEOMETRY, config).parameters()])

    torch.manual_seed(123)
    first = weights(0)
    state = torch.random.get_rng_state()
    assert torch.equal(weights(0), first)  # another build, the global state moved on
    assert torch.equal(torch.random.get_rng_state(), state)  # and is left as it was
    assert not torch.equal(weights(1), first)


def test_sampling_is_deterministic_per_seed_and_batch_independent():
    energies, showers = tiny_data(60)
    model = build_model(GEOMETRY, tiny_config("coupling", epochs=1))
    model.fit(energies, showers, progress=False)
    assert np.array_equal(model.sample(energies, 60, seed=1), model.sample(energies, 60, seed=1))


@pytest.mark.parametrize(
    ("model_name", "samplers"),
    [("diffusion", ["heun", "dpmpp2m", "ddpm"]), ("flow-matching", ["euler", "midpoint"])],
)
def test_diffusion_and_flow_matching_models(model_name, samplers, tmp_path):
    from physgen.calo.training_run import _choose_sampler
    from physgen.core.errors import PhysgenInputError
    from physgen.models.diffusion import DenoiserConfig

    energies, showers = tiny_data(150)
    config = ShowerModelConfig(
        model=model_name,
        steps=6,
        denoiser=DenoiserConfig(hidden=32, blocks=1, embedding=8),
        training=TrainingConfig(epochs=4, batch_size=50, patience=None),
    )
    model = build_model(GEOMETRY, config)
    history = model.fit(energies, showers, progress=False)["network"]["history"]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    model.save(tmp_path / "model.pt")
    again = ShowerModel.load(tmp_path / "model.pt")
    for sampler in samplers:
        _choose_sampler(again, sampler, 4)
        _choose_sampler(model, sampler, 4)
        generated = again.sample(energies[:12], batch_size=5, seed=1)
        assert np.isfinite(generated).all() and (generated >= 0).all()
        assert np.array_equal(generated, model.sample(energies[:12], batch_size=5, seed=1))
    with pytest.raises(PhysgenInputError, match="not available"):
        _choose_sampler(again, "no-such-sampler", None)


def test_caloflow_with_a_distilled_student(tmp_path):
    energies, showers = tiny_data(150)
    config = ShowerModelConfig(
        model="caloflow",
        flow=FlowConfig(kind="maf", transforms=2, hidden=(64,)),
        energy_flow=FlowConfig(kind="nsf", transforms=2, hidden=(16,)),
        student=FlowConfig(kind="iaf", transforms=2, hidden=(64,)),
        training=TrainingConfig(epochs=3, batch_size=50, learning_rate=1e-3, patience=None),
    )
    model = build_model(GEOMETRY, config)
    histories = model.fit(energies, showers, tmp_path / "run", progress=False)
    student_losses = [h["train_loss"] for h in histories["student"]["history"]]
    assert student_losses[-1] < student_losses[0]
    generated = model.sample(energies[:40], batch_size=20, seed=3)
    assert np.isfinite(generated).all() and (generated >= 0).all()
    model.save(tmp_path / "model.pt")
    again = ShowerModel.load(tmp_path / "model.pt")
    assert again.student is not None
    assert np.array_equal(again.sample(energies[:40], batch_size=20, seed=3), generated)
    with pytest.raises(ValueError, match="distillation needs"):
        build_model(GEOMETRY, ShowerModelConfig(model="caloflow", student=config.student))


def test_trees_model(tmp_path):
    pytest.importorskip("xgboost")
    from physgen.core.errors import PhysgenInputError
    from physgen.models.trees import TreeConfig

    energies, showers = tiny_data(200)
    config = ShowerModelConfig(
        model="trees",
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
    model = build_model(GEOMETRY, config)
    history = model.fit(energies, showers, progress=False)
    assert 0 < history["trees"]["explained_variance"] < 1
    generated = model.sample(energies[:40], batch_size=20, seed=3)
    assert generated.shape == (40, 368) and np.isfinite(generated).all()
    positive = generated[generated > 0]
    assert positive.size and positive.min() >= GEOMETRY.threshold_mev
    # layer energies come from the sampled ratios: E_tot / E_inc is in the physical range
    assert np.all(generated.sum(1) <= 1.5 * energies[:40] * (1 + 1e-5))
    model.save(tmp_path / "model.pt")
    again = ShowerModel.load(tmp_path / "model.pt")
    assert np.array_equal(again.sample(energies[:40], batch_size=20, seed=3), generated)
    again.steps = 2  # a divisor of the fitted 4 levels
    assert again.sample(energies[:5], seed=1).shape == (5, 368)
    again.steps = 3
    with pytest.raises(PhysgenInputError, match="divisor"):
        again.sample(energies[:5], seed=1)


def test_latent_flow_model(tmp_path):
    energies, showers = tiny_data(300)
    config = ShowerModelConfig(
        model="latent-flow",
        latent_components=16,
        marginal_bins=3,  # Gaussianisation tables per third of the energies
        flow=FlowConfig(kind="coupling-rqs", transforms=4, hidden=(32,), bins=4),
        training=TrainingConfig(epochs=8, batch_size=50, learning_rate=3e-3, patience=None),
    )
    model = build_model(GEOMETRY, config)
    history = model.fit(energies, showers, tmp_path / "run", progress=False)["flow"]
    losses = [h["train_loss"] for h in history["history"]]
    assert losses[-1] < losses[0]
    assert 0 < history["explained_variance"] < 1
    generated = model.sample(energies[:40], batch_size=15, seed=3)
    assert generated.shape == (40, 368) and generated.dtype == np.float32
    assert np.isfinite(generated).all() and (generated >= 0).all()
    positive = generated[generated > 0]
    assert positive.size and positive.min() >= model.zero_suppression_mev.item()
    assert np.all(generated.sum(1) <= 1.5 * energies[:40] * (1 + 1e-5))
    model.save(tmp_path / "model.pt")
    again = ShowerModel.load(tmp_path / "model.pt")
    assert np.array_equal(again.sample(energies[:40], batch_size=15, seed=3), generated)
    assert torch.equal(
        again.latent_log_prob(showers[:5], energies[:5]),
        model.latent_log_prob(showers[:5], energies[:5]),
    )
    with pytest.raises(NotImplementedError, match="latent_log_prob"):
        model.log_prob(torch.as_tensor(showers[:2]), torch.as_tensor(energies[:2]))


def test_trees_models_saved_before_the_shared_latent_space_still_load(tmp_path):
    pytest.importorskip("xgboost")
    from physgen.models.trees import TreeConfig

    energies, showers = tiny_data(100)
    trees = TreeConfig(steps=2, duplicates=1, n_estimators=3, max_depth=2, n_jobs=1)
    config = ShowerModelConfig(model="trees", latent_components=4, trees=trees)
    model = build_model(GEOMETRY, config)
    model.fit(energies, showers, progress=False)
    model.save(tmp_path / "model.pt")
    payload = torch.load(tmp_path / "model.pt", weights_only=False)
    payload["config"]["tree_components"] = payload["config"].pop("latent_components")
    state = payload["state_dict"]
    for name in ("mean", "components", "scale"):
        state[f"pca_{name}"] = state.pop(f"pca.{name}")
    state["residual_std"] = state.pop("pca.residual_var")[0].sqrt()
    state.pop("pca.residual_mean")
    torch.save(payload, tmp_path / "old.pt")
    old = ShowerModel.load(tmp_path / "old.pt")
    model.pca.residual_mean.zero_()  # old files had none (an unconditional one is ~1e-8)
    assert np.array_equal(old.sample(energies[:9], seed=2), model.sample(energies[:9], seed=2))


def test_zero_suppression_is_the_training_voxel_quantile():
    energies, showers = tiny_data(100)
    model = build_model(GEOMETRY, tiny_config("coupling"))
    nonzero = showers[showers > 0]
    cut = model.fit_zero_suppression(showers)
    assert cut == pytest.approx(max(np.quantile(nonzero, 0.01), GEOMETRY.threshold_mev))
    cleaned = model._clean(torch.tensor([[cut * 0.99, cut * 1.01, float("nan")]]))
    assert cleaned.tolist() == [[0.0, pytest.approx(cut * 1.01), 0.0]]
    off = build_model(GEOMETRY, ShowerModelConfig(model="coupling", zero_suppression_quantile=None))
    assert off.fit_zero_suppression(showers) == pytest.approx(GEOMETRY.threshold_mev)
