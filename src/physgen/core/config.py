"""Typed configuration from YAML or TOML files: settings dataclasses checked by pydantic."""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from pathlib import Path

import yaml
from pydantic import ConfigDict, TypeAdapter, ValidationError

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


def settings(cls):
    """A frozen dataclass of settings whose values are checked when read from a file: unknown
    keys are an error, values are converted to the annotated type where that is exact
    ("1e-3" -> 0.001, a list -> a tuple) and refused where it is not ("ten" for an int);
    ``Annotated[int, Field(ge=1)]`` adds a range."""
    cls = dataclasses.dataclass(frozen=True)(cls)
    cls.__pydantic_config__ = ConfigDict(extra="forbid")
    return cls


def _forbid_unknown(cls) -> None:
    """Settings dataclasses reachable from ``cls`` refuse unknown keys (also those declared
    with a plain ``@dataclass``)."""
    if not dataclasses.is_dataclass(cls) or "__pydantic_config__" in vars(cls):
        return
    cls.__pydantic_config__ = ConfigDict(extra="forbid")
    for hint in typing.get_type_hints(cls).values():
        for argument in (hint, *typing.get_args(hint)):
            _forbid_unknown(argument)


def _adapter(cls) -> TypeAdapter:
    if cls not in _ADAPTERS:
        _forbid_unknown(cls)
        _ADAPTERS[cls] = TypeAdapter(cls)
    return _ADAPTERS[cls]


_ADAPTERS: dict[type, TypeAdapter] = {}


def _allowed(cls, location: tuple) -> list[str]:
    """The setting names allowed at ``location`` (a path of field names) in ``cls``."""
    for name in location[:-1]:
        if not isinstance(name, str):
            return []
        hints = typing.get_type_hints(cls)
        if name not in hints:
            return []
        arguments = [a for a in typing.get_args(hints[name]) if a is not type(None)] or [
            hints[name]
        ]
        cls = next((a for a in arguments if dataclasses.is_dataclass(a)), None)
        if cls is None:
            return []
    return [f.name for f in dataclasses.fields(cls)]


def _describe(cls, error: dict) -> str:
    location = ".".join(str(part) for part in error["loc"])
    if error["type"] == "unexpected_keyword_argument":
        allowed = _allowed(cls, error["loc"])
        return f"unknown setting '{location}'" + (
            f" (allowed here: {', '.join(allowed)})" if allowed else ""
        )
    return f"'{location}' = {error['input']!r}: {error['msg'].lower()}"


def from_dict(cls, data: dict, where: str = "config"):
    """Build the settings dataclass ``cls`` from ``data`` (nested dataclasses included), or
    raise one error that lists every wrong value."""
    if not isinstance(data, dict):
        raise PhysgenInputError(f"{where}: the config must be a mapping of settings")
    try:
        return _adapter(cls).validate_python(data)
    except ValidationError as err:
        problems = "; ".join(_describe(cls, error) for error in err.errors())
        raise PhysgenInputError(f"{where}: {problems}") from None


def merge_overrides(data: dict, overrides: dict | None) -> dict:
    """``data`` with the values of ``overrides`` that are not None; a dotted key
    ("training.epochs") sets a nested setting."""
    merged = dict(data)
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        *parents, name = key.split(".")
        node = merged
        for parent in parents:
            child = node.get(parent)
            node[parent] = dict(child) if isinstance(child, dict) else {}
            node = node[parent]
        node[name] = value
    return merged


def overridden(data: dict, overrides: dict | None, path) -> list[str]:
    """One line for each explicit override that changes a value the config file sets."""
    notes = []
    for key, value in (overrides or {}).items():
        node = data
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if value is not None and node is not None and node != value:
            notes.append(f"the command line sets {key} = {value!r} over {node!r} of {path}")
    return notes


def load_config(cls, path=None, overrides: dict | None = None, log=None):
    """Defaults of ``cls``, updated by a config file, then by explicit overrides (checked
    like the file's values); ``log`` hears of every override that changes the file's value."""
    data = read_config_file(path) if path is not None else {}
    for note in overridden(data, overrides, path) if log is not None else ():
        log(note)
    return from_dict(cls, merge_overrides(data, overrides), str(path) if path else "config")
