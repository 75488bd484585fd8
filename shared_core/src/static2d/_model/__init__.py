"""What is on disk, without torch: finding a model, describing it from its configs, and checking its files."""
