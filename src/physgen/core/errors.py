"""Errors raised at the boundary of physgen (files, CLI, public functions)."""


class PhysgenInputError(ValueError):
    """Bad user input: a message that says what is wrong and how to fix it.

    The CLI prints this message without a traceback and exits non-zero.
    """


class MissingExtraError(ImportError):
    """An optional dependency group is not installed."""

    def __init__(self, extra: str, package: str):
        super().__init__(
            f"this feature needs the optional package '{package}'; "
            f"install it with: pip install 'physgen[{extra}]'"
        )
        self.extra = extra
        self.package = package


class TrainingDiverged(RuntimeError):
    """Training produced a non-finite loss too often: the message says what to change."""
