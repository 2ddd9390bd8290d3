"""Offline quality of generated samples: Fréchet distance and improved precision/recall.

Both compare feature vectors of real and generated samples.  The features come from
a small network fitted here (:func:`fit_feature_extractor`): a classifier trained on
the data's own labels, whose penultimate layer is the feature space, or, without
labels, a fixed randomly initialised network.

.. warning::
   The numbers are **not** comparable with the FID, precision or recall that papers
   report.  Those use Inception-v3 features of ImageNet-scale images; here the
   feature network, its training and its size are specific to the data set and to
   the ``random_state``.  Compare models only under the *same* :class:`FeatureSpace`
   (same data, same settings, same seed), and sample sizes, since the Fréchet
   distance is biased upwards for few samples.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from scipy.spatial.distance import cdist
from torch import nn

from aekit.nn.blocks import DEFAULT_HIDDEN, ConvEncoder, MLPEncoder

# Distance blocks of at most this many float64 entries (64 MB): precision/recall on
# tens of thousands of samples must not build the full n x m matrix.
_BLOCK_ELEMENTS = 8_000_000


def _check_features(features: Any, name: str, min_samples: int = 2) -> np.ndarray:
    """``features`` as a finite float64 ``(n, d)`` array with ``n >= min_samples``."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features); got shape {features.shape}.")
    if len(features) < min_samples:
        raise ValueError(
            f"{name} has {len(features)} sample(s); at least {min_samples} are needed "
            "(a covariance needs 2, a k-nearest-neighbour radius k + 1)."
        )
    if not np.isfinite(features).all():
        raise ValueError(f"{name} contains NaN or infinite values.")
    return features


def _check_same_width(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_a} has {a.shape[1]} features and {name_b} has {b.shape[1]}; "
            "both must come from the same feature space."
        )


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Symmetric square root of a symmetric positive semi-definite matrix.

    Eigenvalues that rounding pushed below zero are set to zero.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(matrix)
    return (eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))) @ eigenvectors.T


