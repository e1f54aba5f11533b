"""The learner's progress, a small JSON file in --dir: exercises completed and hints given."""

from __future__ import annotations

import json
from pathlib import Path

FILE = "progress.json"


class Progress:
    """`completed` (names that passed `check` last time) and `hints` (name -> hints shown)."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / FILE
        data = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"{self.path}: not valid JSON ({err}); delete it to start over"
                ) from err
        self.completed: list[str] = list(data.get("completed", []))
        self.hints: dict[str, int] = dict(data.get("hints", {}))

    def mark(self, name: str, passed: bool) -> None:
        """Record the result of `check name`."""
        if passed and name not in self.completed:
            self.completed.append(name)
        elif not passed and name in self.completed:
            self.completed.remove(name)

    def next_hint(self, name: str) -> int:
        """How many hints of `name` were shown, counting the one being shown now."""
        self.hints[name] = self.hints.get(name, 0) + 1
        return self.hints[name]

    def save(self) -> None:
        """Write the file (creating --dir if needed)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"completed": self.completed, "hints": self.hints}
        self.path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
