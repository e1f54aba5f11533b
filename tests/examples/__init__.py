"""Example tests: the translation script, its toy data, translate.py and the walkthroughs."""
