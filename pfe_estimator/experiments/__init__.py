"""Experiments: a measured run as one value (a config file under configs/), the protocols that train fold
heads on LFW and score them, and the work folder where everything they make is kept by what made it."""