def frechet_distance(features_a: Any, features_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets.

    ``||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` with the sample means
    and covariances (``ddof=1``, as in the reference FID code).

    Parameters
    ----------
    features_a, features_b : array-like of shape (n_a, d) and (n_b, d)
        Feature vectors, e.g. from :meth:`FeatureSpace.transform`.

    Returns
    -------
    float
        The distance, >= 0 (0 for identical sets).

    Notes
    -----
    ``tr((S_a S_b)^(1/2))`` is computed as ``sum(sqrt(eig(S_a^(1/2) S_b S_a^(1/2))))``:
    the product ``S_a^(1/2) S_b S_a^(1/2)`` is symmetric positive semi-definite and
    has the same eigenvalues as ``S_a S_b``, so a symmetric eigen-decomposition gives
    the trace without ``scipy.linalg.sqrtm`` on a non-symmetric product, and without
    the imaginary parts and diagonal ``eps`` offsets that route needs for singular
    covariances (fewer samples than features).  Both routes agree to rounding.
    """
    a = _check_features(features_a, "features_a")
    b = _check_features(features_b, "features_b")
    _check_same_width(a, b, "features_a", "features_b")
    mean_diff = a.mean(0) - b.mean(0)
    # atleast_2d: np.cov of a single feature is a 0-d array.
    cov_a = np.atleast_2d(np.cov(a, rowvar=False))
    cov_b = np.atleast_2d(np.cov(b, rowvar=False))
    sqrt_a = _psd_sqrt(cov_a)
    product = sqrt_a @ cov_b @ sqrt_a
    eigenvalues = np.linalg.eigvalsh((product + product.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    distance = mean_diff @ mean_diff + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt
    # A distance: rounding can leave about -1e-12 for identical sets.
    return float(max(distance, 0.0))


def _distance_blocks(a: np.ndarray, b: np.ndarray) -> Iterator[np.ndarray]:
    """Exact Euclidean distances from consecutive row blocks of ``a`` to all of ``b``.

    ``cdist`` sums squared differences, so a point's distance to itself is exactly 0
    (the ``|a|^2 + |b|^2 - 2ab`` shortcut can leave 1e-8, which matters when a
    k-NN radius is 0 because of duplicates).
    """
    rows = max(1, _BLOCK_ELEMENTS // len(b))
    for start in range(0, len(a), rows):
        yield cdist(a[start : start + rows], b)


def _knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Distance from each sample to its k-th nearest other sample."""
    # Column 0 of the partition is the sample itself (distance 0), column k its k-th neighbour.
    return np.concatenate([np.partition(d, k, axis=1)[:, k] for d in _distance_blocks(features, features)])


def _fraction_inside(points: np.ndarray, manifold: np.ndarray, radii: np.ndarray) -> float:
    """Fraction of ``points`` inside at least one ball ``(manifold[j], radii[j])``."""
    inside = np.concatenate([(d <= radii).any(1) for d in _distance_blocks(points, manifold)])
    return float(inside.mean())


def precision_recall(real_features: Any, fake_features: Any, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkäänniemi et al., 2019).

    Each set's manifold is the union of balls around its samples with radius the
    distance to the sample's ``k``-th nearest neighbour in the same set.  Precision is
    the fraction of generated samples inside the real manifold (are the samples
    realistic?); recall is the fraction of real samples inside the generated manifold
    (is the data's variety covered?).

    Parameters
    ----------
    real_features, fake_features : array-like of shape (n_real, d) and (n_fake, d)
        Feature vectors; each set needs more than ``k`` samples.
    k : int
        Neighbourhood size; the paper uses 3.

    Returns
    -------
    (precision, recall) : tuple of float
        Both in [0, 1]; identical sets give (1, 1).
    """
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer; got {k!r}.")
    k = int(k)
    real = _check_features(real_features, "real_features", min_samples=k + 1)
    fake = _check_features(fake_features, "fake_features", min_samples=k + 1)
    _check_same_width(real, fake, "real_features", "fake_features")
    precision = _fraction_inside(fake, real, _knn_radii(real, k))
    recall = _fraction_inside(real, fake, _knn_radii(fake, k))
    return precision, recall


class FeatureSpace:
    """A fixed torch network that maps samples to feature vectors for the metrics above.

    Made by :func:`fit_feature_extractor`.  Inputs are standardized with the
    statistics of the data it was fitted on, so real and generated samples go
    through exactly the same map.

    Attributes
    ----------
    sample_shape : tuple of int
        Shape of one sample as given to :func:`fit_feature_extractor`.
    n_features : int
        Length of a feature vector.
    classes_ : ndarray or None
        The labels the network was trained on; None for a random network.
    """

    def __init__(
        self,
        network: nn.Module,
        head: nn.Module | None,
        sample_shape: tuple[int, ...],
        model_shape: tuple[int, ...],
        input_mean: np.ndarray,
        input_scale: np.ndarray,
        n_features: int,
        classes: np.ndarray | None,
    ):
        self.network = network.eval()
        self.head = None if head is None else head.eval()
        self.sample_shape = sample_shape
        self.model_shape = model_shape
        self.input_mean = input_mean
        self.input_scale = input_scale
        self.n_features = n_features
        self.classes_ = classes

    def _model_input(self, X: Any) -> torch.Tensor:
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1:] != self.sample_shape:
            raise ValueError(
                f"Samples of shape {X.shape[1:]} do not match the feature space, fitted on "
                f"samples of shape {self.sample_shape}."
            )
        if not np.isfinite(X).all():
            raise ValueError("The samples contain NaN or infinite values.")
        X = (X - self.input_mean) / self.input_scale
        return torch.from_numpy(X.reshape(len(X), *self.model_shape))

    @torch.no_grad()
    def _batched(self, X: Any, module: nn.Module, batch_size: int) -> np.ndarray:
        inputs = self._model_input(X)
        return torch.cat([module(batch) for batch in inputs.split(batch_size)]).numpy()

    def transform(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """Feature vectors ``(n, n_features)`` of samples shaped ``(n, *sample_shape)``."""
        return self._batched(X, self.network, batch_size)

    def predict(self, X: Any, batch_size: int = 1024) -> np.ndarray:
        """The trained classifier's labels for ``X`` (only for a space fitted with labels)."""
        if self.head is None:
            raise ValueError("This FeatureSpace is a random network fitted without labels; it cannot predict.")
        classifier = nn.Sequential(self.network, self.head)
        return self.classes_[self._batched(X, classifier, batch_size).argmax(1)]


def _input_statistics(X: np.ndarray, is_image: bool) -> tuple[np.ndarray, np.ndarray]:
    """Standardization: one mean and scale for all pixels of an image, per column for a table.

    Per-pixel statistics would give constant border pixels (zero variance) an
    arbitrary scale; constant columns get scale 1.
    """
    if is_image:
        mean, scale = np.asarray(X.mean()), np.asarray(X.std())
    else:
        mean, scale = X.mean(0), X.std(0)
    return mean.astype(np.float32), np.where(scale > 0, scale, 1.0).astype(np.float32)


def _feature_network(
    model_shape: tuple[int, ...], hidden: Sequence[int], n_features: int
) -> nn.Module:
    """Conv or MLP body, then ``Linear -> ReLU`` to ``n_features`` (the penultimate layer)."""
    if len(model_shape) == 3:
        body = ConvEncoder(model_shape, hidden, "relu")
    else:
        body = MLPEncoder(model_shape, hidden, "relu")
    return nn.Sequential(body, nn.Linear(body.out_features, n_features), nn.ReLU())


def fit_feature_extractor(
    X: Any,
    y: Any = None,
    *,
    hidden: Sequence[int] | None = None,
    n_features: int = 64,
    epochs: int = 20,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    random_state: int = 0,
) -> FeatureSpace:
    """A feature space for :func:`sample_quality`, fitted on real data ``X``.

    Parameters
    ----------
    X : array-like of shape (n, d), (n, h, w) or (n, c, h, w)
        Real samples.  Tables get an MLP, images a small stride-2 conv net.
    y : array-like of shape (n,), optional
        Labels.  With labels a classifier is trained on ``(X, y)`` with Adam and
        cross-entropy, and its penultimate layer (``n_features`` ReLU units) gives
        the features; the space can then :meth:`~FeatureSpace.predict`.  Without
        labels the network keeps its random initialisation (seeded by
        ``random_state``): random features still separate data from noise, but are
        less sensitive to what makes a sample look right.
    hidden : sequence of int, optional
        MLP widths or conv channels before the feature layer; default (256, 128) for
        tables and (32, 64) for images.
    n_features : int
        Size of the feature vectors.
    epochs, batch_size, learning_rate : int, int, float
        Classifier training (ignored without labels).
    random_state : int
        Seeds the initialisation and the batch order; the global torch random state
        is left untouched.

    Returns
    -------
    FeatureSpace

    Notes
    -----
    Scores in this space are not comparable with Inception-based FID (see the module
    docstring): fit one space and score every model in it.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim not in (2, 3, 4):
        raise ValueError(f"X must be (n, d), (n, h, w) or (n, c, h, w); got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values.")
    is_image = X.ndim > 2
    sample_shape = X.shape[1:]
    model_shape = (1, *sample_shape) if X.ndim == 3 else sample_shape
    hidden = tuple(DEFAULT_HIDDEN["conv" if is_image else "mlp"] if hidden is None else hidden)
    if is_image and not hidden:
        raise ValueError("An image feature network needs at least one conv layer in `hidden`.")
    input_mean, input_scale = _input_statistics(X, is_image)
    space_args = dict(
        sample_shape=sample_shape, model_shape=model_shape, input_mean=input_mean,
        input_scale=input_scale, n_features=n_features,
    )

    classes, targets = None, None
    if y is not None:
        classes, targets = np.unique(np.asarray(y), return_inverse=True)
        if len(targets) != len(X):
            raise ValueError(f"X has {len(X)} samples but y has {len(targets)} labels.")
        if len(classes) < 2:
            raise ValueError("y has a single class; a classifier needs at least two (or pass y=None).")

    # fork_rng: seed the initialisation without changing the caller's random stream.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        network = _feature_network(model_shape, hidden, n_features)
        head = None if classes is None else nn.Linear(n_features, len(classes))
    if head is None:
        return FeatureSpace(network, None, classes=None, **space_args)

    space = FeatureSpace(network, head, classes=classes, **space_args)
    inputs = space._model_input(X)
    targets = torch.from_numpy(targets.astype(np.int64))
    classifier = nn.Sequential(network, head).train()
    optimizer = torch.optim.Adam(classifier.parameters(), lr=learning_rate)
    generator = torch.Generator().manual_seed(random_state)
    for _ in range(epochs):
        for batch in torch.randperm(len(inputs), generator=generator).split(batch_size):
            loss = nn.functional.cross_entropy(classifier(inputs[batch]), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    classifier.eval()
    return space


def sample_quality(real: Any, generated: Any, feature_space: FeatureSpace, k: int = 3) -> dict[str, float]:
    """Fréchet distance and improved precision/recall of ``generated`` against ``real``.

    Parameters
    ----------
    real, generated : array-like of shape (n, *feature_space.sample_shape)
        Held-out real samples (not those the feature space was fitted on, which it
        has seen) and model samples, ideally equally many.
    feature_space : FeatureSpace
        From :func:`fit_feature_extractor`; the same one for every model compared.
    k : int
        Neighbourhood size for precision and recall.

    Returns
    -------
    dict
        ``{"fd": float, "precision": float, "recall": float}``.  Not comparable with
        Inception-FID numbers.
    """
    real_features = feature_space.transform(real)
    generated_features = feature_space.transform(generated)
    precision, recall = precision_recall(real_features, generated_features, k=k)
    return {
        "fd": frechet_distance(real_features, generated_features),
        "precision": precision,
        "recall": recall,
    }


def conditional_sample_accuracy(classifier: Any, samples: Any, labels: Any) -> float:
    """Fraction of class-conditional samples that ``classifier`` assigns to the requested class.

    Parameters
    ----------
    classifier : object with ``predict(samples)``
        E.g. a :class:`FeatureSpace` fitted with labels, or a fitted scikit-learn
        classifier.
    samples : array-like of shape (n, ...)
        Samples generated for ``labels`` (e.g. by a conditional VAE).
    labels : array-like of shape (n,)
        The class each sample was asked to show.

    Returns
    -------
    float
        Accuracy in [0, 1]; chance is about 1 / n_classes.
    """
    labels = np.asarray(labels)
    n_samples = len(samples)
    if n_samples == 0 or labels.shape != (n_samples,):
        raise ValueError(
            "Need at least one sample and one label per sample; got "
            f"{n_samples} samples and labels of shape {labels.shape}."
        )
    return float(np.mean(np.asarray(classifier.predict(samples)) == labels))
