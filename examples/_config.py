"""The settings of examples/train_translation.py (`Config`, one flag per field), their checks,
and reading a saved run's config.json (old runs and --resume): what the recipe can skip.

    parse_config(argv)   flags -> a checked Config (with --resume: the saved one, see RESUMABLE)
    load_config(path)    a run's config.json -> a checked Config (fields it lacks: BEFORE_THE_FIELD)
    check_config(cfg)    ConfigError naming the first field a run cannot use
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import _run_dir
import _translation_io as rio
from _train_utils import ConfigError, check_flags_used, check_types, flag_parser

from models.positional import POSITION_SCHEMES


@dataclass
class Config:
    """Every setting of a run; each field is also a flag (`d_model` -> `--d-model`)."""

    task: str = "translation"  # translation | reversal | dates (toydata.load_task)
    direction: str = "zh-en"  # zh-en | en-zh (source and target swapped)
    d_model: int = 128  # E: embedding and residual width
    nhead: int = 4  # H: attention heads (head dim D = E / H = 32)
    num_encoder_layers: int = 2  # N, the number of encoder layers
    num_decoder_layers: int = 2  # and decoder side
    dim_feedforward: int = 512  # F: hidden width of the position-wise feed-forward blocks
    dropout: float = 0.0  # 0.1 measured no steadier over seeds (docs/experiments.md)
    norm_first: bool = False  # pre-norm x + f(norm(x)) instead of the paper's norm(x + f(x))
    pos: str = "rope"  # position information: sinusoidal | learned | rope | alibi | t5
    src_bos: bool = True  # a start token before every source in the encoder (an anchor)
    max_len: int = 64  # longest sequence the model accepts (test_long goes to 32 with BOS)
    steps: int = 2000  # optimizer updates
    batch_size: int = 64  # sentence pairs per update, bucketed by length
    lr: float = 2e-3  # peak learning rate of Adam, reached after `warmup` updates
    warmup: int = 200  # linear warmup updates, then a cosine decay to lr * min_lr_ratio
    min_lr_ratio: float = 0.02  # the cosine ends at this fraction of the peak lr
    random_positions: int = 0  # > 0: train on sorted random positions < this (Ruoss et al. 2023)
    compound_pairs: int = 20000  # extra training pairs "A ， B 。" (train_compound.tsv, <= 20000)
    neg_comparative_pairs: int = 6000  # extra "X 不 比 Y ADJ 。" (train_neg_comparative, <= 10k)
    everyday_pairs: int = 4000  # extra everyday sentences: 你好, 我 爱 你 (train_everyday, <= 6k)
    unpunctuated_rate: float = 0.05  # a source's final 。/？ dropped (target kept): optional 。
    question_consistency: float = 3.0  # weight of the consistency loss (_consistency.py)
    consistency_pairs: int = 16  # consistency pairs run beside each update's batch
    place_pairs: int = 4  # of those, statements with a place beside the same without it
    label_smoothing: float = 0.1  # 10% of each target's mass spread: the loss bottoms out ~0.9
    unk_rate: float = 0.1  # a name/city/number/noun slot -> <unk> on both sides (copied at test)
    clip: float = 1.0  # max global gradient norm
    seed: int = 0  # model init, dropout and batch order
    out: str = "runs/zh_en"  # run directory: checkpoints, vocab, config, metrics
    eval_every: int = 400  # greedy-decode the valid subset, keep the best model
    eval_size: int = 500  # valid sentences used by those evaluations
    log_every: int = 100  # one log line per this many updates when tqdm is not shown
    samples: int = 5  # sample translations printed at the end
    threads: int = 0  # BLAS threads via threadpoolctl; 0 leaves numpy's default
    resume: bool = False  # continue the run saved in `out` (its config; see RESUMABLE)


# What a run saved before a field existed did: its config.json lacks the field, and the
# field's default has since changed (or the old behaviour was "off").
BEFORE_THE_FIELD = {
    "pos": "sinusoidal",
    "src_bos": False,
    "compound_pairs": 0,
    "neg_comparative_pairs": 0,
    "random_positions": 0,
    "unk_rate": 0.0,
    "question_consistency": 0.0,
    "place_pairs": 0,
    "everyday_pairs": 0,
    "unpunctuated_rate": 0.0,
}
RESUMABLE = ("steps", "eval_every", "eval_size", "log_every", "samples", "threads")
NONNEGATIVE = (  # fields that must be >= 0
    "warmup samples seed threads random_positions compound_pairs neg_comparative_pairs place_pairs"
    " everyday_pairs"
).split()
POSITIVE = (  # fields that must be >= 1
    "steps batch_size eval_every eval_size log_every d_model nhead max_len dim_feedforward "
    "num_encoder_layers num_decoder_layers consistency_pairs"
).split()
AT_MOST = {  # bounds that keep a mistyped size from allocating the machine's memory
    "max_len": 4096,
    "d_model": 2048,
    "dim_feedforward": 8192,
    "num_encoder_layers": 24,
    "num_decoder_layers": 24,
    "batch_size": 4096,
}
CHOICES = {
    "task": ("translation", "reversal", "dates"),
    "direction": ("zh-en", "en-zh"),
    "pos": POSITION_SCHEMES,
}


def check_config(cfg: Config) -> None:
    """ConfigError naming the first field that a run cannot use (wrong type or value)."""
    check_types(cfg)
    rules = [(name, getattr(cfg, name) >= 1, ">= 1") for name in POSITIVE]
    rules += [(name, getattr(cfg, name) >= 0, ">= 0") for name in NONNEGATIVE]
    rules += [(name, getattr(cfg, name) <= most, f"<= {most}") for name, most in AT_MOST.items()]
    rules += [
        (name, getattr(cfg, name) in choices, f"one of {choices}")
        for name, choices in CHOICES.items()
    ]
    rules += [
        ("dropout", 0 <= cfg.dropout < 1, "in [0, 1)"),
        ("label_smoothing", 0 <= cfg.label_smoothing <= 1, "in [0, 1]"),
        ("unk_rate", 0 <= cfg.unk_rate < 1, "in [0, 1)"),
        ("unpunctuated_rate", 0 <= cfg.unpunctuated_rate <= 1, "in [0, 1]"),
        ("min_lr_ratio", 0 <= cfg.min_lr_ratio <= 1, "in [0, 1]"),
        ("lr", cfg.lr > 0, "> 0"),
        ("clip", cfg.clip > 0, "> 0"),
        ("question_consistency", cfg.question_consistency >= 0, ">= 0"),
        (
            "place_pairs",
            cfg.place_pairs <= cfg.consistency_pairs,
            f"<= consistency_pairs {cfg.consistency_pairs}",
        ),
        (
            "nhead",
            cfg.nhead >= 1 and cfg.d_model % cfg.nhead == 0,
            f"a divisor of d_model {cfg.d_model}",
        ),
        (
            "nhead",
            cfg.pos != "rope" or cfg.nhead < 1 or cfg.d_model // cfg.nhead % 2 == 0,
            f"such that d_model {cfg.d_model} / nhead is even (rotary positions rotate pairs)",
        ),
        ("random_positions", cfg.random_positions < cfg.max_len, f"< max_len {cfg.max_len}"),
    ]
    for name, ok, rule in rules:
        if not ok:
            raise ConfigError(name, f"must be {rule}, got {getattr(cfg, name)!r}")


def load_config(path: Path) -> Config:
    """The Config saved in a run's config.json, checked; or a RunFileError naming the file."""
    cfg = rio.read_dataclass(path, Config, BEFORE_THE_FIELD)
    try:
        check_config(cfg)
    except ConfigError as err:
        raise rio.RunFileError(f"{path}: {err}") from None
    return cfg


