"""One PyTorch thread while the interop tests run: its thread pool fighting numpy's over two
busy cores costs seconds per test."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread() -> Iterator[None]:
    if importlib.util.find_spec("torch") is None:  # the tests skip themselves
        yield
        return
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
