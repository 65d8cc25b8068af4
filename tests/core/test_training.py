import math

import pytest
import torch

from physgen.core.training import TrainingConfig, TrainingDiverged, fit


def regression_problem(n=256, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, generator=generator)
    y = x @ torch.tensor([1.0, -2.0, 0.5]) + 0.1 * torch.randn(n, generator=generator)
    return x, y


def mse(model, x, y):
    return ((model(x).squeeze(1) - y) ** 2).mean()


def test_loss_goes_down_and_best_model_is_kept():
    x, y = regression_problem()
    model = torch.nn.Linear(3, 1)
    before = mse(model, x, y).item()
    history = fit(
        model,
        mse,
        (x, y),
        TrainingConfig(epochs=30, batch_size=32, learning_rate=0.05, patience=None),
        progress=False,
    )
    assert mse(model, x, y).item() < 0.05 < before
    best = min(h["val_loss"] for h in history["history"])
    assert history["best_val_loss"] == pytest.approx(best)


def test_resume_continues_exactly(tmp_path):
    """Killed after epoch 3 of 6 (cosine schedule, validation split, shuffled batches) and
    resumed: the same weights, losses and learning rates as the run that was never stopped."""
    x, y = regression_problem()
    config = TrainingConfig(epochs=6, batch_size=32, learning_rate=0.01, patience=None)
    straight = torch.nn.Linear(3, 1)
    start = {k: v.clone() for k, v in straight.state_dict().items()}
    reference = fit(straight, mse, (x, y), config, tmp_path / "a", progress=False)

    class Killed(Exception):
        pass

    def dies_in_epoch_four(model, xb, yb):
        checkpoint = tmp_path / "b" / "checkpoint.pt"
        if (
            checkpoint.exists()
            and torch.load(checkpoint, weights_only=False)["state"]["epoch"] == 3
        ):
            raise Killed
        return mse(model, xb, yb)

    resumed = torch.nn.Linear(3, 1)
    resumed.load_state_dict(start)
    with pytest.raises(Killed):
        fit(resumed, dies_in_epoch_four, (x, y), config, tmp_path / "b", progress=False)
    fresh = torch.nn.Linear(3, 1)  # a new process: other initial weights, from the checkpoint
    history = fit(fresh, mse, (x, y), config, tmp_path / "b", resume=True, progress=False)
    assert history["epochs_run"] == 6
    for key in ("train_loss", "val_loss", "lr"):
        assert [h[key] for h in history["history"]] == [h[key] for h in reference["history"]]
    for key, value in straight.state_dict().items():
        assert torch.equal(value, fresh.state_dict()[key])


def test_checkpoint_resume_matches_uninterrupted_run(tmp_path):
    x, y = regression_problem()
    config = TrainingConfig(
        epochs=4, batch_size=32, learning_rate=0.01, patience=None, schedule="constant"
    )
    a, b = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    b.load_state_dict(a.state_dict())
    start = {k: v.clone() for k, v in a.state_dict().items()}
    fit(a, mse, (x, y), config, tmp_path / "a", progress=False)

    class StopAfter(Exception):
        pass

    calls = {"n": 0}

    def interrupted_loss(model, xb, yb):
        calls["n"] += 1
        if calls["n"] > 2 * 8:  # 8 batches per epoch: die during epoch 3
            raise StopAfter
        return mse(model, xb, yb)

    b.load_state_dict(start)
    with pytest.raises(StopAfter):
        fit(b, interrupted_loss, (x, y), config, tmp_path / "b", progress=False)
    fit(b, mse, (x, y), config, tmp_path / "b", resume=True, progress=False)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])


def test_nan_guard_skips_or_stops():
    x, y = regression_problem(64)
    calls = {"n": 0}

    def sometimes_nan(model, xb, yb):
        calls["n"] += 1
        loss = mse(model, xb, yb)
        return loss * math.nan if calls["n"] % 3 == 0 else loss

    history = fit(
        torch.nn.Linear(3, 1),
        sometimes_nan,
        (x, y),
        TrainingConfig(epochs=2, batch_size=16, patience=None),
        progress=False,
    )
    assert history["skipped_batches"] > 0
    with pytest.raises(TrainingDiverged, match="non-finite loss"):
        fit(
            torch.nn.Linear(3, 1),
            lambda m, a, b: mse(m, a, b) * math.nan,
            (x, y),
            TrainingConfig(epochs=2, batch_size=16, nan_policy="stop"),
            progress=False,
        )


def test_early_stopping():
    x, y = regression_problem(64)
    history = fit(
        torch.nn.Linear(3, 1),
        mse,
        (x, y),
        TrainingConfig(epochs=50, batch_size=16, learning_rate=0.0, patience=2),
        progress=False,
    )
    assert history["epochs_run"] == 3


def test_step_loop_resumes_exactly(tmp_path):
    from physgen.core.training import StepConfig, optimize

    target = torch.tensor([1.0, -2.0, 0.5])

    def make_loss(model):
        def step_loss(step):
            x = torch.randn(16, 3)  # drawn from torch's global generator, restored on resume
            loss = ((model(x).squeeze(1) - x @ target) ** 2).mean()
            return loss, {"loss": loss.item()}

        return step_loss

    config = StepConfig(steps=6, learning_rate=0.05, checkpoint_every=3)
    straight = torch.nn.Linear(3, 1)
    start = {k: v.clone() for k, v in straight.state_dict().items()}
    optimize(straight, make_loss(straight), config, tmp_path / "a", progress=False)
    resumed = torch.nn.Linear(3, 1)
    resumed.load_state_dict(start)
    optimize(
        resumed,
        make_loss(resumed),
        StepConfig(**{**config.__dict__, "steps": 3}),
        tmp_path / "b",
        progress=False,
    )
    history = optimize(
        resumed, make_loss(resumed), config, tmp_path / "b", resume=True, progress=False
    )
    assert history["steps"] == 6 and len(history["history"]) == 6
    for key, value in straight.state_dict().items():
        assert torch.allclose(value, resumed.state_dict()[key])


def test_stochastic_validation_loss_uses_the_same_draws_every_epoch():
    # a diffusion-like loss: its value depends on random draws; with the model frozen
    # (learning rate 0) every epoch must report the same validation loss, while the
    # training losses, drawn afresh, differ
    def noisy_mse(model, x, y):
        return mse(model, x, y) * (1 + torch.rand(()))

    x, y = regression_problem(128)
    history = fit(
        torch.nn.Linear(3, 1),
        noisy_mse,
        (x, y),
        TrainingConfig(epochs=4, batch_size=16, learning_rate=0.0, patience=None),
        progress=False,
    )["history"]
    assert len({h["val_loss"] for h in history}) == 1
    assert len({h["train_loss"] for h in history}) == 4
