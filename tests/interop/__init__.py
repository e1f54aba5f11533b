"""tinygrad_attn.interop: the same modules and weights in PyTorch and back."""
