"""The test suite. Every test directory is a package, so a test module imports shared helpers
the same way from anywhere: `from tests.ops.registry import REGISTRY`."""
