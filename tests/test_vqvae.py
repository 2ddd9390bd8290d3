"""The VQ-VAE: its quantizer on tensors worked by hand, then the estimator on the digits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import aekit
from aekit.cli import main
from aekit.estimators import code_density
from aekit.models.vqvae import CodebookLoss, Commitment, QuantizedPass
from aekit.nn.quantizer import EMA_EPSILON, VectorQuantizer, code_perplexity

# Small enough for seconds on one CPU thread; measured numbers are in the tests' comments.
SMALL = dict(codebook_size=64, code_dim=16, batch_size=64, random_state=0)


def _quantizer(codebook, **kwargs) -> VectorQuantizer:
    codebook = torch.as_tensor(codebook, dtype=torch.float32)
    quantizer = VectorQuantizer(codebook.shape[0], codebook.shape[1], **kwargs)
    with torch.no_grad():
        quantizer.codebook.copy_(codebook)
        if quantizer.update == "ema":
            quantizer.embedding_sum.copy_(codebook)
    return quantizer


# ---------------------------------------------------------------------------- the quantizer by hand
def test_each_vector_goes_to_its_nearest_entry_and_ties_to_the_lower_index():
    quantizer = _quantizer([[0.0, 0.0], [1.0, 1.0], [3.0, 0.0]], update="loss")
    vectors = torch.tensor([[[0.1, -0.2], [0.9, 1.4], [2.0, 0.1], [0.5, 0.5]]])  # the last: as far from 0 as from 1
    assert quantizer.nearest(vectors).tolist() == [[0, 1, 2, 0]]
    quantized, _, indices = quantizer.eval()(vectors)
    torch.testing.assert_close(quantized, quantizer.codebook[indices])


def test_the_straight_through_gradient_is_the_identity_on_the_encoders_output():
    quantizer = _quantizer([[0.0, 0.0], [1.0, 1.0]], update="loss").eval()
    vectors = torch.tensor([[[0.2, 0.1], [0.7, 1.2]]], requires_grad=True)
    result = quantizer(vectors)
    torch.testing.assert_close(result.straight_through, torch.tensor([[[0.0, 0.0], [1.0, 1.0]]]))
    upstream = torch.tensor([[[1.0, -2.0], [3.0, 0.5]]])
    (result.straight_through * upstream).sum().backward()
    torch.testing.assert_close(vectors.grad, upstream, rtol=0, atol=0)
    assert quantizer.codebook.grad is None  # the decoder's gradient never moves the codebook


def test_codebook_and_commitment_losses_match_the_hand_computed_values_and_move_only_their_side():
    quantizer = _quantizer([[0.0, 0.0], [1.0, 1.0]], update="loss").eval()
    vectors = torch.tensor([[[0.2, 0.1], [0.7, 1.2]], [[1.5, 1.0], [0.0, -0.3]]], requires_grad=True)
    q = quantizer(vectors)
    p = QuantizedPass(x=vectors, x_in=vectors, code=vectors, z=q.straight_through, out=vectors,
                      quantized=q.quantized, indices=q.indices)
    # Sample 0: (0.2^2 + 0.1^2) + (0.3^2 + 0.2^2) = 0.18; sample 1: 0.5^2 + 0.3^2 = 0.34.
    expected = torch.tensor([0.18, 0.34])
    codebook, commitment = CodebookLoss()(None, p), Commitment(0.25)(None, p)
    torch.testing.assert_close(codebook, expected)
    torch.testing.assert_close(commitment, expected)
    codebook.sum().backward(retain_graph=True)
    assert vectors.grad is None and quantizer.codebook.grad is not None
    # d/de of sum ||sg[z] - e||^2 over the vectors that chose e: 2 * sum (e - z).
    torch.testing.assert_close(quantizer.codebook.grad, torch.tensor([[-0.4, 0.4], [-0.4, -0.4]]))
    quantizer.codebook.grad = None
    commitment.sum().backward()
    assert quantizer.codebook.grad is None
    torch.testing.assert_close(vectors.grad, 2 * (vectors - q.quantized).detach())


def test_the_moving_average_update_on_two_entries_by_hand():
    quantizer = _quantizer([[0.0], [10.0]], update="ema", decay=0.5).train()
    q = quantizer(torch.tensor([[[1.0], [2.0], [9.0]]]))
    assert q.indices.tolist() == [[0, 0, 1]]
    torch.testing.assert_close(q.quantized, torch.tensor([[[0.0], [0.0], [10.0]]]))  # the entries before the update
    # N = 0.5 * [1, 1] + 0.5 * [2, 1] = [1.5, 1]; m = 0.5 * [0, 10] + 0.5 * [1 + 2, 9] = [1.5, 9.5].
    torch.testing.assert_close(quantizer.cluster_size, torch.tensor([1.5, 1.0]))
    torch.testing.assert_close(quantizer.embedding_sum, torch.tensor([[1.5], [9.5]]))
    n, eps = 2.5, EMA_EPSILON
    smoothed = (torch.tensor([1.5, 1.0]) + eps) / (n + 2 * eps) * n  # Laplace smoothing of the counts
    torch.testing.assert_close(quantizer.codebook, torch.tensor([[1.5], [9.5]]) / smoothed[:, None])
    torch.testing.assert_close(quantizer.codebook, torch.tensor([[1.0], [9.5]]), rtol=0, atol=1e-4)


def test_the_codebook_learns_only_on_training_steps():
    quantizer = _quantizer([[0.0], [10.0]], update="ema", restart_unused_after=1)
    before = {k: v.clone() for k, v in quantizer.state_dict().items()}
    vectors = torch.tensor([[[1.0], [2.0]]])
    quantizer.eval()(vectors)
    with torch.no_grad():  # the trainer's after-epoch check: training mode, no gradients
        quantizer.train()(vectors)
    for name, tensor in quantizer.state_dict().items():
        torch.testing.assert_close(tensor, before[name], rtol=0, atol=0, msg=name)


def test_the_first_training_step_initialises_every_entry_at_an_encoder_output_of_the_batch():
    torch.manual_seed(0)
    quantizer = VectorQuantizer(4, 2, update="ema", restart_unused_after=2).train()
    first = torch.tensor([[[5.0, 5.0], [6.0, 5.0], [-5.0, 0.0]]])
    quantizer(first)  # the counters start full: every entry restarts before the first batch is quantized
    for entry in quantizer.codebook:
        assert any(torch.allclose(entry, v, atol=1e-4) for v in first[0]), entry


def test_entries_unused_for_a_while_restart_at_encoder_outputs_of_the_batch_deterministically():
    def run(seed):
        torch.manual_seed(seed)
        quantizer = _quantizer([[5.0, 5.0], [0.0, 0.0], [-3.0, 1.0], [9.0, 9.0]], update="loss", restart_unused_after=2)
        quantizer.steps_unused.zero_()  # mid-training: every entry just used
        quantizer.train()
        near = torch.tensor([[[5.0, 5.0], [5.1, 5.0], [0.2, 0.0]]])  # entries 0 and 1
        quantizer(near)
        quantizer(near)
        assert quantizer.steps_unused.tolist() == [0, 0, 2, 2]
        torch.testing.assert_close(quantizer.codebook.detach()[2:], torch.tensor([[-3.0, 1.0], [9.0, 9.0]]))
        batch = torch.tensor([[[1.0, 2.0], [3.0, 4.0], [7.0, 8.0]]])
        result = quantizer(batch)  # entries 2 and 3 restart at vectors of this batch before it is quantized
        assert all(any(torch.equal(quantizer.codebook[k].detach(), v) for v in batch[0]) for k in (2, 3))
        torch.testing.assert_close(quantizer.codebook.detach()[:2], torch.tensor([[5.0, 5.0], [0.0, 0.0]]))
        assert set(result.indices.flatten().tolist()) & {2, 3}  # the restarted entries take their vectors
        return quantizer.codebook.detach().clone()

    torch.testing.assert_close(run(0), run(0), rtol=0, atol=0)


def test_perplexity_counts_the_entries_in_use():
    assert code_perplexity(torch.tensor([3, 3, 3, 3]), 8).item() == pytest.approx(1.0)
    assert code_perplexity(torch.tensor([[0, 1], [2, 3]]), 8).item() == pytest.approx(4.0)
    assert code_perplexity(torch.tensor([0, 0, 0, 1]), 2).item() == pytest.approx(math.exp(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25))))


# ---------------------------------------------------------------------------- the estimator on the digits
@pytest.fixture(scope="module")
def fitted(digits_split):
    """A conv VQ-VAE on 1,400 digits (a 2x2 grid of 16-D codes, 64 entries, 40 epochs): 4-5 CPU seconds."""
    X_train, _, _, _ = digits_split
    return aekit.VQVAE(epochs=40, **SMALL).fit(X_train)


def _mean_image_error(X_train, X_test) -> float:
    return float(np.square(X_test - X_train.mean(0)).reshape(len(X_test), -1).sum(1).mean())


def test_it_reconstructs_better_than_the_mean_image_and_than_one_entry_per_image(fitted, digits_split, single_blas_thread):
    from sklearn.cluster import KMeans

    X_train, _, X_test, _ = digits_split
    flat_train, flat_test = X_train.reshape(len(X_train), -1), X_test.reshape(len(X_test), -1)
    kmeans = KMeans(64, n_init=1, random_state=0).fit(flat_train)  # a codebook of whole images, one entry each
    kmeans_error = np.square(flat_test - kmeans.cluster_centers_[kmeans.predict(flat_test)]).sum(1).mean()
    error = fitted.reconstruction_error(X_test).mean()
    # Measured (seeds 0-2): 1.55 / 1.44 / 1.43, against 4.70 for the mean image and 1.91 for k-means.
    assert error < 0.4 * _mean_image_error(X_train, X_test) and error < kmeans_error
    assert fitted.codebook_perplexity(X_test) > 24  # of 64 entries; measured: 54.8 / 56.2 / 58.4
    assert fitted.architecture_ == "conv" and fitted.n_positions_ == 4 and fitted.latent_dim_ == 64
    n = fitted.n_epochs_
    assert len(fitted.history_["train_perplexity"]) == len(fitted.history_["val_perplexity"]) == n
    assert all(1 <= p <= 64 for p in fitted.history_["train_perplexity"])
    assert {"train_reconstruction", "train_commitment"} <= set(fitted.history_)
    assert "train_codebook" not in fitted.history_  # the moving average replaces the codebook loss


def test_transform_gives_the_quantized_vectors_of_the_entries_encode_indices_names(fitted, digits_split):
    _, _, X_test, _ = digits_split
    indices = fitted.encode_indices(X_test[:20])
    assert indices.shape == (20, 4) and indices.dtype == np.int64
    assert indices.min() >= 0 and indices.max() < 64
    codebook = fitted.module_.quantizer.codebook.detach().cpu().numpy()
    np.testing.assert_array_equal(fitted.transform(X_test[:20]), codebook[indices].reshape(20, -1))
    np.testing.assert_allclose(fitted.decode_indices(indices), fitted.reconstruct(X_test[:20]), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        fitted.inverse_transform(fitted.transform(X_test[:20])), fitted.reconstruct(X_test[:20]), rtol=1e-5, atol=1e-6
    )


def test_samples_come_from_the_prior_in_the_inputs_shape_and_repeat_with_the_seed(fitted, digits_split):
    _, _, X_test, _ = digits_split
    samples = fitted.sample(16, random_state=0)
    assert samples.shape == (16, 8, 8) and np.isfinite(samples).all()
    assert -0.5 < samples.min() and samples.max() < 1.5  # squared error: near the pixels' [0, 1]
    np.testing.assert_array_equal(fitted.sample(16, random_state=0), samples)
    assert not np.array_equal(fitted.sample(16, random_state=1), samples)
    assert fitted.code_prior_layout_["n_positions"] == 4
    # The prior learned the codes: held-out codes are far likelier under it than under uniform entries.
    prior = code_density._code_prior(fitted.code_prior_layout_, fitted.code_prior_parameters_).prior.eval()
    with torch.no_grad():
        nll = -prior.log_prob(torch.as_tensor(fitted.encode_indices(X_test))).mean().item()
    assert nll < 0.8 * 4 * math.log(64)  # measured (seeds 0-2): 11.4 / 11.2 / 11.6 nats against 16.6


def test_a_saved_model_loads_with_the_same_codes_codebook_and_samples(fitted, digits_split, tmp_path):
    _, _, X_test, _ = digits_split
    fitted.save(tmp_path / "vq.safetensors")
    loaded = aekit.load(tmp_path / "vq.safetensors")
    assert type(loaded) is aekit.VQVAE and loaded.get_params() == fitted.get_params()
    np.testing.assert_array_equal(loaded.transform(X_test), fitted.transform(X_test))
    np.testing.assert_array_equal(loaded.encode_indices(X_test), fitted.encode_indices(X_test))
    for name, tensor in fitted.module_.quantizer.state_dict().items():  # the moving averages and counters too
        torch.testing.assert_close(loaded.module_.quantizer.state_dict()[name], tensor, rtol=0, atol=0, msg=name)
    np.testing.assert_array_equal(loaded.sample(8, random_state=3), fitted.sample(8, random_state=3))


def test_a_model_samples_the_same_whether_saved_before_its_first_sample_or_not(digits, tmp_path):
    X, _ = digits
    params = dict(SMALL, architecture="mlp", n_latent_vectors=2, hidden=(32,), epochs=3)
    saved_first = aekit.VQVAE(**params).fit(X[:400])
    saved_first.save(tmp_path / "vq.safetensors")  # fits the prior, which the file keeps
    sampled_first = aekit.VQVAE(**params).fit(X[:400])
    np.testing.assert_array_equal(
        aekit.load(tmp_path / "vq.safetensors").sample(5, random_state=0), sampled_first.sample(5, random_state=0)
    )


def test_the_codebook_loss_variant_learns_too(digits_split):
    X_train, _, X_test, _ = digits_split
    vq = aekit.VQVAE(codebook_update="loss", epochs=25, **SMALL).fit(X_train)
    assert "train_codebook" in vq.history_ and vq.module_.quantizer.codebook.requires_grad
    # Measured (seeds 0-2): 2.21 / 1.88 / 2.10 against the mean image's 4.70; perplexity 45.5 / 44.0 / 47.3.
    assert vq.reconstruction_error(X_test).mean() < 0.6 * _mean_image_error(X_train, X_test)
    assert vq.codebook_perplexity(X_test) > 16


@pytest.mark.parametrize("update", ["ema", "loss"])
def test_an_interrupted_run_resumes_bit_for_bit_with_its_codebook_and_restarts(update, digits, tmp_path, crash_after_checkpoint):
    """Restarts every 5 steps (about 1 epoch) across the crash: their draws come from the checkpointed generator."""
    X, _ = digits
    params = dict(SMALL, codebook_update=update, restart_unused_after=5, epochs=4)
    with crash_after_checkpoint(lambda checkpoint, state: state.epoch == 2):
        aekit.VQVAE(**params).fit(X[:500], checkpoint_dir=tmp_path)
    resumed = aekit.VQVAE(**params).fit(X[:500], checkpoint_dir=tmp_path, resume=True)
    straight = aekit.VQVAE(**params).fit(X[:500])
    state = straight.module_.state_dict()
    assert {"quantizer.codebook", "quantizer.steps_unused"} <= set(state)
    for name, tensor in state.items():
        torch.testing.assert_close(resumed.module_.state_dict()[name], tensor, rtol=0, atol=0, msg=name)
    drop_seconds = lambda h: {k: v for k, v in h.items() if k not in ("seconds", "cpu_seconds")}  # noqa: E731
    assert drop_seconds(resumed.history_) == drop_seconds(straight.history_)


def test_the_command_line_trains_and_samples_a_vqvae(digits_pixels_npy, tmp_path):
    run = tmp_path / "run"
    assert main(["train", "vqvae", "--quiet", "--data", str(digits_pixels_npy), "--out", str(run), "--epochs", "2",
                 "--param", "codebook_size=16", "--param", "code_dim=4", "--seed", "0"]) == 0
    assert type(aekit.load(run / "model.safetensors")) is aekit.VQVAE
    assert main(["sample", str(run), "--n", "3", "--out", str(tmp_path / "samples.npy"), "--seed", "0"]) == 0
    assert np.load(tmp_path / "samples.npy").shape == (3, 8, 8)


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(codebook_size=1), r"codebook_size must be an integer >= 2; got 1"),
        (dict(codebook_size=2.5), r"codebook_size must be an integer >= 2"),
        (dict(code_dim=0), r"code_dim must be an integer >= 1; got 0"),
        (dict(n_latent_vectors=0), r"n_latent_vectors must be an integer >= 1"),
        (dict(commitment_weight=-1.0), r"commitment_weight must be a number in \[0.0, inf\]"),
        (dict(codebook_update="kmeans"), r"codebook_update must be one of \['ema', 'loss'\]"),
        (dict(ema_decay=1.0), r"ema_decay must be a number in \[0.0, 1.0\)"),
        (dict(restart_unused_after=-1), r"restart_unused_after must be an integer >= 0"),
        (dict(latent_dim=5), r"latent_dim=5, but this VQVAE's code has 4 vector\(s\) of code_dim=16, 64 values. Leave"),
    ],
)
def test_bad_parameters_are_refused_with_advice(digits, params, message):
    X, _ = digits
    with pytest.raises(ValueError, match=message):
        aekit.VQVAE(**{**SMALL, "epochs": 1, **params}).fit(X[:100])


def test_bad_entry_numbers_are_refused_with_advice(digits):
    X, _ = digits
    vq = aekit.VQVAE(**{**SMALL, "epochs": 1}).fit(X[:100])
    with pytest.raises(ValueError, match=r"4 columns .* entry numbers in \[0, 64\); got shape \(2, 4\) with values in \[0, 64\]"):
        vq.decode_indices(np.array([[0, 1, 2, 64], [0, 0, 0, 0]]))
    with pytest.raises(ValueError, match=r"4 columns"):
        vq.decode_indices(np.zeros((2, 3), dtype=int))
    with pytest.raises(ValueError, match=r"integer entry numbers"):
        vq.decode_indices(np.full((2, 4), 0.5))
    with pytest.raises(ValueError, match=r"n_samples must be an integer >= 1"):
        vq.sample(0)
