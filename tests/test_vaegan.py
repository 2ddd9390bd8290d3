"""aekit.VAEGAN: the game at defaults stays finite and balanced, samples do not collapse, runs resume exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import aekit
from aekit.models.vaegan import GeneratorAdversarial

LOSSES = ("train_loss", "train_reconstruction", "train_kl", "train_feature_reconstruction", "train_adversarial",
          "train_adversary")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _pairwise_distances(samples: np.ndarray) -> np.ndarray:
    flat = samples.reshape(len(samples), -1).astype(np.float64)
    squared = (flat**2).sum(1)
    distances = np.sqrt(np.maximum(squared[:, None] + squared[None] - 2 * flat @ flat.T, 0.0))
    return distances[np.triu_indices(len(flat), k=1)]


def _assert_stable(model, data: np.ndarray, late: int) -> dict[str, float]:
    """Finite losses, a discriminator neither winning (-> 0) nor lost (exploding), samples spread like data."""
    history = model.history_
    for name in LOSSES:
        assert np.isfinite(history[name]).all(), name
    adversary = np.asarray(history["train_adversary"][-late:])
    # 0.69 (log 2) is a discriminator that tells nothing, 0 one that tells everything.
    assert 0.2 < adversary.mean() < 0.75 and adversary.min() > 0.1 and adversary.max() < 1.0, adversary
    samples = model.sample(200, random_state=0).reshape(200, -1)
    pixel_std = float(samples.std(0).mean())
    data_std = float(data.reshape(len(data), -1).std(0).mean())
    distances = _pairwise_distances(samples)
    assert np.isfinite(samples).all()
    # A collapsed generator draws one image (spread and distances near 0). Measured at seed 0: spread 0.51x the
    # data's on the digits, 0.41x on the MNIST subset after 6 short epochs; closest pair 0.20x, 0.25x the median.
    assert pixel_std > 0.25 * data_std, (pixel_std, data_std)
    assert distances.min() > 0.05 * np.median(distances), (distances.min(), np.median(distances))
    print(f"discriminator {adversary.mean():.3f}, sample pixel std {pixel_std:.3f} (data {data_std:.3f}), "
          f"closest samples {distances.min() / np.median(distances):.2f} x the median distance")
    return {"adversary": float(adversary.mean()), "pixel_std": pixel_std, "data_std": data_std}


@pytest.fixture(scope="module")
def fitted(digits_split):
    X_train, _, X_test, _ = digits_split
    return aekit.VAEGAN(random_state=0).fit(X_train), X_train, X_test


def test_training_at_defaults_on_the_digits_stays_finite_balanced_and_uncollapsed(fitted):
    model, X_train, X_test = fitted
    assert model.n_epochs_ == 50  # no early stopping by default: the game's loss is not a target
    measured = _assert_stable(model, X_train, late=10)
    assert measured["adversary"] > 0.3, measured
    # The pixel likelihood stays beside the feature term, so the model remains a VAE of the pixels.
    assert np.isfinite(model.log_likelihood(X_test[:20], n_samples=20, random_state=0)).all()
    assert model.reconstruction_error(X_test).mean() < 0.5 * ((X_test - X_train.mean(0)) ** 2).sum((1, 2)).mean()


def test_training_at_defaults_on_an_mnist_subset_stays_finite_balanced_and_uncollapsed(mnist_path):
    from aekit.data import load_mnist

    images, _ = load_mnist(mnist_path, split="train")
    X = images[:2000]
    model = aekit.VAEGAN(epochs=6, random_state=0).fit(X)  # every other setting at its default
    measured = _assert_stable(model, X, late=3)
    assert measured["adversary"] > 0.3, measured


def test_the_generators_term_moves_the_decoder_but_not_the_encoder_nor_the_discriminator(fitted):
    model, _, X_test = fitted
    module = model.module_.train()
    try:
        module.zero_grad(set_to_none=True)
        p = module.forward_pass(model._to_tensor(X_test[:32]))
        GeneratorAdversarial()(module, p).mean().backward(inputs=[p for n, p in module.named_parameters()
                                                                  if not n.startswith("adversary.")])
        assert all(p.grad is None or not p.grad.any() for p in module.encoder.parameters())
        assert all(p.grad is None or not p.grad.any() for p in module.posterior.parameters())
        assert any(p.grad is not None and p.grad.any() for p in module.decoder.parameters())
        assert all(p.grad is None for p in module.adversary.parameters())
    finally:
        module.zero_grad(set_to_none=True)
        module.eval()


def test_the_papers_variant_without_the_pixel_likelihood_trains_too(digits):
    X, _ = digits
    model = aekit.VAEGAN(pixel_weight=0.0, epochs=5, random_state=0).fit(X[:600])
    assert all(np.isfinite(model.history_[name]).all() for name in LOSSES)
    assert model.module_.terms[0].weight == 0.0 and model.history_["train_reconstruction"][-1] > 0  # still reported


def test_an_interrupted_game_resumes_bit_for_bit(digits, tmp_path, crash_after_checkpoint):
    """The discriminator's weights and its Adam moments survive the restart with the VAE's."""
    X, _ = digits
    params = dict(latent_dim=3, hidden=(8, 16), batch_size=64, random_state=1, epochs=4)
    with crash_after_checkpoint(lambda checkpoint, state: state.epoch == 2):
        aekit.VAEGAN(**params).fit(X[:400], checkpoint_dir=tmp_path)
    resumed = aekit.VAEGAN(**params).fit(X[:400], checkpoint_dir=tmp_path, resume=True)
    straight = aekit.VAEGAN(**params).fit(X[:400])
    for name, tensor in straight.module_.state_dict().items():
        torch.testing.assert_close(resumed.module_.state_dict()[name], tensor, rtol=0, atol=0, msg=name)
    assert any(name.startswith("adversary.") for name in straight.module_.state_dict())
    drop_seconds = lambda h: {k: v for k, v in h.items() if k not in ("seconds", "cpu_seconds")}  # noqa: E731
    assert drop_seconds(resumed.history_) == drop_seconds(straight.history_)


def test_a_flow_posterior_trains_under_the_game(digits):
    X, _ = digits
    model = aekit.VAEGAN(posterior="iaf", flow_hidden=(16,), hidden=(8, 16), epochs=2, random_state=0).fit(X[:300])
    assert all(np.isfinite(model.history_[name]).all() for name in LOSSES)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: aekit.VAEGAN(objective="iwae"), r"VAEGAN adds terms to the ELBO.*use objective='elbo'"),
        (lambda: aekit.VAEGAN(discriminator_learning_rate=0.0), "discriminator_learning_rate must be a number"),
        (lambda: aekit.VAEGAN(discriminator_hidden=(0,)), "discriminator_hidden must be None or a tuple of positive"),
        (lambda: aekit.VAEGAN(feature_weight=-1.0), r"feature_weight must be a number in \[0.0, inf\]"),
        (lambda: aekit.VAEGAN(likelihood="bernoulli"), r"likelihood='bernoulli' models inputs in \[0, 1\]"),
    ],
)
def test_bad_settings_and_inputs_are_refused_with_advice(make, message, digits):
    X, _ = digits
    with pytest.raises(ValueError, match=message):
        make().set_params(epochs=1).fit(X[:100] * (3.0 if "bernoulli" in message else 1.0))
