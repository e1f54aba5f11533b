"""A small pool of large buffers for the attention op's own arrays, so a call does not refault.

Why: the attention op of an MHA block allocates megabytes per call (the (B, H, L, S) scores
and their gradient, scaled q, transposed k and v, the output, the packed gradient). When the
graph is freed at the end of backward, glibc's malloc gives that memory back to the kernel (it
trims the top of its heap, and unmaps large chunks), and the next call takes a page fault for
every 4 KiB page it touches again: ~2500 faults per call of a (64, 32, 128) causal block, a
quarter of its time (benchmarks/bench_faults.py measures them). The pool keeps a few freed
buffers and hands them out again. Its buffers are anonymous memory maps of their own, outside
malloc's heap, so keeping them does not change how malloc treats everything else.

Safety: a buffer is handed out again only when nothing else references it. Every array that
uses its memory (a view, an op's output, a saved tensor, a Tensor's data, a memoryview, a
torch tensor from torch.from_numpy) holds a reference to the pooled array, so a reference
count equal to the pool's own, and no weak reference, means no one can see its contents
change. A live Tensor's data is never reused, so the version counters see every in-place
edit as before. Buffers are handed out under a lock, so threads never share one. What the
pool keeps is bounded (MAX_BUFFERS arrays, and `set_buffer_pool`'s bytes, 24 MiB by default,
free or in use); `empty_cache()` forgets it all.

    import tinygrad_attn as tg
    tg.empty_cache()              # unmap the pool's free buffers (those in use go with them)
    with tg.set_buffer_pool(0):   # no pool inside the block (as a plain call: from now on)
        ...
"""

from __future__ import annotations

import mmap
import sys
import threading
import weakref
from typing import Any

import numpy as np

MIN_BYTES = 64 << 10  # smaller arrays come from numpy's malloc: a few pages, kept warm there
MAX_BUFFERS = 24  # arrays the pool keeps, free or in use
DEFAULT_MAX_BYTES = 24 << 20  # bytes the pool keeps, free or in use: a T = 1024 block needs 20


