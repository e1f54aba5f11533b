"""The command line: `python -m tinygrad_attn.learn [start|check|hint|train] [NAME] [--dir D]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from tinygrad_attn.learn import exercises, stubs
from tinygrad_attn.learn.progress import Progress

_CMD = "python -m tinygrad_attn.learn"


def _guide() -> str:
    """Where docs/learn.md is: its path in a clone, else its place in the repository."""
    path = Path(__file__).resolve().parents[2] / "docs" / "learn.md"
    return str(path) if path.is_file() else "docs/learn.md in the tinygrad_attn repository"


def _list(directory: Path, progress: Progress) -> int:
    """The exercises in order, each marked done / started / not started, and what to do next."""
    print(f"Write the backward of each op yourself; your files live in {directory}/")
    todo = None
    for i, ex in enumerate(exercises.EXERCISES, 1):
        if ex.name in progress.completed:
            mark = "done"
        elif (directory / f"{ex.name}.py").is_file():
            mark = "started"
        else:
            mark = "-"
        if todo is None and mark != "done":
            todo = ex.name
        print(f"  {i:>2}. [{mark:^7}] {ex.name:<14} {ex.teaches}")
    done = len(progress.completed)
    print(f"{done} of {len(exercises.EXERCISES)} done.", end=" ")
    if todo is None:
        print(f"All done: `{_CMD} train` trains a translation model with your ops.")
    else:
        print(
            f"Next: {_CMD} start {todo}   (then edit, then: {_CMD} check {todo}; any order works)"
        )
        print(f"Any time: {_CMD} train  (trains a small translator with the ops you completed)")
    print(f"Guide: {_guide()}")
    return 0


def _start(ex: exercises.Exercise, directory: Path, force: bool) -> int:
    path = directory / f"{ex.name}.py"
    if path.exists() and not force:
        print(f"{path} exists already (your work): edit it, or pass --force to start over")
        return 1
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(stubs.render(ex), encoding="utf-8")
    print(f"wrote {path}: {ex.class_name}.forward is the library's, backward is yours.")
    print(f"Read its docstring (what to derive), write backward, then: {_CMD} check {ex.name}")
    return 0


def _check(ex: exercises.Exercise, directory: Path, progress: Progress, examples: int) -> int:
    from tinygrad_attn.learn.grader import grade

    try:
        from hypothesis.configuration import set_hypothesis_home_dir

        # hypothesis caches what it reads under .hypothesis/: in --dir, not the learner's cwd;
        # None afterwards is its default again (HYPOTHESIS_STORAGE_DIRECTORY, else ./.hypothesis)
        set_hypothesis_home_dir(directory / ".hypothesis")
        try:
            report = grade(ex, directory / f"{ex.name}.py", examples)
        finally:
            set_hypothesis_home_dir(None)
    except ImportError as err:  # hypothesis missing: say which extra to install
        print(f"check {ex.name}: {err}")
        return 1
    print("\n".join(report.lines))
    progress.mark(ex.name, report.passed)
    progress.save()
    if report.passed:
        following = exercises.EXERCISES.index(ex) + 1
        if following < len(exercises.EXERCISES):
            print(f"Next: {_CMD} start {exercises.EXERCISES[following].name}, or {_CMD} train")
        else:
            print(f"That was the last one: {_CMD} train")
    return 0 if report.passed else 1


def _hint(ex: exercises.Exercise, progress: Progress) -> int:
    shown = progress.hints.get(ex.name, 0)
    if shown >= len(ex.hints):
        answer = f"{ex.op.__module__}.{ex.class_name}.backward"
        print(f"no more hints for {ex.name} ({len(ex.hints)} given). The library's answer is "
              f"{answer}, when you want to compare.")  # fmt: skip
        return 0
    number = progress.next_hint(ex.name)
    progress.save()
    print(f"hint {number} of {len(ex.hints)} for {ex.name}: {ex.hints[number - 1]}")
    return 0


def _train(directory: Path, progress: Progress, tried: list[str], steps: int) -> int:
    from tinygrad_attn.learn.grader import LearnerFileError, load_class
    from tinygrad_attn.learn.train import train

    chosen = [ex for ex in exercises.EXERCISES if ex.name in progress.completed or ex.name in tried]
    try:
        classes = [load_class(ex, directory / f"{ex.name}.py") for ex in chosen]
    except LearnerFileError as err:
        print(f"learn train: {err}")
        return 1
    names = ", ".join(ex.name for ex in chosen) or "none"
    print(f"your ops in this run: {names}")
    train(chosen, classes, steps=steps)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it; returns the exit code."""
    parser = argparse.ArgumentParser(prog=_CMD, description="Write backwards yourself, get them "
                                     "graded, then train a transformer with them.")  # fmt: skip
    parser.add_argument("command", nargs="?", choices=["start", "check", "hint", "train"])
    parser.add_argument("name", nargs="?", help="an exercise: " + ", ".join(exercises.BY_NAME))
    parser.add_argument("--dir", type=Path, default=Path("my_ops"), help="your files (my_ops)")
    parser.add_argument("--force", action="store_true", help="start: overwrite your file")
    parser.add_argument("--max-examples", type=int, default=25, help="check: hypothesis draws")
    parser.add_argument("--steps", type=int, default=120, help="train: Adam steps")
    parser.add_argument(
        "--try",
        dest="tried",
        action="append",
        default=[],
        metavar="NAME",
        help="train: use this exercise's file even if check has not passed it",
    )
    args = parser.parse_args(argv)
    for name in args.tried:
        if name not in exercises.BY_NAME:
            parser.error(f"--try {name}: no such exercise; one of {', '.join(exercises.BY_NAME)}")
    progress = Progress(args.dir)
    if args.command is None:
        return _list(args.dir, progress)
    if args.command == "train":
        return _train(args.dir, progress, args.tried, args.steps)
    if args.name is None:
        parser.error(f"{args.command} needs an exercise name: {', '.join(exercises.BY_NAME)}")
    try:
        ex = exercises.get(args.name)
    except KeyError as err:
        parser.error(str(err.args[0]))
    if args.command == "start":
        return _start(ex, args.dir, args.force)
    if args.command == "check":
        return _check(ex, args.dir, progress, args.max_examples)
    return _hint(ex, progress)
