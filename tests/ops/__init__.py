"""Op tests: a table per tinygrad_attn/ops/<kind>.py, the registry of every op, strategies."""
