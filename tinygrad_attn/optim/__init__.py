"""Optimizers and learning-rate schedules, with PyTorch's names, update rules and defaults.

from tinygrad_attn import optim
opt = optim.AdamW(model.parameters(), lr=3e-4)
sched = optim.lr_scheduler.WarmupInverseSqrtLR(opt, warmup_steps=400)
"""

from tinygrad_attn.optim import lr_scheduler
from tinygrad_attn.optim.adam import Adam, AdamW
from tinygrad_attn.optim.optimizer import Optimizer
from tinygrad_attn.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "lr_scheduler"]
