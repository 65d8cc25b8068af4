from dataclasses import dataclass, field

import pytest

from physgen.core.config import load_config
from physgen.core.errors import PhysgenInputError
from physgen.core.training import TrainingConfig


@dataclass(frozen=True)
class Inner:
    width: int = 8
    sizes: tuple[int, ...] = (1, 2)


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    inner: Inner = field(default_factory=Inner)


def test_yaml_and_toml(tmp_path):
    (tmp_path / "a.yaml").write_text("name: y\ninner:\n  width: 3\n  sizes: [4, 5]\n")
    (tmp_path / "a.toml").write_text('name = "z"\n[inner]\nwidth = 7\n')
    assert load_config(Outer, tmp_path / "a.yaml") == Outer("y", Inner(3, (4, 5)))
    assert load_config(Outer, tmp_path / "a.toml") == Outer("z", Inner(7))
    assert load_config(Outer, None, {"name": "o"}).name == "o"


def test_unknown_setting_is_an_error(tmp_path):
    (tmp_path / "bad.yaml").write_text("inner:\n  widht: 3\n")
    with pytest.raises(
        PhysgenInputError, match=r"unknown setting 'inner.widht' \(allowed here: width, sizes\)"
    ):
        load_config(Outer, tmp_path / "bad.yaml")


def test_values_are_checked_and_converted(tmp_path):
    """PyYAML reads 1e-3 as the string '1e-3': it becomes the float; 'three' for an int and a
    fractional int are errors naming the setting; ranges declared with Field are enforced."""
    (tmp_path / "lr.yaml").write_text("learning_rate: 1e-3\nepochs: 4\n")
    config = load_config(TrainingConfig, tmp_path / "lr.yaml")
    assert config.learning_rate == 0.001 and isinstance(config.learning_rate, float)
    for text, message in (
        ('epochs: "three"', "'epochs' = 'three': input should be a valid integer"),
        ("epochs: 2.5", "'epochs' = 2.5: input should be a valid integer"),
        ("batch_size: 0", "'batch_size' = 0: input should be greater than or equal to 1"),
        ("learning_rate: -1", "'learning_rate' = -1: input should be greater than 0"),
    ):
        (tmp_path / "bad.yaml").write_text(text + "\n")
        with pytest.raises(PhysgenInputError, match=message):
            load_config(TrainingConfig, tmp_path / "bad.yaml")


def test_unreadable_config(tmp_path):
    (tmp_path / "bad.toml").write_text("name = ")
    with pytest.raises(PhysgenInputError, match="not valid TOML"):
        load_config(Outer, tmp_path / "bad.toml")
    with pytest.raises(PhysgenInputError, match="cannot read config"):
        load_config(Outer, tmp_path / "missing.yaml")


def test_explicit_overrides_are_announced_defaults_are_not(tmp_path):
    (tmp_path / "c.yaml").write_text("training:\n  epochs: 50\n  batch_size: 64\n")
    said = []
    config = load_config(
        _WithTraining,
        tmp_path / "c.yaml",
        {"training.epochs": 3, "training.seed": None},
        said.append,
    )
    assert config.training.epochs == 3 and config.training.batch_size == 64
    assert said == [f"the command line sets training.epochs = 3 over 50 of {tmp_path / 'c.yaml'}"]
    said.clear()
    load_config(_WithTraining, tmp_path / "c.yaml", {"training.epochs": 50}, said.append)
    assert said == []  # the same value: nothing to say


@dataclass(frozen=True)
class _WithTraining:
    training: TrainingConfig = field(default_factory=TrainingConfig)
