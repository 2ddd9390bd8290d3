"""What autoencoders are for: anomaly detection, sampling, latent navigation."""
