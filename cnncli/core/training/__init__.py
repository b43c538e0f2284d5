"""Training: the configuration, the loop, checkpoints, run folders and distributed data parallel."""
