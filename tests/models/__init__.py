"""Model tests: the transformer, its masks, and decoding with and without the cache."""
