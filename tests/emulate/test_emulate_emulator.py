"""The committee emulator against known answers: the Ishigami function's mean, variance and
first-order Sobol indices (exact), and the committee's disagreement on a 1-D function, which
must be largest where there are no training points."""

import numpy as np
import torch

from physgen.core.run import Run
from physgen.emulate.acquisition import select_batch, spread_radius
from physgen.emulate.analytic import Ishigami
from physgen.emulate.designs import design, sobol, to_bounds
from physgen.emulate.emulator import Emulator, emulator_config
from physgen.models.committee import CommitteeConfig


def _trained(points, summaries, bounds, **changes):
    config = emulator_config(bounds, summaries.shape[1], **changes)
    emulator = Emulator(config)
    emulator.fit(
        torch.as_tensor(summaries).float(), torch.as_tensor(points).float(), Run(progress=False)
    )
    return emulator


def _mean_at(emulator, points):
    return emulator.predict(torch.as_tensor(points).float()).mean[:, 0].double().numpy()


def test_ishigami_statistics_from_the_emulator():
    simulator = Ishigami()
    bounds = simulator.bounds
    points = design("lhs", 400, bounds, seed=1)
    emulator = _trained(points, simulator.values(points), bounds)
    exact = simulator.exact_statistics()

    # Monte Carlo of the emulator's mean over the uniform prior; pick-freeze for S_i
    a, b = (to_bounds(u, bounds) for u in np.split(sobol(2**15, 6, seed=3), 2, axis=1))
    fa, fb = _mean_at(emulator, a), _mean_at(emulator, b)
    variance = np.var(np.concatenate([fa, fb]))
    assert abs(np.mean(fa) - exact["mean"]) < 0.1  # exact 3.5, sd of f is 3.7
    assert abs(variance / exact["variance"] - 1) < 0.05  # exact 13.8446
    for i, s_exact in enumerate(exact["sobol_first"]):
        mixed = b.copy()
        mixed[:, i] = a[:, i]
        s_i = np.mean(fa * (_mean_at(emulator, mixed) - fb)) / variance  # Saltelli 2010
        assert abs(s_i - s_exact) < 0.05, (i, s_i, s_exact)


def test_committee_disagrees_most_away_from_the_training_points():
    bounds = np.array([[0.0, 1.0]])
    train = np.concatenate([np.linspace(0.0, 0.35, 15), np.linspace(0.85, 1.0, 6)])[:, None]
    values = np.sin(6 * train)
    # dropout masks of one network disagree less than independent members (a known
    # understatement of epistemic spread by dropout), hence the smaller required contrast
    for kind, contrast in (("ensemble", 5.0), ("dropout", 2.0)):
        emulator = _trained(
            train, values, bounds, steps=1500, committee=CommitteeConfig(kind=kind, members=8)
        )
        grid = np.linspace(0, 1, 201)[:, None]
        score = emulator.predict(torch.as_tensor(grid).float()).disagreement.numpy()
        gap = (grid[:, 0] > 0.45) & (grid[:, 0] < 0.75)
        near = np.min(np.abs(grid - train.T), 1) < 0.01
        assert 0.4 < grid[np.argmax(score), 0] < 0.8, kind
        assert score[gap].mean() > contrast * score[near].mean(), kind

        def disagreement(p, emulator=emulator):
            return emulator.predict(torch.as_tensor(p).float()).disagreement.numpy()

        chosen, _ = select_batch(disagreement, bounds, len(train), batch=3, seed=0)
        # all in the gap, and spread out: the three best candidates without the penalty
        # are neighbours, the batch's points are further apart than the penalty radius
        assert ((chosen > 0.36) & (chosen < 0.84)).all(), (kind, chosen.ravel())
        candidates = sobol(4096, 1, seed=0)
        top = np.sort(candidates[np.argsort(disagreement(candidates))[-3:], 0])
        assert np.min(np.diff(top)) < 0.01
        radius = spread_radius(len(train) + 3, 1, 0.5)
        assert np.min(np.diff(np.sort(chosen[:, 0]))) > radius, (kind, chosen.ravel())
