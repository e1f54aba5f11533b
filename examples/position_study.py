"""Which position information lets the translator handle longer sentences and new combinations?
Train the default run once per position scheme and seed; print one table, scheme x split, the
mean exact match and its min-max over the seeds; draw the cross-attention of a test_long
sentence for the best and the worst scheme.

    python examples/position_study.py                       # 5 schemes x seeds 0 1 2
    python examples/position_study.py --schemes rope sinusoidal --seeds 0 --steps 600

Every flag of train_translation.py except --pos, --seed and --out changes all runs alike
(e.g. `--random-positions 0` studies the schemes without randomized positions). Runs go to
<out>/<scheme>_s<seed> (default out: runs/position_study), `--jobs` at a time (each with
threads = cores / jobs); a run whose metrics.json exists is read, not retrained, so an
interrupted study continues where it stopped. The heatmaps (with matplotlib) are
<out>/attention_best_<scheme>.png and <out>/attention_worst_<scheme>.png.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import _translation_io as rio
import numpy as np
import train_translation as tt
from _config import CHOICES, Config, check_config
from _train_utils import ConfigError, flag_parser
from toydata import load_task
from translate import Translator

from models.positional import POSITION_SCHEMES

SPLITS = ("test_iid", "test_combo", "test_struct", "test_long", "test_unk")


def run_dir(out: Path, scheme: str, seed: int) -> Path:
    return out / f"{scheme}_s{seed}"


def train_one(cfg: Config) -> dict:
    """metrics.json of the run `cfg` (trained now unless it exists), printing only a summary."""
    metrics_file = Path(cfg.out) / rio.METRICS_FILE
    if not metrics_file.is_file():
        with open(os.devnull, "w") as quiet:
            stdout, sys.stdout = sys.stdout, quiet
            try:
                tt.train(cfg)
            finally:
                sys.stdout = stdout
    metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
    long = metrics["test_long"]["exact_match"]
    print(f"  {cfg.pos:10s} seed {cfg.seed}: test_long {long:5.1f}", flush=True)
    return metrics


def study(base: Config, schemes: list[str], seeds: list[int], out: Path, jobs: int) -> dict:
    """{scheme: [metrics of each seed]}, training the runs not yet in `out`."""
    configs = [
        replace(base, pos=s, seed=seed, out=str(run_dir(out, s, seed)))
        for s in schemes
        for seed in seeds
    ]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(train_one, configs))
    else:
        results = [train_one(cfg) for cfg in configs]
    table: dict[str, list[dict]] = {s: [] for s in schemes}
    for cfg, metrics in zip(configs, results):
        table[cfg.pos].append(metrics)
    return table


def summary_text(table: dict[str, list[dict]], seeds: list[int]) -> str:
    """Scheme x split: mean exact match [min-max] over the seeds, then wall time and memory."""
    head = f"{'scheme':12s}" + "".join(f"{s:>20s}" for s in SPLITS) + f"{'wall s':>10s}{'MB':>6s}"
    lines = [f"exact match %, mean [min-max] over seeds {', '.join(map(str, seeds))}", head]
    for scheme, runs in table.items():
        cells = []
        for split in SPLITS:
            values = [m[split]["exact_match"] for m in runs if split in m]
            cells.append(_spread(values) if values else "-")
        wall = np.mean([m["wall_seconds"] for m in runs])
        memory = max(m["peak_memory_mb"] for m in runs)
        lines.append(
            f"{scheme:12s}" + "".join(f"{c:>20s}" for c in cells) + f"{wall:10.0f}{memory:6.0f}"
        )
    return "\n".join(lines)


def _spread(values: list[float]) -> str:
    return f"{np.mean(values):.1f} [{min(values):.1f}-{max(values):.1f}]"


def by_structure_text(table: dict[str, list[dict]]) -> str:
    """test_struct per construction pair: correct / total of each seed."""
    lines = ["test_struct by construction pair (correct of each seed):"]
    for scheme, runs in table.items():
        pairs = runs[0]["test_struct"].get("by_structure", {})
        cells = []
        for pair in pairs:
            counts = [m["test_struct"]["by_structure"][pair] for m in runs]
            cells.append(f"{pair} " + " ".join(f"{ok}/{n}" for ok, n in counts))
        lines.append(f"  {scheme:12s}" + "   ".join(cells))
    return "\n".join(lines)


def draw_extremes(table: dict[str, list[dict]], base: Config, seed: int) -> list[Path]:
    """Cross-attention heatmaps of the longest test_long sentence, for the schemes with the
    best and the worst mean test_long (their seed-`seed` runs); [] without matplotlib."""
    if importlib.util.find_spec("matplotlib") is None:
        print("(heatmaps skipped: pip install matplotlib)")
        return []
    from tinygrad_attn.viz import plot_attention

    out = Path(base.out)
    ranked = sorted(table, key=lambda s: np.mean([m["test_long"]["exact_match"] for m in table[s]]))
    sentence = max(load_task(base.task, base.direction)["test_long"], key=lambda p: len(p.src))
    paths = []
    for label, scheme in (("best", ranked[-1]), ("worst", ranked[0])):
        tr = Translator(run_dir(out, scheme, seed))
        src = np.array([tr.src_vocab.encode(sentence.src)])  # (1, S)
        output = tr.translate(src, beam=1)
        layer = len(tr.model.decoder) - 1
        weights = tr.cross_attention(src, output, layer)  # (T, S)
        path = out / f"attention_{label}_{scheme}.png"
        title = f"{scheme}: cross-attention, decoder layer {layer + 1} (mean of heads)"
        plot_attention(weights, sentence.src, output + ["</s>"], path, title)
        paths.append(path)
    return paths


def parse_args(argv: list[str] | None) -> tuple[Config, argparse.Namespace]:
    """(the runs' shared Config, the study's own options)."""
    parser = flag_parser(Config, __doc__.split("\n\n")[0], CHOICES)
    parser.add_argument("--schemes", nargs="+", default=list(POSITION_SCHEMES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once (default 2)")
    parser.set_defaults(out="runs/position_study")
    args = parser.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if k in Config.__dataclass_fields__}
    for name in ("pos", "seed", "resume"):  # --out is the study's folder
        if name in given:
            parser.error(f"--{name} is set by the study for each run")
    unknown = sorted(set(args.schemes) - set(POSITION_SCHEMES))
    if unknown or args.jobs < 1:
        parser.error(f"--schemes from {POSITION_SCHEMES}, --jobs >= 1; got {unknown}")
    given.setdefault("threads", max(1, (os.cpu_count() or 1) // args.jobs))
    base = replace(Config(), **given)
    try:
        check_config(base)
    except ConfigError as err:
        parser.error(f"--{err.field.replace('_', '-')} {err.problem}")
    return base, args


def main(argv: list[str] | None = None) -> int:
    base, args = parse_args(argv)
    out = Path(base.out)
    print(f"{len(args.schemes) * len(args.seeds)} runs into {out}/ ({args.jobs} at a time)")
    table = study(base, args.schemes, args.seeds, out, args.jobs)
    print("\n" + summary_text(table, args.seeds))
    if base.task == "translation" and base.direction == "zh-en":
        print("\n" + by_structure_text(table))
    for path in draw_extremes(table, base, args.seeds[0]):
        print(f"heatmap written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