def parse_config(argv: list[str] | None = None, description: str | None = None) -> Config:
    """Command-line flags generated from the Config fields (`--d-model 128`, `--resume`), with
    `description` atop --help. A bad value exits 2 with one line naming the flag.

    With --resume the config saved in --out is used; only the RESUMABLE fields may be changed.
    """
    parser = flag_parser(Config, description, CHOICES)
    given = vars(parser.parse_args(argv))
    try:
        check_config(replace(Config(), **given))  # the flags given, the defaults for the rest
    except ConfigError as err:
        parser.exit(2, f"error: --{err.field.replace('_', '-')} {err.problem}\n")  # one line
    if not given.get("resume"):
        cfg = replace(Config(), **given)
        check_flags_used(given, cfg)
        return cfg
    out = given.get("out", Config.out)
    if Path(out).is_dir():
        _run_dir.remove_orphan_temps(Path(out))  # an interrupted first run's, before config.json
    saved = load_config(Path(out) / rio.CONFIG_FILE)
    free = RESUMABLE + ("out", "resume")
    clash = [k for k, v in given.items() if k not in free and getattr(saved, k) != v]
    if clash:
        parser.exit(2, f"error: --resume keeps the saved config; cannot change {sorted(clash)}\n")
    kept = {k: v for k, v in given.items() if k in RESUMABLE}
    cfg = replace(saved, **kept, out=out, resume=True)
    check_flags_used(given, cfg)
    return cfg
