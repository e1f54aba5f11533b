"""Optimizer and learning-rate scheduler tests: update rules against numpy and torch, resume."""
