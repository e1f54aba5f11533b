"""Train the transformer of docs/self_attention.md to translate toy Chinese into English
(机器学习 -> machine learning); report exact match, token accuracy, BLEU and attention alignment
per test split.

    python examples/train_translation.py                       # the default run, writes runs/zh_en
    python examples/train_translation.py --task reversal --steps 1200 --out runs/reversal
    python examples/train_translation.py --out runs/zh_en --resume      # after Ctrl-C
    python examples/translate.py "我昨天在图书馆看了三本书。"             # use the trained model

The recipe, in reading order: the data, the model and its optimizer, the training loop, the
report. The default run trains 1.05M parameters (d_model 128, 4 heads, 2+2 layers, FFN 512,
rotary positions, a start token before each source) with 2000 Adam updates of 64 sentence pairs,
and turns on the generalization extras of _generalization.py, called where the code says
[extras]: more training data, <unk> slots, sources without their final 。/？ and the consistency
term of _consistency.py. Every setting is a field of Config and a flag (`d_model` ->
`--d-model`); _config.py holds them with their checks and the reading of saved runs. The default
run's results, seed by seed and with the command, are in docs/translation.md.

The data is the project's own bilingual grammar (examples/toydata): 20k training pairs (plus the
extras' two-clause, negated comparative and everyday ones) and test splits of unseen sentences
(test_iid), unseen word combinations (test_combo), unseen combinations of constructions
(test_struct), sentences longer than any in training (test_long), unknown words to copy
(test_unk) and everyday sentences (test_everyday). The run directory holds model.npz (best
weights by valid exact match), vocab.json, config.json, train_state.npz (to resume),
metrics.json (split -> metric -> value, wall time, peak memory, per-layer gradient norms) and
the pages explorer.html and backprop.html.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from dataclasses import asdict

import _explorer
import _run_dir
import _translation_eval as ev
import _translation_io as rio
import numpy as np
from _config import RESUMABLE, Config, parse_config
from _generalization import Generalization
from _train_utils import (
    ConfigError,
    Progress,
    check_against_data,
    interrupt_once,
    peak_memory_mb,
    thread_limit,
)
from toydata import BOS, PAD, Pair, Vocab, batches, load_task

import models
import tinygrad_attn as tg
import tinygrad_attn.functional as F  # noqa: N812 (PyTorch convention)
from models import Transformer
from tinygrad_attn import optim
from tinygrad_attn.nn.utils import clip_grad_norm_

WALK_ZH = ["机器", "学习"]  # docs/self_attention.md's decoding walk: BOS machine learning EOS
WALK_EN = ["machine", "learning"]
POOL = 50  # batches per length bucket: sort POOL * batch_size random pairs by length, cut
MODEL_FIELDS = [  # the Config fields that are models.TransformerConfig fields too
    f.name for f in dataclasses.fields(models.TransformerConfig) if hasattr(Config, f.name)
]


def build_model(cfg: Config, src_vocab_size: int, tgt_vocab_size: int) -> Transformer:
    """The encoder-decoder transformer, sized by `cfg`.  Shapes: (B, S), (B, T) -> (B, T, V)."""
    sizes = {name: getattr(cfg, name) for name in MODEL_FIELDS}
    sizes["src_bos"] = BOS if cfg.src_bos else None  # the run's on/off -> the start token's id
    config = models.TransformerConfig(src_vocab_size, tgt_vocab_size, pad_id=PAD, **sizes)
    return Transformer(config)


def languages(cfg: Config) -> tuple[str, str]:
    """(source, target) language codes for display: "zh", "en" or "" (token lists)."""
    if cfg.task != "translation":
        return "", ""
    return ("zh", "en") if cfg.direction == "zh-en" else ("en", "zh")


def epoch_batches(
    pairs: list[Pair],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    cfg: Config,
    epoch: int,
    extras: Generalization | None = None,
):
    """The batches of one epoch, a function of (seed, epoch) only, so a resumed run sees the same.

    Pairs are shuffled, sorted by length within pools of POOL batches (little padding), cut into
    batches, and the batches shuffled. Shapes: each item src (B, S), tgt_in (B, T), tgt_out (B, T).
    """
    rng = np.random.default_rng([cfg.seed, epoch])
    if extras is not None:  # [extras] <unk> slots, sources without their final 。/？
        pairs = extras.transform(pairs, epoch)
    order = rng.permutation(len(pairs))
    pool = POOL * cfg.batch_size
    bucketed = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(pairs[i].src))
        bucketed += [pairs[i] for i in chunk]
    all_batches = list(batches(bucketed, src_vocab, tgt_vocab, cfg.batch_size))
    return [all_batches[i] for i in rng.permutation(len(all_batches))]


def train_step(
    model: Transformer,
    opt: optim.Optimizer,
    batch: tuple,
    cfg: Config,
    step: int = 0,
    extras: Generalization | None = None,
) -> dict[str, float]:
    """Forward, label-smoothed cross-entropy over non-pad targets (plus, with `extras`, its
    weighted extra loss), backward, clip, update.

    Returns {"loss": cross-entropy} and, with an extra loss, its unweighted term by name."""
    src, tgt_in, tgt_out = batch
    positions = {}
    if extras is not None:  # [extras] random positions (None each when off)
        positions = extras.positions(step, src.shape[1], tgt_in.shape[1])
    logits = model(src, tgt_in, **positions)  # (B, T, V)
    loss = F.cross_entropy(logits, tgt_out, ignore_index=PAD, label_smoothing=cfg.label_smoothing)
    total, losses = loss, {"loss": loss.item()}
    extra = extras.extra_loss(model, step) if extras is not None else None  # [extras]
    if extra is not None:  # the consistency term: its pairs are a function of (seed, step)
        total = loss + extra.term * extra.weight
        losses[extra.name] = extra.term.item()
    opt.zero_grad()
    total.backward()
    clip_grad_norm_(model.parameters(), cfg.clip)
    opt.step()
    return losses


def valid_exact_match(model: Transformer, pairs: list[Pair], src_vocab: Vocab, tgt_vocab: Vocab):
    """Exact match (%) of greedy translations of `pairs`: the score that picks the best model."""
    hyps = ev.greedy_translate(model, [src_vocab.encode(p.src) for p in pairs])
    return 100.0 * float(np.mean([tgt_vocab.decode(h) == p.tgt for h, p in zip(hyps, pairs)]))


def train(cfg: Config) -> dict:
    """Train (or resume), keep the best model, evaluate it on every test split.

    Returns the metrics written to metrics.json, or {"interrupted": step} after Ctrl-C.
    """
    t_start = time.perf_counter()
    with thread_limit(cfg.threads):
        # The data, and vocabularies built from the training split (read back on --resume).
        data = load_task(cfg.task, cfg.direction)
        check_against_data(cfg, data)
        run = _run_dir.RunDir(cfg.out, asdict(cfg), RESUMABLE)
        train_pairs = data["train"] + Generalization.extra_pairs(data, cfg)  # [extras] more data
        src_vocab, tgt_vocab = run.vocabularies(train_pairs, cfg.resume)
        extras = Generalization(cfg, src_vocab, tgt_vocab)  # [extras] (None: the plain recipe)

        # The model and its optimizer: Adam with a warmup then a cosine decay of the lr.
        tg.manual_seed(cfg.seed)
        model = build_model(cfg, len(src_vocab), len(tgt_vocab))
        opt = optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-9)
        step = run.resume(model, opt, cfg.steps) if cfg.resume else 0
        sched = optim.lr_scheduler.CosineWithWarmupLR(
            opt, cfg.warmup, max(cfg.steps, cfg.warmup + 1), cfg.lr * cfg.min_lr_ratio, step - 1
        )
        print(
            f"{cfg.task} {cfg.direction}: {len(train_pairs)} training pairs, vocab "
            f"{len(src_vocab)} -> {len(tgt_vocab)}, {model.num_parameters():,} parameters"
            + (extras.summary() if extras is not None else "")
            + (f", resuming at step {step}" if cfg.resume else "")
        )

        # The training loop: one update per batch, a valid evaluation every eval_every steps.
        progress = Progress(cfg.steps, step, cfg.log_every)
        flow = tg.GradientFlow(model, group_by="layer")  # per-layer gradient norms, for the page
        per_epoch = math.ceil(len(train_pairs) / cfg.batch_size)
        epoch, epoch_data = -1, []
        try:
            while step < cfg.steps:
                if step // per_epoch != epoch:
                    epoch = step // per_epoch
                    epoch_data = epoch_batches(
                        train_pairs, src_vocab, tgt_vocab, cfg, epoch, extras
                    )
                batch = epoch_data[step % per_epoch]
                lr = sched.get_last_lr()[0]
                losses = train_step(model, opt, batch, cfg, step, extras)
                sched.step()
                step += 1
                if step % cfg.log_every == 0:
                    flow.record(step)  # the gradients this update used (after clipping)
                tokens = int((batch[0] != PAD).sum() + (batch[2] != PAD).sum())
                progress.update(losses, lr, tokens)
                if step % cfg.eval_every == 0 or step == cfg.steps:
                    valid = data["valid"][: cfg.eval_size]
                    score = valid_exact_match(model, valid, src_vocab, tgt_vocab)
                    run.save(model, opt, step, score)  # model.npz if best, train_state.npz
                    progress.write(
                        f"step {step}: valid exact match {score:.2f}% (best {run.best:.2f}%)"
                    )
        except KeyboardInterrupt:
            progress.close()
            print(run.interrupted_text(step, cfg.eval_every))
            return {"interrupted": step}
        progress.close()

        # The report: the best weights on every test split.
        return final_report(cfg, model, data, run, t_start, flow)


def final_report(
    cfg: Config,
    model: Transformer,
    data: dict,
    run: _run_dir.RunDir,
    t_start: float,
    flow: tg.GradientFlow | None = None,
) -> dict:
    """Reload the best weights, evaluate every test split, print the tables, write metrics.json
    and the explorer pages (explorer.html, backprop.html with `flow`'s gradient norms).

    Returns the metrics (split -> metric -> value, plus best_step, copy_head, grad_norms,
    wall_seconds, peak_memory_mb)."""
    src_vocab, tgt_vocab = run.vocabs
    best = run.load_best(model)
    print(f"\nbest model: step {best['step']}, valid exact match {best['valid_exact']:.2f}%")
    splits = [name for name in data if name.startswith("test")]
    results = {"test_iid": ev.evaluate_split(model, data["test_iid"], src_vocab, tgt_vocab)}
    copy_head = results["test_iid"]["best_head"]  # the alignment head copies unknown words
    for s in splits:
        if s not in results:
            results[s] = ev.evaluate_split(model, data[s], src_vocab, tgt_vocab, copy_head)
    if cfg.task == "translation" and cfg.direction == "zh-en":
        combos = ev.by_combination(data["test_combo"], results["test_combo"]["hyps"])
        results["test_combo"]["by_combination"] = combos
        structs = ev.by_structure(data["test_struct"], results["test_struct"]["hyps"])
        results["test_struct"]["by_structure"] = structs
    print(ev.report_text(results))
    langs = languages(cfg)
    for split, r in results.items():
        print(f"\nsamples from {split}:")
        print(ev.samples_text(data[split], r["hyps"], cfg.samples, langs))
    walk_src = data["test_iid"][0].src
    if cfg.task == "translation":
        walk_src = WALK_ZH if cfg.direction == "zh-en" else WALK_EN
    print(f"\ndecoding walk for {ev.detokenize(walk_src, langs[0])!r}:")
    print(ev.decoding_walk(model, walk_src, src_vocab, tgt_vocab, len(model.decoder) - 1))
    metrics = {split: {k: v for k, v in r.items() if k != "hyps"} for split, r in results.items()}
    metrics["best_step"] = best["step"]
    metrics["copy_head"] = copy_head
    metrics["grad_norms"] = {"steps": flow.steps, "norms": flow.history} if flow else None
    samples = (data["test_iid"][: cfg.samples], results["test_iid"]["hyps"])
    _explorer.write_run_pages(run.out, model, *samples, src_vocab, tgt_vocab, flow)
    metrics["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    metrics["peak_memory_mb"] = round(peak_memory_mb(), 1)
    run.write_metrics(metrics)
    print(
        f"\nwall time {metrics['wall_seconds']:.0f} s, peak memory "
        f"{metrics['peak_memory_mb']:.0f} MB; written to {run.out / rio.METRICS_FILE}"
    )
    return metrics


def main(argv: list[str] | None = None) -> int:
    try:
        result = train(parse_config(argv, __doc__.split("\n\n")[0]))
    except (rio.RunFileError, ConfigError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 130 if "interrupted" in result else 0


if __name__ == "__main__":
    interrupt_once()  # Ctrl-C twice in quick succession: one clean stop, no traceback
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before the training loop (while loading data)
        sys.exit(130)
