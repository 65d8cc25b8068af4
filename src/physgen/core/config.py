"""Typed configuration from YAML or TOML files: dataclasses that reject unknown settings."""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path

import yaml

from physgen.core.errors import PhysgenInputError


def read_config_file(path) -> dict:
    """A YAML (.yaml/.yml) or TOML (.toml) file as a dict."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as err:
        raise PhysgenInputError(f"{path}: cannot read config ({err.strerror})") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as err:
        raise PhysgenInputError(
            f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'} ({err})"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PhysgenInputError(f"{path}: the config must be a mapping of settings")
    return data


def _unwrap_optional(hint):
    """``X | None`` -> ``X``; other hints unchanged."""
    arguments = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(arguments) == 1:
        return arguments[0]
    return hint


def from_dict(cls, data: dict, where: str = "config"):
    """Build dataclass ``cls`` from ``data``; nested dataclasses are built recursively.

    Unknown keys are an error naming the allowed ones; tuples are converted from lists."""
    allowed = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise PhysgenInputError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}"
        )
    hints = typing.get_type_hints(cls)
    values = {}
    for name, value in data.items():
        hint = _unwrap_optional(hints[name])
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = from_dict(hint, value, f"{where}.{name}")
        elif typing.get_origin(hint) is tuple and isinstance(value, list):
            value = tuple(value)
        values[name] = value
    return cls(**values)


def load_config(cls, path=None, overrides: dict | None = None):
    """Defaults of ``cls``, updated by a config file, then by explicit overrides."""
    data = read_config_file(path) if path is not None else {}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return from_dict(cls, data, str(path) if path else "config")
