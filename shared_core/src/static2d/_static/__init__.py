"""The static engine: the embedding table, the tokenizer (and the faster exact one), mean pooling. numpy only."""
