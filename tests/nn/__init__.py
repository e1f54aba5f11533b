"""Layer tests: Module, the layers, MultiheadAttention, init and utils, parity with PyTorch."""
