"""aekit: representation learning with autoencoders.

>>> import aekit
>>> X, y = aekit.datasets.load_digits()
>>> vae = aekit.VAE(latent_dim=2, epochs=5, random_state=0).fit(X)
>>> vae.transform(X).shape
(1797, 2)
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

# Names are imported on first use (PEP 562): the estimators bring scikit-learn and torch, and
# `aekit --help` or `import aekit.data.images` should not pay for them.
if TYPE_CHECKING:
    from aekit import data as datasets, metrics, tracking
    from aekit.estimators import BaseAutoEncoder, ModelFileError
    from aekit.model_files import load
    from aekit.estimators.callbacks import Callback
    from aekit.uses import AnomalyDetector, DeepClustering, attribute_vector, interpolate, shift, traverse

__version__ = "0.1.0"

#: public name -> (module, attribute in it; None: the module itself)
_LAZY = {
    "datasets": ("aekit.data", None),
    "metrics": ("aekit.metrics", None),
    "tracking": ("aekit.tracking", None),
    "BaseAutoEncoder": ("aekit.estimators", "BaseAutoEncoder"),
    "ModelFileError": ("aekit.estimators", "ModelFileError"),
    "load": ("aekit.model_files", "load"),
    "Callback": ("aekit.estimators.callbacks", "Callback"),
    **{
        name: ("aekit.uses", name)
        for name in ("AnomalyDetector", "DeepClustering", "attribute_vector", "interpolate", "shift", "traverse")
    },
}


def _estimators() -> dict[str, type]:
    """Every registered family, by class name (aekit.VAE, aekit.BetaTCVAE, ...)."""
    return importlib.import_module("aekit.estimators").ESTIMATORS


def __getattr__(name: str) -> Any:
    if name == "__all__":
        value: Any = [*_estimators(), *sorted(_LAZY), "__version__"]
    elif name in _LAZY:
        module, attribute = _LAZY[name]
        value = importlib.import_module(module)
        value = value if attribute is None else getattr(value, attribute)
    elif name.startswith("_") or importlib.util.find_spec(f"{__name__}.{name}") is not None:
        # `from aekit import runs` asks for the attribute before importing the submodule: no estimators for that
        raise AttributeError(f"module 'aekit' has no attribute {name!r}")
    elif name in _estimators():
        value = _estimators()[name]
    else:
        raise AttributeError(f"module 'aekit' has no attribute {name!r}")
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__getattr__("__all__")})
