"""The attention op's buffer pool (tinygrad_attn/_buffers.py): a reused buffer never holds data
someone can still see, results are bit-identical with and without it, and it stays bounded.

The tests pool every array (min_bytes=0), so tiny shapes exercise it, and poison the free
buffers with NaN before a run, so an op reading memory it did not write shows up.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from tinygrad_attn import _buffers, nn

from .nn_strategies import fused_attention_case
from .test_attention import _attention_op, _grads

POOL_ON = dict(max_bytes=1 << 20, min_bytes=0)


@pytest.fixture(autouse=True)
def _fresh_pool() -> Iterator[None]:
    tg.empty_cache()
    yield
    tg.empty_cache()


def _poison() -> None:
    """Fill every free pooled buffer with NaN bytes (0xFF)."""
    pool = _buffers.POOL
    for i in range(len(pool._buffers)):
        if _buffers._is_free(pool._buffers, i):
            pool._buffers[i].fill(0xFF)


def _live(arrays: list) -> None:
    """No two arrays share memory."""
    for i, a in enumerate(arrays):
        for b in arrays[i + 1 :]:
            assert not np.shares_memory(a, b), "the pool handed out memory that is still in use"


def test_a_buffer_is_reused_only_once_nothing_references_it() -> None:
    makers = [
        lambda a: a.T,
        lambda a: a[2:],
        lambda a: a.reshape(-1),
        lambda a: memoryview(a),
        lambda a: weakref.ref(a.base),  # a weak reference could still reach the data
    ]
    with tg.set_buffer_pool(**POOL_ON):
        for make in makers:
            tg.empty_cache()
            a = _buffers.empty((8, 8), np.float64)
            first = id(a.base)
            holder = make(a)
            del a
            b = _buffers.empty((8, 8), np.float64)  # the holder alone keeps the buffer taken
            assert id(b.base) != first
            del holder, b
            c = _buffers.empty((4, 8), np.float64)  # free now: a smaller request reuses it
            assert id(c.base) == first


def test_no_pool_hands_out_plain_arrays_and_the_bound_comes_back() -> None:
    before = _buffers.POOL.max_bytes, _buffers.POOL.min_bytes
    with tg.set_buffer_pool(0):
        a = _buffers.empty((256, 256), np.float32)
        assert a.flags.owndata and _buffers.POOL.kept_bytes() == 0
    assert (_buffers.POOL.max_bytes, _buffers.POOL.min_bytes) == before
    with pytest.raises(ValueError, match="set_buffer_pool: max_bytes"):
        tg.set_buffer_pool(-1)


@given(
    steps=st.lists(
        st.tuples(st.sampled_from(["take", "drop", "view"]), st.integers(1, 40_000)), max_size=60
    )
)
def test_live_arrays_never_share_memory_and_the_pool_stays_bounded(steps: list) -> None:
    """Random takes and drops: each live array keeps the value written into it, whatever the
    pool hands out after; what it keeps stays under its bounds."""
    live: list[tuple[np.ndarray, float]] = []
    with tg.set_buffer_pool(max_bytes=200_000, min_bytes=0):
        for n, (action, size) in enumerate(steps):
            if action == "take":
                a = _buffers.empty((size // 8 + 1,), np.float64)
                a.fill(n)
                live.append((a, n))
            elif live and action == "drop":
                live.pop(size % len(live))
            elif live:  # keep only a view of one: it must keep the buffer too
                i = size % len(live)
                live[i] = (live[i][0][1:] if live[i][0].size > 1 else live[i][0], live[i][1])
            _live([a for a, _ in live])
            assert _buffers.POOL.kept_bytes() <= 200_000
            assert len(_buffers.POOL._buffers) <= _buffers.MAX_BUFFERS
        for a, value in live:
            assert np.all(a == value)


@given(layout=st.sampled_from(["plain", "heads", "packed"]), data=st.data())
def test_results_are_bit_identical_with_and_without_the_pool(layout: str, data: Any) -> None:
    """Every mask kind, causal offsets, blocks and dropout; the pooled run reuses buffers full
    of NaN, so an array the op read before writing would show."""
    case = data.draw(fused_attention_case(layout))
    out = _attention_op(*case.tensors, **case.params)
    upstream = np.random.default_rng(0).standard_normal(out.shape)
    with tg.set_buffer_pool(0):
        plain = _grads(_attention_op, case.tensors, case.params, upstream)
    with tg.set_buffer_pool(**POOL_ON):
        _grads(_attention_op, case.tensors, case.params, upstream)  # fill the pool
        _poison()
        pooled = _grads(_attention_op, case.tensors, case.params, upstream)
    for name, a, b in zip(["out", "q", "k", "v", "bias"], plain, pooled):
        assert np.array_equal(a, b), f"{layout} {name} differs with the pool"


def _mha_graph(seed: int, causal: bool) -> tuple:
    """(module, x, output, upstream) of a small self-attention forward."""
    rng = np.random.default_rng(seed)
    tg.manual_seed(seed)
    mha = nn.MultiheadAttention(8, 2)
    x = tg.Tensor(rng.standard_normal((2, 5, 8)), requires_grad=True)
    mask = np.triu(np.ones((5, 5), dtype=bool), 1) if causal else None
    out, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    return mha, x, out, rng.standard_normal(out.shape)


def _interleaved(order: list[int], retain: list[bool]) -> list[np.ndarray]:
    """Three graphs built, then run backward in `order` (twice when retained)."""
    graphs = [_mha_graph(seed, causal=seed % 2 == 0) for seed in range(3)]
    outputs = [out.data.copy() for _, _, out, _ in graphs]
    results = []
    for i in order:
        mha, x, out, upstream = graphs[i]
        out.backward(upstream, retain_graph=retain[i])
        if retain[i]:
            _poison()
            out.backward(upstream)  # the saved tensors were kept: same gradient once more
        results += [x.grad.data.copy(), mha.q_proj.weight.grad.data.copy()]
        for (_, _, held, _), before in zip(graphs, outputs):
            assert np.array_equal(held.data, before), "a held output changed"
    return results


@given(order=st.permutations([0, 1, 2]), retain=st.lists(st.booleans(), min_size=3, max_size=3))
def test_interleaved_graphs_with_retained_and_held_tensors_are_untouched(
    order: list[int], retain: list[bool]
) -> None:
    """Forward three graphs, hold their outputs and saved tensors, backward them in any order
    (some twice with retain_graph): the same bits as without a pool."""
    with tg.set_buffer_pool(0):
        plain = _interleaved(order, retain)
    with tg.set_buffer_pool(**POOL_ON):
        _interleaved(order, retain)
        _poison()
        pooled = _interleaved(order, retain)
    for a, b in zip(plain, pooled):
        assert np.array_equal(a, b)


def test_version_counter_still_catches_an_in_place_edit_after_buffers_were_reused() -> None:
    """The op's output lives in a pooled buffer and is saved for backward: editing it, or an
    input, after other graphs returned their buffers still raises."""
    rng = np.random.default_rng(0)
    with tg.set_buffer_pool(**POOL_ON):
        for edit in ("q", "v", "out"):
            for seed in range(2):  # the first graph's buffers go back and are reused
                q, k, v = (
                    tg.Tensor(rng.standard_normal((2, 4, 3)), requires_grad=True) for _ in range(3)
                )
                out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
                if seed == 0:
                    out.backward(np.ones(out.shape))
            target = {"q": q, "v": v, "out": out}[edit]
            target.data += 1.0
            with pytest.raises(RuntimeError, match="modified in place"):
                out.backward(np.ones(out.shape))


def test_threads_running_attention_at_once_get_their_own_buffers() -> None:
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((2, 6, 4)) for _ in range(3)]

    def run() -> np.ndarray:
        q, k, v = (tg.Tensor(a, requires_grad=True) for a in inputs)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        out.backward(np.ones(out.shape))
        return np.concatenate([out.data.ravel(), q.grad.data.ravel(), v.grad.data.ravel()])

    expected = run()
    failures: list[str] = []

    def worker() -> None:
        for _ in range(100):
            if not np.array_equal(run(), expected):
                failures.append("differs")

    with tg.set_buffer_pool(**POOL_ON):
        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not failures


def test_empty_cache_forgets_every_buffer_and_repeated_calls_keep_the_pool_flat() -> None:
    with tg.set_buffer_pool(**POOL_ON):
        for _ in range(3):
            _, _, out, upstream = _mha_graph(0, causal=True)
            out.backward(upstream)
        kept = _buffers.POOL.kept_bytes()
        for _ in range(5):
            _, _, out, upstream = _mha_graph(0, causal=True)
            out.backward(upstream)
        assert 0 < _buffers.POOL.kept_bytes() == kept  # steady state: nothing new is kept
        del out
        tg.empty_cache()
        assert _buffers.POOL.kept_bytes() == 0
