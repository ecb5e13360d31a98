"""Checkpoints, prediction and SavedModel export."""
