"""``aekit.load``: one entry point for everything aekit saves without pickle.

A model file (``est.save(path)``, one safetensors file) is read by
:func:`aekit.estimators.load_estimator`; a folder written by
:meth:`aekit.DeepClustering.save` (the autoencoder's model file beside the clusterer's
arrays) by :meth:`aekit.DeepClustering.load`.  Anything else is refused with what to pass
instead.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from aekit.estimators.persistence import ModelFileError, load_estimator


def load(path: str | os.PathLike) -> Any:
    """Read a saved aekit model: an estimator's model file, or a saved :class:`aekit.DeepClustering` folder.

    Parameters
    ----------
    path : str or path-like
        The file given to ``est.save(path)``, or the folder given to ``DeepClustering.save(path)``.

    Returns
    -------
    estimator
        The fitted estimator (an autoencoder) or the fitted ``DeepClustering``.

    Raises
    ------
    ModelFileError
        For a folder that DeepClustering did not write (a run folder of ``aekit train``
        included: its model file is named), and for a file that is not an aekit model.
    FileNotFoundError
        When nothing is at ``path``.
    """
    from aekit.uses.clustering import CLUSTERING_FILE, ESTIMATOR_FILE, DeepClustering

    path = Path(path)
    if path.is_dir():
        if (path / CLUSTERING_FILE).is_file():
            return DeepClustering.load(path)
        models = sorted(path.glob("*.safetensors"))
        if models:  # e.g. a run folder of `aekit train`, whose model.safetensors sits beside run.json
            raise ModelFileError(
                f"{path} is a folder (a run folder of `aekit train`?), not a model file; pass its model, "
                f"aekit.load({str(models[0])!r}), or for a run folder use aekit.runs.load_run({str(path)!r}) for "
                "the model and the input scaling it was trained with."
            )
        raise ModelFileError(
            f"{path} is a folder but not a saved DeepClustering (it has no {CLUSTERING_FILE}); aekit.load reads "
            "the file given to est.save(path) or the folder given to DeepClustering.save(path)."
        )
    if path.name == CLUSTERING_FILE and (path.parent / ESTIMATOR_FILE).is_file():
        raise ModelFileError(
            f"{path} is one part of a saved DeepClustering; pass its folder: aekit.load({str(path.parent)!r})."
        )
    return load_estimator(path)
