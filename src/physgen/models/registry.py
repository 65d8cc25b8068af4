"""An explicit table of saveable models: name -> "module:Class", imported when asked for.

Nothing registers itself by being imported: each domain writes its table
(calo.models.SHOWER_MODELS, ...), and physgen.registry joins them. A saved model file
carries its name, so ``load`` finds its class from the file alone. The table imports no
model module (nor torch) until a class is asked for, so a CLI can list the names cheaply.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from physgen.core.errors import PhysgenInputError

if TYPE_CHECKING:
    from physgen.models.base import ConditionalGenerator

__all__ = ["ModelRegistry"]


class ModelRegistry:
    def __init__(self, entries: dict[str, str]):
        self.entries = dict(entries)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def __or__(self, other: ModelRegistry) -> ModelRegistry:
        clash = set(self.entries) & set(other.entries)
        if clash:
            raise ValueError(f"model names registered twice: {', '.join(sorted(clash))}")
        return ModelRegistry({**self.entries, **other.entries})

    def model_class(self, name: str) -> type[ConditionalGenerator]:
        if name not in self.entries:
            raise PhysgenInputError(f"unknown model '{name}': use one of {', '.join(self.entries)}")
        module, _, attribute = self.entries[name].partition(":")
        cls = getattr(importlib.import_module(module), attribute)
        if cls.name != name:
            raise RuntimeError(f"registry entry '{name}' points at a class named '{cls.name}'")
        return cls

    def build(self, config) -> ConditionalGenerator:
        """A new model of ``config.model``."""
        return self.model_class(config.model).from_config(config)

    def load(self, path) -> ConditionalGenerator:
        from physgen.models.base import read_payload

        name = read_payload(path).get("model")
        if name not in self.entries:
            raise PhysgenInputError(
                f"{path} holds a model named '{name}', which this physgen does not know "
                f"({', '.join(self.entries)})"
            )
        return self.model_class(name).load(path)
