"""The last pushed model, and the statistics of its data, as the next run's baseline."""
