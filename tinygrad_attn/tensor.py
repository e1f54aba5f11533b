"""`Tensor`: a numpy array plus the graph bookkeeping for reverse-mode autodiff.

No math lives here: every method validates its arguments and dispatches to a `Function` in
`tinygrad_attn/ops/`. The backward sweep itself is `tinygrad_attn.autograd.backward`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tinygrad_attn import _checks, autograd
from tinygrad_attn.autograd import higher
from tinygrad_attn.ops import activations, arithmetic, selection, unary
from tinygrad_attn.ops import matmul as mm
from tinygrad_attn.ops import movement as mv
from tinygrad_attn.ops import reduce as rd
from tinygrad_attn.ops import softmax as sm


class Tensor:
    """An n-dimensional array that records the ops applied to it when it requires grad.

    `Tensor(data, requires_grad=False, dtype=None)`: data is an ndarray (kept as is), a Python
    number or a nested list (floats become float32, ints int64). Bool, int, float and complex
    data only (object or string data is a TypeError); only real floating tensors require grad.
    """

    __slots__ = (
        "_data",
        "requires_grad",
        "grad",
        "grad_fn",
        "_version",
        "_hooks",
        "_edge",
        "__weakref__",
    )
    __array_priority__ = 1000  # ndarray (op) Tensor defers to Tensor's reflected operator

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            data = data.data
        self._data = _checks.to_array(data, dtype)
        self.requires_grad = False
        self.grad: Tensor | None = None
        self.grad_fn: autograd.Function | None = None
        self._version = autograd.VersionCounter()
        self._hooks: list[Callable] | None = None
        self._edge: autograd.Edge | None = None  # made when an op first consumes this tensor
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool) -> Tensor:
        """Fast constructor for op outputs (data is already a checked ndarray)."""
        t = cls.__new__(cls)
        t._data, t.requires_grad, t.grad, t.grad_fn = data, requires_grad, None, None
        t._version, t._hooks, t._edge = autograd.VersionCounter(), None, None
        return t

    # ----- data and metadata -------------------------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The numpy array itself. Assigning to it is allowed (an in-place change: a backward
        that saved the old values then raises instead of giving a wrong gradient)."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        """Assigning (including `t.data -= x`, which assigns the same array back) is an in-place
        change: it bumps the version, so a backward that saved the old values raises."""
        self._data = value.data if isinstance(value, Tensor) else np.asarray(value)
        self._version.value += 1

    shape = property(lambda self: self._data.shape, doc="The shape, a tuple of ints.")
    ndim = property(lambda self: self._data.ndim, doc="The number of dimensions.")
    dtype = property(lambda self: self._data.dtype, doc="The numpy dtype of the data.")
    is_leaf = property(
        lambda self: self.grad_fn is None,
        doc="True unless an op that recorded a graph made this tensor (then `grad_fn` is set).",
    )

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape as a tuple, or the size of dimension `dim` (negative counts from the end)."""
        return self.shape if dim is None else self.shape[_checks.dim(dim, self.ndim, "size")]

    def numel(self) -> int:
        """Number of elements (the product of the shape; 1 for a 0-d tensor)."""
        return self._data.size

    def dim(self) -> int:
        """Number of dimensions, the same as `.ndim`."""
        return self._data.ndim

    def numpy(self) -> np.ndarray:
        """The data as a numpy array: the tensor's own array, not a copy (no graph)."""
        return self._data

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype, copy=False)

    # Inside this class `float` names the method below, so annotations say `builtins.float`.
    def item(self) -> builtins.float | int | bool:
        """The value of a one-element tensor as a Python number; ValueError for more elements."""
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor has an item, got shape {self.shape}")
        return self._data.item()

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(f"bool: a tensor of shape {self.shape} is ambiguous; use any/all")
        return bool(self._data)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(")
        extra = "" if self.dtype == np.float32 else f", dtype={self.dtype}"
        if self.grad_fn is not None:
            extra += f", grad_fn=<{self.grad_fn.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    __hash__ = object.__hash__  # == is elementwise, so identity hashing is kept explicitly

    # ----- autograd ----------------------------------------------------------------------
    def backward(
        self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False
    ) -> None:
        """Accumulate d(self)/d(leaf) * gradient into every leaf's `.grad`.

        With create_graph=True the gradients carry history (each op's `backward_graph`), so
        they can be differentiated again; retain_graph defaults to create_graph, as PyTorch.
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn")
        if create_graph:
            retain = True if retain_graph is None else retain_graph
            higher.backward_create_graph(self, gradient, retain)
            return
        if gradient is None:
            if self._data.size != 1:
                raise RuntimeError(
                    f"backward: gradient can be implicit only for one-element outputs, got shape "
                    f"{self.shape}; pass gradient= of that shape"
                )
            grad = np.ones(self.shape, dtype=self.dtype)
        else:
            grad = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward: gradient shape {grad.shape} != tensor shape {self.shape}"
                )
            grad = grad.astype(self.dtype, copy=False)
        autograd.backward(self, grad, retain_graph=bool(retain_graph))

    def detach(self) -> Tensor:
        """The same data (shared, with the same version counter) without history."""
        t = Tensor._make(self._data, False)
        t._version = self._version
        return t

    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set `requires_grad` in place and return self (a real floating tensor only).

        Turning it on makes the tensor a leaf whose `.grad` the next `backward()` fills.
        """
        if flag and self.dtype.kind != "f":
            # complex tensors hold data but carry no gradients: no op here defines them
            raise TypeError(
                f"requires_grad: only real floating tensors can require grad, got {self.dtype}"
            )
        self.requires_grad = bool(flag)
        return self

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> autograd.HookHandle:
        """Call fn(grad) with the gradient flowing into this tensor; a returned Tensor
        replaces it. Returns a handle whose `remove()` unregisters the hook."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: the tensor does not require grad")
        if self.grad_fn is not None:
            return autograd.add_output_hook(self.grad_fn, fn)
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return autograd.HookHandle(self._hooks, fn)

    def astype(self, dtype: Any) -> Tensor:
        """This tensor converted to `dtype` (self when it already has it).

        A cast between floating types passes the gradient through (converted back); a cast to an
        int or bool type ends the graph, as results without a floating dtype never require grad.
        """
        dtype = np.dtype(dtype)
        return self if dtype == self.dtype else unary.Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        """`astype(np.float32)`."""
        return self.astype(np.float32)

    def double(self) -> Tensor:
        """`astype(np.float64)` (what `gradcheck` works in)."""
        return self.astype(np.float64)

    def long(self) -> Tensor:
        """`astype(np.int64)` (no gradient flows through an int tensor)."""
        return self.astype(np.int64)

    # ----- arithmetic --------------------------------------------------------------------
    def _operand(self, other: Any) -> Tensor:
        """Wrap a number or array; a Python number takes this tensor's floating dtype."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (bool, int, float)) and self.dtype.kind == "f":
            return Tensor._make(np.asarray(other, dtype=self.dtype), False)
        return Tensor(other)

    def __add__(self, o: Any) -> Tensor:
        return arithmetic.Add.apply(self, self._operand(o))

    def __radd__(self, o: Any) -> Tensor:
        return arithmetic.Add.apply(self._operand(o), self)

    def __sub__(self, o: Any) -> Tensor:
        return arithmetic.Sub.apply(self, self._operand(o))

    def __rsub__(self, o: Any) -> Tensor:
        return arithmetic.Sub.apply(self._operand(o), self)

    def __mul__(self, o: Any) -> Tensor:
        return arithmetic.Mul.apply(self, self._operand(o))

    def __rmul__(self, o: Any) -> Tensor:
        return arithmetic.Mul.apply(self._operand(o), self)

    def __truediv__(self, o: Any) -> Tensor:
        return arithmetic.Div.apply(self, self._operand(o))

    def __rtruediv__(self, o: Any) -> Tensor:
        return arithmetic.Div.apply(self._operand(o), self)

    def __pow__(self, o: Any) -> Tensor:
        return arithmetic.Pow.apply(self, self._operand(o))

    def __rpow__(self, o: Any) -> Tensor:
        return arithmetic.Pow.apply(self._operand(o), self)

    def __neg__(self) -> Tensor:
        return arithmetic.Neg.apply(self)

    def __matmul__(self, o: Any) -> Tensor:
        return matmul(self, self._operand(o))

    def __rmatmul__(self, o: Any) -> Tensor:
        return matmul(self._operand(o), self)

    def _compare(self, o: Any, fn: Callable) -> Tensor:
        other = o.data if isinstance(o, Tensor) else o
        return Tensor._make(np.asarray(fn(self._data, other)), False)

    def __lt__(self, o: Any) -> Tensor:
        return self._compare(o, np.less)

    def __le__(self, o: Any) -> Tensor:
        return self._compare(o, np.less_equal)

    def __gt__(self, o: Any) -> Tensor:
        return self._compare(o, np.greater)

    def __ge__(self, o: Any) -> Tensor:
        return self._compare(o, np.greater_equal)

    def __eq__(self, o: Any) -> Tensor:  # type: ignore[override]
        return self._compare(o, np.equal)

    def __ne__(self, o: Any) -> Tensor:  # type: ignore[override]
        return self._compare(o, np.not_equal)

    def __invert__(self) -> Tensor:
        if self.dtype != np.bool_:
            raise TypeError(f"~: only boolean tensors can be inverted, got {self.dtype}")
        return Tensor._make(~self._data, False)

    # ----- elementwise -------------------------------------------------------------------
    def _promoted(self) -> Tensor:
        """Int and bool tensors as float32 for exp/log/sqrt/tanh/sigmoid, as PyTorch does."""
        return self if self.dtype.kind in "fc" else self.astype(np.float32)

    def exp(self) -> Tensor:
        """e ** x, elementwise (int and bool input as float32).  backward: dx = g * exp(x)."""
        return unary.Exp.apply(self._promoted())

    def log(self) -> Tensor:
        """Natural log, elementwise (int and bool as float32).  backward: dx = g / x."""
        return unary.Log.apply(self._promoted())

    def sqrt(self) -> Tensor:
        """Square root, elementwise (int and bool as float32).  backward: dx = g / (2 sqrt(x))."""
        return unary.Sqrt.apply(self._promoted())

    def tanh(self) -> Tensor:
        """tanh(x), elementwise (int and bool as float32).  backward: dx = g * (1 - tanh(x)**2)."""
        return activations.Tanh.apply(self._promoted())

    def sigmoid(self) -> Tensor:
        """1 / (1 + exp(-x)), elementwise (int and bool as float32).  backward: dx = g s (1 - s)."""
        return activations.Sigmoid.apply(self._promoted())

    def relu(self) -> Tensor:
        """max(x, 0), elementwise.  backward: dx = g where x > 0, else 0 (0 at x == 0)."""
        return activations.Relu.apply(self)

    def gelu(self, approximate: str = "none") -> Tensor:
        """GELU, x * Phi(x) with Phi the standard normal CDF (`approximate="tanh"`: the tanh
        approximation), as `torch.nn.functional.gelu`.  Shapes: any -> same.
        """
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        _checks.floating(self, "gelu")
        return activations.Gelu.apply(self, approximate=approximate)

    def abs(self) -> Tensor:
        """|x|, elementwise.  backward: dx = g * sign(x) (0 at x == 0, as PyTorch)."""
        return unary.Abs.apply(self)

    def clip(self, min: builtins.float | None = None, max: builtins.float | None = None) -> Tensor:
        """Values limited to [min, max] (either bound may be None, not both); `clamp` too.

        backward: dx = g where min <= x <= max, else 0 (the bounds themselves pass the gradient, as
        `torch.clamp`).
        """
        if min is None and max is None:
            raise ValueError("clip: give at least one of min and max")
        return selection.Clip.apply(self, min=min, max=max)

    clamp = clip

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        """x with `value` wherever the boolean `mask` (broadcast to x's shape) is True."""
        mask_arr = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
        if mask_arr.dtype != np.bool_:
            raise TypeError(f"masked_fill: mask must be boolean, got {mask_arr.dtype}")
        if _checks.broadcast_shape(self.shape, mask_arr.shape, "masked_fill") != self.shape:
            raise ValueError(
                f"masked_fill: mask of shape {mask_arr.shape} does not broadcast to {self.shape}"
            )
        return selection.MaskedFill.apply(self, mask=mask_arr, value=value)

    # ----- reductions --------------------------------------------------------------------
    def sum(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Sum over `dim` (an int, a tuple of ints, or None for every axis).

        Shapes: (...) -> the shape without the reduced dims (kept as size 1 with keepdim=True).
        backward: g broadcast back over the reduced dims.
        """
        return rd.Sum.apply(self, dim=_checks.dims(dim, self.ndim, "sum"), keepdim=keepdim)

    def mean(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Mean over `dim` (an int, a tuple of ints, or None); floating tensors only.

        Computed as sum / count, so its gradient is the sum's divided by the count.
        """
        _checks.floating(self, "mean")
        axes = _checks.dims(dim, self.ndim, "mean")
        count = self._data.size if axes is None else int(np.prod([self.shape[d] for d in axes]))
        # the mean of nothing is nan, as in PyTorch
        return self.sum(axes, keepdim) * (1.0 / count if count else float("nan"))

    def max(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Largest value over `dim` (int, tuple or None), values only, as `torch.amax`.

        Ties share the gradient equally: with k equal maxima each gets g / k (PyTorch's amax
        rule). For the positions use `argmax`.
        """
        return rd.Max.apply(self, dim=_checks.dims(dim, self.ndim, "max"), keepdim=keepdim)

    def min(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Smallest value over `dim` (int, tuple or None), values only, as `torch.amin`.

        Ties share the gradient equally: with k equal minima each gets g / k.
        """
        return rd.Min.apply(self, dim=_checks.dims(dim, self.ndim, "min"), keepdim=keepdim)

    def var(self, dim: Any = None, keepdim: bool = False, unbiased: bool = True) -> Tensor:
        """Variance over `dim` (int, tuple or None); floating tensors only.

        unbiased=True (the default, as PyTorch) divides by n - 1, unbiased=False by n.
        backward: dx = g * 2 (x - mean) / (n - 1) (or / n).
        """
        _checks.floating(self, "var")
        axes = _checks.dims(dim, self.ndim, "var")
        return rd.Var.apply(self, dim=axes, keepdim=keepdim, correction=int(unbiased))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the largest value (over all elements when dim is None); int64, no grad."""
        return self._arg(np.argmax, dim, keepdim, "argmax")

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the smallest value (over all elements when dim is None); int64, no grad."""
        return self._arg(np.argmin, dim, keepdim, "argmin")

    def _arg(self, fn: Callable, dim: int | None, keepdim: bool, op: str) -> Tensor:
        axis = None if dim is None else _checks.dim(dim, self.ndim, op)
        if self._data.size == 0 and (axis is None or self.shape[axis] == 0):
            raise IndexError(f"{op}: cannot reduce over an empty dim of shape {self.shape}")
        return Tensor._make(np.asarray(fn(self._data, axis=axis, keepdims=keepdim)), False)

    # ----- shape -------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        """The same elements in a new shape, given as ints or one tuple; one entry may be -1.

        Also `view` (there are no strided views here, so the two are the same).
        backward: the gradient reshaped back.
        """
        return mv.Reshape.apply(self, shape=_checks.shape(shape, "reshape"))

    view = reshape

    def permute(self, *dims: Any) -> Tensor:
        """The axes reordered: output axis i is input axis dims[i].  backward: the inverse
        permutation.
        """
        order = tuple(_checks.dim(d, self.ndim, "permute") for d in _checks.shape(dims, "permute"))
        if sorted(order) != list(range(self.ndim)):
            raise ValueError(f"permute: {dims} is not a permutation of {self.ndim} dims")
        return mv.Permute.apply(self, dims=order)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two axes (any two, negative allowed); a 0-d or 1-d tensor comes back as is."""
        order = list(range(self.ndim))
        a, b = _checks.dim(dim0, self.ndim, "transpose"), _checks.dim(dim1, self.ndim, "transpose")
        if order:  # a 0-d tensor has no axes to swap (dims 0 and -1 both mean "it")
            order[a], order[b] = order[b], order[a]
        return mv.Permute.apply(self, dims=tuple(order))

    @property
    def T(self) -> Tensor:  # noqa: N802 (PyTorch's name)
        """All axes reversed, as numpy's `.T` (the transpose for 2-D; unchanged below 2-D)."""
        return (
            self
            if self.ndim < 2
            else mv.Permute.apply(self, dims=tuple(reversed(range(self.ndim))))
        )

    def unsqueeze(self, dim: int) -> Tensor:
        """A new axis of size 1 at `dim` (-1: last).  Shapes: (A, B), dim=1 -> (A, 1, B)."""
        return mv.Unsqueeze.apply(self, dim=_checks.dim(dim, self.ndim + 1, "unsqueeze"))

    def squeeze(self, dim: int | None = None) -> Tensor:
        """Drop size-1 axes: all of them (dim=None) or just `dim`.

        As PyTorch, squeezing a dim whose size is not 1 returns the tensor's values unchanged
        rather than raising.
        """
        if dim is None:
            dims = tuple(i for i, s in enumerate(self.shape) if s == 1)
        else:
            d = _checks.dim(dim, self.ndim, "squeeze")
            dims = (d,) if self.ndim and self.shape[d] == 1 else ()
        return mv.Squeeze.apply(self, dims=dims)

    def expand(self, *shape: Any) -> Tensor:
        """Broadcast size-1 axes (and new leading ones) to `shape`; -1 keeps a size.

        Shapes: (3, 1) -> expand(2, 3, 4) -> (2, 3, 4). backward: the gradient summed back over the
        expanded axes (the adjoint of broadcasting is summation).
        """
        target = _checks.shape(shape, "expand")
        offset = len(target) - self.ndim
        if offset < 0:
            raise ValueError(f"expand: cannot expand shape {self.shape} to fewer dims {target}")
        full = tuple(
            self.shape[i - offset] if s == -1 and i >= offset else s for i, s in enumerate(target)
        )
        if _checks.broadcast_shape(self.shape, full, "expand") != full:
            raise ValueError(f"expand: shape {self.shape} cannot be expanded to {target}")
        return mv.Expand.apply(self, shape=full)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dims start_dim..end_dim (inclusive) into one.  Shapes: (B, T, E) ->
        flatten(1) -> (B, T * E); a 0-d tensor becomes (1,).
        """
        if self.ndim == 0:
            return self.reshape(1)
        start = _checks.dim(start_dim, self.ndim, "flatten")
        end = _checks.dim(end_dim, self.ndim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        merged = int(np.prod(self.shape[start : end + 1]))
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1 :])

    def __getitem__(self, key: Any) -> Tensor:
        index = _checks.index(key, Tensor)
        try:
            return mv.GetItem.apply(self, index=index)
        except IndexError as err:
            raise IndexError(f"index: {err} (tensor of shape {self.shape})") from None

    # ----- softmax -----------------------------------------------------------------------
    def softmax(self, dim: int) -> Tensor:
        """exp(x) / sum(exp(x)) along `dim`, one graph node (see `functional.softmax`)."""
        _checks.floating(self, "softmax")
        return sm.Softmax.apply(self, dim=_checks.dim(dim, self.ndim, "softmax"))

    def log_softmax(self, dim: int) -> Tensor:
        """log(softmax(x)) along `dim`, computed stably, one node (see `functional.log_softmax`)."""
        _checks.floating(self, "log_softmax")
        return sm.LogSoftmax.apply(self, dim=_checks.dim(dim, self.ndim, "log_softmax"))


# The engine wraps op outputs in this class; it cannot import this module (that would be a
# cycle, since this module needs autograd.Function), so the class is handed to it here.
autograd.register_tensor_class(Tensor)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    """a @ b with numpy's matmul rules.  Shapes: (..., N, K) @ (..., K, M) -> (..., N, M).

    dtypes (PyTorch's rules): float @ float (float32 @ float64 promotes to float64, as numpy);
    int @ int gives an int tensor without grad; int @ float, bool @ bool and complex operands
    are a TypeError naming both dtypes (cast first with `.float()`).
    """
    _matmul_dtypes(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dim, got {a.shape} @ {b.shape}")
    k_a, k_b = a.shape[-1], b.shape[-2 if b.ndim > 1 else 0]
    if k_a != k_b:
        raise ValueError(f"matmul: {a.shape} @ {b.shape}, inner dims {k_a} != {k_b}")
    if a.ndim > 2 and b.ndim > 2:
        _checks.broadcast_shape(a.shape[:-2], b.shape[:-2], "matmul (batch dims)")
    return mm.MatMul.apply(a, b)


def _matmul_dtypes(a: Tensor, b: Tensor) -> None:
    kinds = a.dtype.kind + b.dtype.kind
    if kinds in ("ff", "ii", "iu", "ui", "uu"):
        return
    if kinds == "bb":
        problem = "booleans cannot be multiplied (nor in PyTorch); cast with .float() or .long()"
    elif set(kinds) <= set("iuf"):
        problem = "an int operand with a float one; cast with .float() or .double() first"
    else:
        problem = "only int and floating tensors can be multiplied"
    raise TypeError(f"matmul: {a.dtype} @ {b.dtype}: {problem}")
