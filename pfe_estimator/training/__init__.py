"""Training: the MLS and AM-softmax losses, the optimisation tail, the device switch (CPU/GPU/NPU), hooks."""
