"""A nested sampler whose replacement points come from a generative model of the live points.

Each iteration removes the live point of lowest likelihood L* and replaces it by a point drawn
uniformly from the prior (the unit cube) restricted to L > L*. The replacement comes from, in
turn:
- the prior itself, while more than ``prior_acceptance`` of its draws pass the constraint;
- the proposal (``proposal: flow`` or ``flow-matching``): a generative model trained on the
  live points (nested.proposal, nested.fm_proposal), retrained each time ``retrain_every`` x
  n_live points have died, used in one of two ways:
  - ``rejection``: its draws are made uniform by rejection with probability min(1, c / q), c
    the lowest proposal density of the live points over ``rejection_safety`` (uniform wherever
    q >= c: the live points are a uniform sample of the region, so the region lies there up to
    its least likely corners), then kept where L > L*. Exact, and cheap in likelihood calls
    while q is nearly flat over the region; in many dimensions q of the live points spans many
    e-folds and almost every draw is rejected;
  - ``mh``, when the rejection keeps less than ``min_rejection_yield`` of the draws or less
    than ``rejection_acceptance`` of what it keeps passes L > L* (until the next retraining,
    which tries the rejection again): independence
    Metropolis-Hastings chains that start at live points (uniform in the region) and propose
    draws of the model, accepted with min(1, q(x) / q(x')) (free: no likelihood) and then only
    where L > L*. The kernel leaves the uniform distribution of the region invariant, so the
    end points are uniform there. A chain makes as many proposals as give ``mh_moves``
    accepted moves at the rate of the previous batch; a chain that never moved returns its
    live point (a copy: kept, since dropping it would bias the draws towards high q);
- a constrained random walk from a live point (``rwalk``: Gaussian steps with the live points'
  covariance, ``rwalk_steps`` likelihood calls per new point), as the last fallback whenever
  the acceptance falls below ``min_acceptance``, and as the method of ``proposal: rwalk``.
Likelihoods are evaluated in batches; points that pass the current L* wait in a queue and are
used while they still pass the rising threshold (a point uniform in {L > L1} and found above
L2 > L1 is uniform in {L > L2}).

The evidence is nested.evidence's; the run stops when the live points could raise log Z by
less than ``dlogz``. State is checkpointed (atomically) every ``checkpoint_every`` iterations
with every random stream, so a resumed run continues the uninterrupted one bit for bit.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, field, replace
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import Field
from tqdm import tqdm

from physgen.core.atomic import finite_json, write_json_atomic, write_npz_atomic
from physgen.core.config import settings
from physgen.core.errors import PhysgenInputError
from physgen.core.run import Run
from physgen.nested.evidence import Evidence, evidence
from physgen.nested.fm_proposal import FlowMatchingProposal, FlowMatchingProposalConfig
from physgen.nested.problems import Problem
from physgen.nested.proposal import FlowProposal, FlowProposalConfig, NestedProposal

__all__ = ["NestedConfig", "NestedSampler", "NestedResult"]

Positive = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(gt=0, lt=1)]


@settings
class NestedConfig:
    n_live: Annotated[int, Field(ge=10)] = 500
    proposal: Literal["flow", "flow-matching", "rwalk"] = "flow"
    dlogz: Annotated[float, Field(gt=0)] = 0.1
    seed: Annotated[int, Field(ge=0)] = 0
    prior_acceptance: Fraction = 0.1  # sample the prior while this share of draws passes
    retrain_every: Annotated[float, Field(gt=0)] = 0.5  # x n_live deaths between retrainings
    pool_size: Annotated[int, Field(ge=100)] = 5000  # proposal draws per pool
    # rejection -> MH chains when a pool keeps less than this share of its draws, or when
    # less than `rejection_acceptance` of the kept draws pass L > L* (over a window)
    # (rejection is exact; the chains' end points correlate with their live starting points,
    # which biases log Z upwards at 10-20-D: measured, docs/benchmarks.md)
    min_rejection_yield: Fraction = 0.001
    rejection_acceptance: Fraction = 0.005
    mh_moves: Annotated[float, Field(gt=0)] = 8.0  # accepted moves a chain should make
    mh_max_steps: Positive = 200  # proposals per chain at most
    mh_latent_scale: Annotated[float, Field(ge=1.0, le=3.0)] = 1.0  # the chains' latent width
    # rho of the chains' latent proposals z' = rho z + sqrt(1 - rho^2) n: 0 draws afresh
    # (independence sampler); towards 1 the moves stay near the chain's point
    mh_correlation: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    # the rejection constant: the lowest proposal density of the live points / this
    rejection_safety: Annotated[float, Field(ge=1)] = 2.0
    batch: Positive = 100  # likelihood evaluations per batch
    min_acceptance: Fraction = 0.005  # below it (over `acceptance_window` calls): random walk
    acceptance_window: Positive = 2000
    rwalk_steps: Positive = 25
    max_calls: Positive | None = None
    checkpoint_every: Positive = 500
    flow: FlowProposalConfig = field(default_factory=FlowProposalConfig)
    flow_matching: FlowMatchingProposalConfig = field(default_factory=FlowMatchingProposalConfig)


@settings
class NestedResult:
    log_z: float
    log_z_err: float
    information: float
    log_z_exact: float | None
    iterations: int
    likelihood_calls: int
    acceptance: float
    retrainings: int
    unmoved_chains: float  # share of Metropolis-Hastings chains that ended where they began
    wall_s: float
    converged: bool


class _Stop(Exception):
    pass


class NestedSampler:
    def __init__(self, problem: Problem, config: NestedConfig, out_dir=None, progress=True):
        self.problem, self.config, self.progress = problem, config, progress
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.dim = problem.dim
        self.proposal: NestedProposal | None = None
        self._fresh_state()

    # --- state ---------------------------------------------------------------------------
    def _fresh_state(self) -> None:
        self.rng = np.random.default_rng(self.config.seed)
        self.state = {
            "iteration": 0,
            "calls": 0,
            "phase": "prior",
            "trained_at": 0,
            "retrainings": 0,
            "window_calls": 0,
            "window_accepted": 0,
            "rejection_failed": False,
            "mh_move_rate": 0.1,
            "mh_chains": 0,
            "mh_unmoved": 0,  # accepted moves per proposal of the last MH batch
            "log_z_dead": -math.inf,
            "wall_s": 0.0,
        }
        self.arrays = {
            "dead_u": np.empty((0, self.dim)),
            "dead_log_l": np.empty(0),
            "dead_birth": np.empty(0),
            "queue_u": np.empty((0, self.dim)),
            "queue_log_l": np.empty(0),
            "pool_u": np.empty((0, self.dim)),
            "trace": np.empty((0, 4)),  # iteration, calls, log Z so far, acceptance of window
        }

    def _log_likelihood(self, u: np.ndarray) -> np.ndarray:
        theta = self.problem.prior_transform(u)
        values = np.asarray(self.problem.log_likelihood(theta), np.float64).reshape(-1)
        if len(values) != len(u):
            raise PhysgenInputError(
                f"the log-likelihood returned {len(values)} values for {len(u)} points: it must "
                "take an (n, dim) array and return n values"
            )
        bad = np.isnan(values) | (values == np.inf)
        if bad.any():
            where = theta[np.argmax(bad)]
            raise PhysgenInputError(
                f"the log-likelihood returned {values[np.argmax(bad)]} at theta = "
                f"{np.array2string(where, precision=4)}: it must be finite or -inf"
            )
        self.state["calls"] += len(u)
        if self.config.max_calls is not None and self.state["calls"] > self.config.max_calls:
            raise _Stop
        return values

    # --- replacements --------------------------------------------------------------------
    def _replacement(self, log_l_star: float) -> tuple[np.ndarray, float]:
        while True:
            queue_u, queue_l = self.arrays["queue_u"], self.arrays["queue_log_l"]
            valid = np.flatnonzero(queue_l > log_l_star)
            if len(valid):
                first = valid[0]
                point, value = queue_u[first], queue_l[first]
                self.arrays["queue_u"] = queue_u[first + 1 :]
                self.arrays["queue_log_l"] = queue_l[first + 1 :]
                return point, value
            self._refill(log_l_star)

    def _refill(self, log_l_star: float) -> None:
        phase = self.state["phase"]
        calls_before = self.state["calls"]
        if phase == "prior":
            u = self.rng.random((self.config.batch, self.dim))
            log_l = self._log_likelihood(u)
        elif phase == "rejection":
            u = self._from_pool(self.config.batch)
            if u is None:  # the rejection keeps too little of the draws: chains instead
                phase = self.state["phase"] = "mh"
                self.state["rejection_failed"] = True
            else:
                log_l = self._log_likelihood(u)
        if phase == "mh":
            u, log_l = self._proposal_chains(log_l_star)
        elif phase == "rwalk":
            u, log_l = self._random_walk(log_l_star)
        passed = log_l > log_l_star
        self._count(self.state["calls"] - calls_before, passed)
        self.arrays["queue_u"] = np.concatenate([self.arrays["queue_u"], u[passed]])
        self.arrays["queue_log_l"] = np.concatenate([self.arrays["queue_log_l"], log_l[passed]])
        self._maybe_change_phase()

    def _count(self, calls: int, passed: np.ndarray) -> None:
        self.state["window_calls"] += calls
        self.state["window_accepted"] += int(passed.sum())

    @property
    def window_acceptance(self) -> float:
        return self.state["window_accepted"] / max(self.state["window_calls"], 1)

    def _maybe_change_phase(self) -> None:
        config, state = self.config, self.state
        if state["window_calls"] < config.acceptance_window:
            return
        acceptance = self.window_acceptance
        if state["phase"] == "prior" and acceptance < config.prior_acceptance:
            self._enter_proposal_phase()
        elif state["phase"] == "rejection" and acceptance < config.rejection_acceptance:
            state["phase"] = "mh"
            state["rejection_failed"] = True
        elif state["phase"] == "mh" and acceptance < config.min_acceptance:
            state["phase"] = "rwalk"  # until the next retraining
        state["window_calls"] = state["window_accepted"] = 0

    def _enter_proposal_phase(self) -> None:
        if self.config.proposal == "rwalk":
            self.state["phase"] = "rwalk"
            return
        self._train_proposal()

    def _proposal_class(self) -> tuple[type[NestedProposal], object]:
        if self.config.proposal == "flow-matching":
            return FlowMatchingProposal, self.config.flow_matching
        return FlowProposal, self.config.flow

    def _train_proposal(self) -> None:
        model_class, settings_ = self._proposal_class()
        index = self.state["retrainings"]
        training = replace(settings_.training, seed=self.config.seed + index)
        self.proposal = model_class.from_config(replace(settings_, dim=self.dim, training=training))
        live = torch.as_tensor(self.live_u, dtype=torch.float32)
        self.proposal.fit(live, None, Run(None, resume=False, progress=False))
        self.state["trained_at"] = self.state["iteration"]
        self.state["retrainings"] += 1
        self.state["phase"] = "rejection"
        self.arrays["pool_u"] = np.empty((0, self.dim))

    def _from_pool(self, n: int) -> np.ndarray | None:
        """n uniform draws of the proposal; None when a pool keeps less than
        ``min_rejection_yield`` of its draws."""
        while len(self.arrays["pool_u"]) < n:
            new = self._uniform_pool()
            if len(new) < self.config.min_rejection_yield * self.config.pool_size:
                return None
            self.arrays["pool_u"] = np.concatenate([self.arrays["pool_u"], new])
        taken, self.arrays["pool_u"] = self.arrays["pool_u"][:n], self.arrays["pool_u"][n:]
        return taken

    def _draws(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """``size`` draws of the proposal inside the cube with their log-density."""
        generator = torch.Generator().manual_seed(int(self.rng.integers(2**62)))
        u, log_q = self.proposal.draw(size, generator)
        u, log_q = u.double().numpy(), log_q.double().numpy()
        keep = ((u >= 0) & (u <= 1)).all(1) & np.isfinite(log_q)  # float32 sigmoids reach 0, 1
        return u[keep], log_q[keep]

    def _live_log_q(self) -> np.ndarray:
        with torch.no_grad():
            live = torch.as_tensor(self.live_u, dtype=torch.float32)
            return self.proposal.log_prob(live).double().numpy()

    def _uniform_pool(self) -> np.ndarray:
        """Draws of the proposal made uniform over its support: rejection on 1 / q."""
        u, log_q = self._draws(self.config.pool_size)
        live_log_q = self._live_log_q()
        # accept with min(1, c / q): uniform wherever q >= c, with c below the proposal density
        # of every live point (a uniform sample of the region) by a safety factor
        log_c = float(live_log_q[np.isfinite(live_log_q)].min()) - math.log(
            self.config.rejection_safety
        )
        keep = np.log(self.rng.random(len(u))) < np.minimum(0.0, log_c - log_q)
        return u[keep]

    def _proposal_chains(self, log_l_star: float) -> tuple[np.ndarray, np.ndarray]:
        """``batch`` independence Metropolis-Hastings chains targeting the uniform distribution
        of {L > L*}, from distinct live points. Returns the end points of every chain: the
        kernel applied a fixed number of times to uniform points keeps them uniform, and
        dropping chains that never moved would drop the places the proposal reaches least (a
        bias towards high q). Unmoved chains (copies of live points) are counted."""
        self.proposal.latent_scale = self.config.mh_latent_scale
        try:
            return self._run_chains(log_l_star)
        finally:
            self.proposal.latent_scale = 1.0

    def _run_chains(self, log_l_star: float) -> tuple[np.ndarray, np.ndarray]:
        chains = min(self.config.batch, len(self.live_u))
        start = self.rng.choice(len(self.live_u), size=chains, replace=False)
        u, log_l = self.live_u[start].copy(), self.live_log_l[start].copy()
        log_q = self._live_log_q()[start]
        rho = self.config.mh_correlation
        z = self.proposal.latent(torch.as_tensor(u, dtype=torch.float32)) if rho > 0 else None
        moved = np.zeros(chains, bool)
        moves = 0
        steps = min(
            math.ceil(self.config.mh_moves / self.state["mh_move_rate"]), self.config.mh_max_steps
        )
        for _ in range(steps):
            if z is None:
                trial, trial_q = self._draws(chains)
                while len(trial) < chains:  # draws outside the cube are dropped: top up
                    more, more_q = self._draws(chains)
                    trial = np.concatenate([trial, more])
                    trial_q = np.concatenate([trial_q, more_q])
                trial, trial_q = trial[:chains], trial_q[:chains]
            else:
                trial_z, trial, trial_q = self._correlated_draws(z, rho)
            # min(1, q(x) / q(x')); a live point outside the support of q never moves
            candidate = np.log(self.rng.random(chains)) < np.minimum(0.0, log_q - trial_q)
            trial_l = np.full(chains, -np.inf)
            if candidate.any():
                trial_l[candidate] = self._log_likelihood(trial[candidate])
            move = candidate & (trial_l > log_l_star)
            u[move], log_l[move], log_q[move] = trial[move], trial_l[move], trial_q[move]
            if z is not None:
                z[torch.as_tensor(move)] = trial_z[torch.as_tensor(move)]
            moved |= move
            moves += int(move.sum())
        self.state["mh_move_rate"] = max(moves, 1) / (chains * steps)
        self.state["mh_chains"] += chains
        self.state["mh_unmoved"] += int((~moved).sum())
        return u, log_l

    def _correlated_draws(self, z: torch.Tensor, rho: float):
        """Preconditioned Crank-Nicolson proposals in the latent space (reversible for the
        latent normal, so the acceptance stays min(1, q(x) / q(x')))."""
        generator = torch.Generator().manual_seed(int(self.rng.integers(2**62)))
        noise = torch.randn(z.shape, generator=generator)
        trial_z = rho * z + math.sqrt(1 - rho**2) * noise
        trial, trial_q = self.proposal.decode(trial_z)
        trial, trial_q = trial.double().numpy(), trial_q.double().numpy().copy()
        outside = ~((trial >= 0) & (trial <= 1)).all(1) | ~np.isfinite(trial_q)
        trial_q[outside] = np.inf  # outside the cube or the latent ball: never taken
        return trial_z, trial, trial_q

    def _random_walk(self, log_l_star: float) -> tuple[np.ndarray, np.ndarray]:
        """``batch / rwalk_steps`` constrained random walks, one from each of as many live
        points: Gaussian steps scaled from the live points' covariance; a step is taken when it
        stays in the cube and above L*. Returns the end points and their likelihoods."""
        chains = max(1, self.config.batch // self.config.rwalk_steps)
        start = self.rng.integers(len(self.live_u), size=chains)
        u, log_l = self.live_u[start].copy(), self.live_log_l[start].copy()
        covariance = np.cov(self.live_u, rowvar=False).reshape(self.dim, self.dim)
        cholesky = np.linalg.cholesky(covariance + 1e-12 * np.eye(self.dim))
        scale = 2.38 / math.sqrt(self.dim) * 0.5
        for _ in range(self.config.rwalk_steps):
            step = self.rng.standard_normal((chains, self.dim)) @ cholesky.T * scale
            trial = u + step
            inside = ((trial > 0) & (trial < 1)).all(1)
            trial_l = np.full(chains, -np.inf)
            if inside.any():
                trial_l[inside] = self._log_likelihood(trial[inside])
            move = inside & (trial_l > log_l_star)
            u[move], log_l[move] = trial[move], trial_l[move]
        return u, log_l

    # --- the run -------------------------------------------------------------------------
    def run(self, resume: bool = False) -> NestedResult:
        started = time.perf_counter()
        if resume and self._checkpoint_dir() is not None and self._checkpoint_dir().exists():
            self._load_checkpoint()
        else:
            self._initialise()
        config, state = self.config, self.state
        bar = tqdm(
            desc=f"nested {self.problem.name} d={self.dim}",
            unit="it",
            initial=state["iteration"],
            disable=not self.progress,
        )
        converged = False
        wall_before = state["wall_s"]
        try:
            while True:
                if self._remaining_dlogz() < config.dlogz:
                    converged = True
                    break
                self._iterate()
                bar.update(1)
                if state["iteration"] % 50 == 0:
                    bar.set_postfix(
                        logZ=f"{self._log_z_now():.3f}",
                        dlogz=f"{self._remaining_dlogz():.3f}",
                        acc=f"{self.window_acceptance:.3f}",
                        phase=state["phase"],
                    )
                if state["iteration"] % config.checkpoint_every == 0:
                    state["wall_s"] = wall_before + time.perf_counter() - started
                    self._save_checkpoint()
        except _Stop:
            pass
        finally:
            bar.close()
        state["wall_s"] = wall_before + time.perf_counter() - started
        return self._result(converged)

    def _initialise(self) -> None:
        n = self.config.n_live
        self._fresh_state()
        self.live_u = self.rng.random((n, self.dim))
        self.live_log_l = self._log_likelihood(self.live_u)
        self.live_birth = np.full(n, -np.inf)

    def _iterate(self) -> None:
        config, state = self.config, self.state
        worst = int(np.argmin(self.live_log_l))
        log_l_star = float(self.live_log_l[worst])
        i = state["iteration"]
        log_width = -i / config.n_live + math.log1p(-math.exp(-1.0 / config.n_live))
        state["log_z_dead"] = float(np.logaddexp(state["log_z_dead"], log_l_star + log_width))
        arrays = self.arrays
        arrays["dead_u"] = np.concatenate([arrays["dead_u"], self.live_u[worst : worst + 1]])
        arrays["dead_log_l"] = np.append(arrays["dead_log_l"], log_l_star)
        arrays["dead_birth"] = np.append(arrays["dead_birth"], self.live_birth[worst])
        if (
            state["phase"] != "prior"
            and config.proposal != "rwalk"
            and i - state["trained_at"] >= config.retrain_every * config.n_live
        ):
            self._train_proposal()
        point, value = self._replacement(log_l_star)
        self.live_u[worst], self.live_log_l[worst] = point, value
        self.live_birth[worst] = log_l_star
        state["iteration"] = i + 1
        if state["iteration"] % 10 == 0:
            row = [[state["iteration"], state["calls"], self._log_z_now(), self.window_acceptance]]
            arrays["trace"] = np.concatenate([arrays["trace"], row])

    def _log_x(self) -> float:
        return -self.state["iteration"] / self.config.n_live

    def _log_z_now(self) -> float:
        live = np.logaddexp.reduce(self.live_log_l) - math.log(len(self.live_log_l))
        return float(np.logaddexp(self.state["log_z_dead"], live + self._log_x()))

    def _remaining_dlogz(self) -> float:
        bound = float(self.live_log_l.max()) + self._log_x()
        log_z = self.state["log_z_dead"]
        return float(np.logaddexp(log_z, bound) - log_z) if np.isfinite(log_z) else math.inf

    def evidence(self) -> Evidence:
        order = np.argsort(self.live_log_l)
        return evidence(self.arrays["dead_log_l"], self.live_log_l[order], self.config.n_live)

    def _result(self, converged: bool) -> NestedResult:
        found = self.evidence()
        calls = self.state["calls"]
        return NestedResult(
            log_z=found.log_z,
            log_z_err=found.log_z_err,
            information=found.information,
            log_z_exact=self.problem.log_z_exact,
            iterations=self.state["iteration"],
            likelihood_calls=calls,
            acceptance=self.state["iteration"] / max(calls - self.config.n_live, 1),
            retrainings=self.state["retrainings"],
            unmoved_chains=self.state["mh_unmoved"] / max(self.state["mh_chains"], 1),
            wall_s=self.state["wall_s"],
            converged=converged,
        )

    def samples(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(theta, log L, log L at birth, log posterior weight) of the dead points, then the
        final live points by increasing L."""
        order = np.argsort(self.live_log_l)
        u = np.concatenate([self.arrays["dead_u"], self.live_u[order]])
        log_l = np.concatenate([self.arrays["dead_log_l"], self.live_log_l[order]])
        birth = np.concatenate([self.arrays["dead_birth"], self.live_birth[order]])
        return self.problem.prior_transform(u), log_l, birth, self.evidence().log_weights

    # --- checkpoints ---------------------------------------------------------------------
    def _checkpoint_dir(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / "checkpoint"

    def _save_checkpoint(self) -> None:
        folder = self._checkpoint_dir()
        if folder is None:
            return
        folder.mkdir(parents=True, exist_ok=True)
        if self.proposal is not None:
            self.proposal.save(folder / "proposal.pt")
        write_npz_atomic(
            folder / "state.npz",
            live_u=self.live_u,
            live_log_l=self.live_log_l,
            live_birth=self.live_birth,
            **self.arrays,
        )
        record = {
            "state": self.state,
            "rng": self.rng.bit_generator.state,
            "config": asdict(self.config),
            "problem": self.problem.name,
            "dim": self.dim,
            "has_proposal": self.proposal is not None,
        }
        write_json_atomic(folder / "state.json", record)  # -inf is written as null

    def _load_checkpoint(self) -> None:
        folder = self._checkpoint_dir()
        try:
            record = json.loads((folder / "state.json").read_text())
            with np.load(folder / "state.npz") as saved:
                arrays = {key: saved[key] for key in saved.files}
        except (OSError, ValueError, KeyError) as err:
            raise PhysgenInputError(
                f"{folder}: cannot resume from this checkpoint ({err}); remove the folder to "
                "start again"
            ) from None
        if record["problem"] != self.problem.name or record["dim"] != self.dim:
            raise PhysgenInputError(
                f"{folder} belongs to {record['problem']} in {record['dim']} dimensions"
            )
        if _resumable(record["config"]) != _resumable(finite_json(asdict(self.config))):
            raise PhysgenInputError(f"{folder} was written with other settings: use the same")
        self.state = record["state"]
        if self.state["log_z_dead"] is None:  # -inf before the first death
            self.state["log_z_dead"] = -math.inf
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = record["rng"]
        self.live_u = arrays.pop("live_u")
        self.live_log_l = arrays.pop("live_log_l")
        self.live_birth = arrays.pop("live_birth")
        self.arrays = arrays
        if record["has_proposal"]:
            self.proposal = self._proposal_class()[0].load(folder / "proposal.pt")


def _resumable(config: dict) -> dict:
    """The settings a resumed run must share with the killed one (a call budget may change)."""
    return {k: v for k, v in config.items() if k != "max_calls"}
