"""Every saveable physgen model, by the name its files carry: the domains' tables joined.

``REGISTRY.load(path)`` reads any physgen model file; ``REGISTRY.names`` lists the models;
``REGISTRY.model_class(name)`` gives a class (imported only then). Nothing is registered by
importing a module: a new model is one line in its domain's table.
"""

from physgen.calo.models import SHOWER_MODELS
from physgen.emulate import EMULATE_MODELS
from physgen.integrate import INTEGRATE_MODELS
from physgen.jets import JET_MODELS
from physgen.lattice import LATTICE_MODELS
from physgen.nested import NESTED_MODELS

__all__ = ["REGISTRY", "load_model"]

REGISTRY = (
    SHOWER_MODELS | JET_MODELS | LATTICE_MODELS | NESTED_MODELS | EMULATE_MODELS | INTEGRATE_MODELS
)


def load_model(path):
    """The model saved in ``path``, whatever its domain."""
    return REGISTRY.load(path)
