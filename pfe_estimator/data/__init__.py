"""Input: the TFRecord schema, the P x K sampler, the feature cache, image decoding."""