class BufferPool:
    """Large uint8 buffers handed out as typed views, reused once nothing references them."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, min_bytes: int = MIN_BYTES) -> None:
        self.max_bytes, self.min_bytes = max_bytes, min_bytes
        self._buffers: list[np.ndarray] = []  # oldest first
        self._lock = threading.Lock()

    def empty(self, shape: tuple, dtype: Any) -> np.ndarray:
        """An uninitialised C-contiguous array, like np.empty(shape, dtype)."""
        dtype = np.dtype(dtype)
        nbytes = dtype.itemsize * _count(shape)
        if nbytes < self.min_bytes or nbytes > self.max_bytes or nbytes == 0:
            return np.empty(shape, dtype)
        with self._lock:
            base = self._take(nbytes)
        return base[:nbytes].view(dtype).reshape(shape)

    def _take(self, nbytes: int) -> np.ndarray:
        """The smallest free buffer of at least nbytes, else a new one.

        Sizes that grow (the causal blocks of a long sequence, each larger than the last)
        would get a fresh map per block, every page of it a fault. So a new buffer is mapped
        at the next power of two (the kernel gives a page only when it is first touched: the
        untouched rest costs no memory), and on a miss the free buffers smaller than nbytes
        are forgotten first, rather than piling up one per size."""
        best, smaller = None, []
        for i in range(len(self._buffers)):
            size = self._buffers[i].nbytes
            if best is not None and size >= self._buffers[best].nbytes:
                continue
            if _is_free(self._buffers, i):
                if size >= nbytes:
                    best = i
                else:
                    smaller.append(i)
        if best is not None:
            return self._buffers[best]
        for i in reversed(smaller):
            del self._buffers[i]
        capacity = 1 << (nbytes - 1).bit_length()
        capacity = capacity if capacity <= self.max_bytes else nbytes
        base = np.frombuffer(_new_map(capacity), np.uint8)
        self._buffers.append(base)
        self._trim()
        return base

    def _trim(self) -> None:
        """Forget buffers until the bounds hold: free ones first (smallest first), then the
        oldest in use (still valid for its users, and unmapped when they let it go)."""
        while len(self._buffers) > MAX_BUFFERS or self.kept_bytes() > self.max_bytes:
            free = [i for i in range(len(self._buffers)) if _is_free(self._buffers, i)]
            victim = min(free, key=lambda i: self._buffers[i].nbytes) if free else 0
            del self._buffers[victim]

    def kept_bytes(self) -> int:
        """Bytes mapped for every buffer the pool keeps, free or in use (an upper bound on
        their memory: the kernel backs only the pages that were touched)."""
        return sum(b.nbytes for b in self._buffers)

    def set_limits(self, max_bytes: int, min_bytes: int) -> None:
        """Keep at most max_bytes from now on (0: hand out plain numpy arrays), and pool only
        arrays of at least min_bytes."""
        with self._lock:
            self.max_bytes, self.min_bytes = max_bytes, min_bytes
            self._trim()

    def clear(self) -> None:
        """Forget every buffer (those in use stay valid for their users)."""
        with self._lock:
            self._buffers.clear()


def _new_map(nbytes: int) -> mmap.mmap:
    """Anonymous memory of nbytes, private to the process where the platform has the flag
    (Python's default is a shared map, whose pages the kernel keeps in its shared memory)."""
    private = getattr(mmap, "MAP_PRIVATE", None)
    if private is None:  # Windows: anonymous maps are always private to the process
        return mmap.mmap(-1, nbytes)
    return mmap.mmap(-1, nbytes, flags=private | mmap.MAP_ANONYMOUS)


def _refs(obj: Any) -> int:
    return sys.getrefcount(obj)


def _is_free(buffers: list, i: int) -> bool:
    """True when buffers[i], and the memoryview under it, are referenced by the pool alone."""
    buf = buffers[i]
    return (
        _refs(buf) == _FREE and _refs(buf.base) == _FREE_BASE and not weakref.getweakrefcount(buf)
    )


def _count(shape: tuple) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


def _free_counts() -> tuple[int, int]:
    """The reference counts `_is_free` sees for a buffer that only the pool's list holds
    (measured, not assumed: the interpreter's own references differ between versions)."""
    buffers = [np.frombuffer(_new_map(mmap.PAGESIZE), np.uint8)]
    buf = buffers[0]
    return _refs(buf), _refs(buf.base)


_FREE, _FREE_BASE = _free_counts()
POOL = BufferPool()


class set_buffer_pool:  # noqa: N801 (a function and a context manager, as torch.set_grad_enabled)
    """Bound the attention buffer pool to `max_bytes` in all (0: no pool; 24 MiB by default),
    pooling arrays of `min_bytes` or more (64 KiB). As a plain call it sets the bounds from now
    on; in a `with` block the previous ones come back at its end. Buffers past a new bound are
    forgotten at once (those in use stay valid for their users)."""

    def __init__(self, max_bytes: int, min_bytes: int = MIN_BYTES) -> None:
        if max_bytes < 0 or min_bytes < 0:
            raise ValueError(
                f"set_buffer_pool: max_bytes and min_bytes must be >= 0, got {max_bytes} and "
                f"{min_bytes}"
            )
        self.previous = POOL.max_bytes, POOL.min_bytes
        POOL.set_limits(max_bytes, min_bytes)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        POOL.set_limits(*self.previous)


def empty_cache() -> None:
    """Forget every buffer the attention pool keeps: the free ones are unmapped now, those
    still in use by tensors when the tensors go."""
    POOL.clear()


def empty(shape: tuple, dtype: Any) -> np.ndarray:
    """np.empty(shape, dtype), from the pool when large."""
    return POOL.empty(shape, dtype)


def zeros(shape: tuple, dtype: Any) -> np.ndarray:
    """np.zeros(shape, dtype), from the pool when large."""
    out = POOL.empty(shape, dtype)
    out.fill(0)
    return out


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b into a pooled array.  Shapes: (..., n, k), (..., k, m) -> (..., n, m)."""
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    out = POOL.empty(batch + (a.shape[-2], b.shape[-1]), np.result_type(a, b))
    return np.matmul(a, b, out=out)


def multiply(a: np.ndarray, b: Any) -> np.ndarray:
    """a * b (b an array or a scalar, in a's dtype) into a pooled C-contiguous array."""
    if np.ndim(b) == 0:
        b = a.dtype.type(b)
    out = POOL.empty(np.broadcast_shapes(a.shape, np.shape(b)), np.result_type(a, b))
    return np.multiply(a, b, out=out)


def contiguous(x: np.ndarray) -> np.ndarray:
    """np.ascontiguousarray(x): x itself when C-contiguous, else a pooled copy."""
    if x.flags.c_contiguous:
        return x
    out = POOL.empty(x.shape, x.dtype)
    np.copyto(out, x)
    return out


def concatenate(parts: list, axis: int) -> np.ndarray:
    """np.concatenate(parts, axis) into a pooled array (parts of one dtype and batch shape)."""
    shape = list(parts[0].shape)
    shape[axis] = sum(p.shape[axis] for p in parts)
    return np.concatenate(parts, axis=axis, out=POOL.empty(tuple(shape), parts[0].dtype))
