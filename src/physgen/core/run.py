"""The run-folder protocol every ``physgen ... train`` uses.

A run folder holds
- ``run.json``: the config, the seed, the software versions, the command line, the data and
  the start time, written before training starts;
- ``checkpoints/<unit>/checkpoint.pt``: one per trained unit (a flow, a network), written
  after every epoch or every ``checkpoint_every`` steps (``resume`` continues from them);
- ``model.pt``: the trained model (``ConditionalGenerator.save``);
- ``training.json``: the history of every unit and the run's summary (seconds, rows).
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import asdict, is_dataclass
from pathlib import Path

from physgen.core import distributed as ddp
from physgen.core.atomic import write_json_atomic
from physgen.core.errors import PhysgenInputError
from physgen.core.provenance import software_versions

__all__ = ["Run"]


class Run:
    RECORD, MODEL, HISTORY, CHECKPOINTS = "run.json", "model.pt", "training.json", "checkpoints"

    def __init__(self, path=None, resume: bool = False, progress: bool = True):
        """``path`` None: a run in memory (no checkpoints), e.g. to train without a progress
        bar from Python."""
        self.path = None if path is None else Path(path)
        self.resume, self.progress = resume, progress

    @property
    def model_path(self) -> Path:
        return self.path / self.MODEL

    def checkpoint_dir(self, unit: str) -> Path | None:
        return None if self.path is None else self.path / self.CHECKPOINTS / unit

    def start(self, config, seed: int, data=None, **details) -> None:
        """Create the folder and write ``run.json``; an existing trained model is kept unless
        the run resumes. Under torchrun rank 0 writes and the others wait."""
        if not ddp.is_main():
            ddp.barrier()
            return
        if self.model_path.exists() and not self.resume:
            raise PhysgenInputError(
                f"{self.path} already holds a trained model; choose another --out"
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise PhysgenInputError(f"{self.path}: cannot create the run folder ({err})") from None
        record = {
            "config": asdict(config) if is_dataclass(config) else config,
            "seed": seed,
            "data": None if data is None else str(data),
            "command": shlex.join(sys.argv),
            "versions": software_versions(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "resumed": self.resume,
            **details,
        }
        write_json_atomic(self.path / self.RECORD, record)
        ddp.barrier()

    def finish(self, model, history: dict, **summary) -> dict:
        """Save the model and write ``training.json``; returns what it wrote. Under torchrun
        rank 0 writes, and every rank returns once the files exist."""
        record = {**summary, "history": history}
        if ddp.is_main():
            model.save(self.model_path)
            write_json_atomic(self.path / self.HISTORY, record)
        ddp.barrier()
        return record

    @staticmethod
    def training_place(run: Run | None, unit: str) -> tuple[Path | None, bool, bool]:
        """(checkpoint folder, resume, progress) of training ``unit`` in ``run`` (None: no
        checkpoints, a progress bar)."""
        if run is None:
            return None, False, True
        return run.checkpoint_dir(unit), run.resume, run.progress

    def require_model(self, command: str) -> Path:
        """The path of the trained model, or a clear error saying how to make one."""
        if not self.model_path.exists():
            raise PhysgenInputError(
                f"{self.path} holds no {self.MODEL}: train one with `{command}`"
            )
        return self.model_path
