"""Record per-layer gradient norms over training steps: the "gradient flow" learners plot.

flow = GradientFlow(model)            # or group_by="module" / "layer" ("encoder.0", "out_proj")
for step in ...:
    loss.backward()
    flow.record(step)                 # after backward, before optimizer.zero_grad()
flow.table()                          # text summary; tinygrad_attn.viz.plot_gradient_flow(flow)
"""

from __future__ import annotations

from typing import Any

import numpy as np


class GradientFlow:
    """Collects the L2 norm of each parameter's gradient (or of each module's, summed in
    quadrature; or of each layer: the name up to its first index, "encoder.0.ff.linear1.weight"
    -> "encoder.0", "out_proj.weight" -> "out_proj") every time `record` is called.
    `history[name]` is a list of floats aligned with `steps`; a parameter without a gradient at
    that step records 0.0."""

    def __init__(self, model: Any, group_by: str = "parameter") -> None:
        if group_by not in ("parameter", "module", "layer"):
            raise ValueError(
                f"GradientFlow: group_by must be 'parameter', 'module' or 'layer', got {group_by!r}"
            )
        self.model, self.group_by = model, group_by
        self.steps: list[int] = []
        self.history: dict[str, list[float]] = {}

    def _group(self, name: str) -> str:
        if self.group_by == "layer":
            parts = name.split(".")
            index = next((i for i, part in enumerate(parts) if part.isdigit()), None)
            return ".".join(parts[: index + 1]) if index is not None else parts[0]
        return name.rsplit(".", 1)[0] if self.group_by == "module" and "." in name else name

    def record(self, step: int | None = None) -> dict[str, float]:
        """Store the current gradient norms; returns them ({name: norm}) for this step."""
        squares: dict[str, float] = {}
        for name, p in self.model.named_parameters():
            g = 0.0 if p.grad is None else float(np.sum(np.square(p.grad.data, dtype=np.float64)))
            key = self._group(name)
            squares[key] = squares.get(key, 0.0) + g
        norms = {k: float(np.sqrt(v)) for k, v in squares.items()}
        self.steps.append(len(self.steps) if step is None else int(step))
        for key, value in norms.items():
            # A group first seen now (a parameter added mid-training) had no gradient before.
            self.history.setdefault(key, [0.0] * (len(self.steps) - 1)).append(value)
        for key, values in self.history.items():
            if key not in norms:  # a group that is gone (parameter removed) records 0.0
                values.append(0.0)
        return norms

    def table(self, last: int = 1) -> str:
        """Mean gradient norm of each group over the last `last` recorded steps, one per line."""
        if not self.steps:
            return "(no steps recorded)"
        width = max(len(k) for k in self.history)
        rows = [f"{'name':<{width}}  grad norm"]
        for key, values in self.history.items():
            rows.append(f"{key:<{width}}  {np.mean(values[-last:]):.3e}")
        return "\n".join(rows)
