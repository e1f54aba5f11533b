"""examples/translate.py end to end (subprocesses) on a tiny zh-en model the module trains.

The model is barely trained, so the expected translation is computed here directly from the
checkpoint (segment -> vocab -> model.greedy_decode / beam_search -> detokenize) and the CLI must
print exactly that. Every bad input must end with exit code 2 and a one-line message, never a
traceback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import _translation_io as rio
import everyday_check
import numpy as np
import pytest
from _config import Config
from toydata import BOS, EOS, PAD, detokenize_en, segment
from train_translation import build_model
from translate import Translator

import tinygrad_attn as tg
from models.decoding import has_loop, safeguards

REPO = Path(__file__).resolve().parents[2]
MAX_LEN = 40
TRAIN_FLAGS = (
    "--d-model 32 --nhead 2 --num-encoder-layers 1 --num-decoder-layers 1 --dim-feedforward 64 "
    f"--steps 120 --eval-every 120 --eval-size 100 --lr 3e-3 --warmup 30 --dropout 0 "
    f"--samples 1 --max-len {MAX_LEN}"
).split()
SENTENCE = "我昨天在图书馆看了三本书。"


def _env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }


def run_script(script: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "examples" / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=_env(),
        cwd=REPO,
        timeout=300,
    )


def translate(ckpt: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return run_script("translate.py", "--ckpt", str(ckpt), *args, stdin=stdin)


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    """assert_clean_error, and the message is the only line on stderr."""
    assert_clean_error(result, *words)
    assert result.stderr.count("\n") == 1, result.stderr


def assert_clean_error(result: subprocess.CompletedProcess, *words: str) -> None:
    """Exit code 2, an `error:` line naming `words`, and no traceback."""
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: "), result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zh_en_tiny")
    result = run_script("train_translation.py", *TRAIN_FLAGS, "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def copy_run(run_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run_dir, target)
    return target


def expected_translation(run_dir: Path, text: str, beam: int = 1) -> str:
    """What the checkpoint translates `text` to, computed without translate.py."""
    src_vocab, tgt_vocab = rio.read_vocabs(run_dir)
    cfg = Config(**json.loads((run_dir / rio.CONFIG_FILE).read_text(encoding="utf-8")))
    model = build_model(cfg, len(src_vocab), len(tgt_vocab))
    model.load_state_dict(tg.load(run_dir / rio.MODEL_FILE)["model"])
    src = np.array([src_vocab.encode(segment(text, src_vocab.itos[4:]))])
    guards = safeguards(src, PAD)  # at most 2 * S + 5 tokens, no n-gram 3 times in a row
    max_len = min(MAX_LEN, int(guards["limits"][0]) + 1)
    if beam > 1:
        ids = model.beam_search(src, beam, BOS, EOS, max_len, **guards)
    else:
        ids = model.greedy_decode(src, BOS, EOS, max_len, **guards)
    return detokenize_en(tgt_vocab.decode(ids[0]))


def test_translates_typed_chinese_greedily(run_dir: Path) -> None:
    result = translate(run_dir, SENTENCE)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_translation(run_dir, SENTENCE) + "\n"
    assert result.stderr == ""  # every word of this sentence is known: no warning


def test_beam_search_flag(run_dir: Path) -> None:
    result = translate(run_dir, "--beam", "3", SENTENCE)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected_translation(run_dir, SENTENCE, beam=3) + "\n"


def test_unknown_words_become_unk_with_a_warning_naming_them(run_dir: Path) -> None:
    result = translate(run_dir, "我喜欢恐龙。")
    assert result.returncode == 0, result.stderr
    assert "warning: unknown to the model: 恐龙\n" in result.stderr  # the word, not 恐 龙
    assert result.stdout.count("\n") == 1


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_input_is_a_clear_error(run_dir: Path, text: str) -> None:
    assert_clean_error(translate(run_dir, text), "empty input")


def test_input_longer_than_the_model_accepts_is_a_clear_error(run_dir: Path) -> None:
    assert_clean_error(translate(run_dir, "我" * (MAX_LEN + 1)), f"at most {MAX_LEN}")
    assert translate(run_dir, "我" * MAX_LEN).returncode == 0


def test_missing_checkpoint_is_a_clear_error_naming_the_file(tmp_path: Path) -> None:
    assert_clean_error(translate(tmp_path / "nowhere", SENTENCE), "nowhere/config.json")


def test_missing_weights_file_is_named(run_dir: Path, tmp_path: Path) -> None:
    run = copy_run(run_dir, tmp_path)
    (run / rio.MODEL_FILE).unlink()
    assert_clean_error(translate(run, SENTENCE), str(run / rio.MODEL_FILE), "not found")


def test_corrupt_weights_file_is_named(run_dir: Path, tmp_path: Path) -> None:
    run = copy_run(run_dir, tmp_path)
    data = (run / rio.MODEL_FILE).read_bytes()
    (run / rio.MODEL_FILE).write_bytes(data[: len(data) // 2])  # a torn copy
    assert_clean_error(translate(run, SENTENCE), str(run / rio.MODEL_FILE), "corrupt")


def test_corrupt_config_file_is_named(run_dir: Path, tmp_path: Path) -> None:
    run = copy_run(run_dir, tmp_path)
    (run / rio.CONFIG_FILE).write_text("{not json", encoding="utf-8")
    assert_clean_error(translate(run, SENTENCE), str(run / rio.CONFIG_FILE))


def test_vocab_that_does_not_match_the_weights_is_named(run_dir: Path, tmp_path: Path) -> None:
    run = copy_run(run_dir, tmp_path)
    vocab = json.loads((run / rio.VOCAB_FILE).read_text(encoding="utf-8"))
    vocab["tgt"][4], vocab["tgt"][5] = vocab["tgt"][5], vocab["tgt"][4]  # same size, other ids
    (run / rio.VOCAB_FILE).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    assert_clean_error(translate(run, SENTENCE), str(run / rio.VOCAB_FILE))


def test_vocab_of_another_size_is_named(run_dir: Path, tmp_path: Path) -> None:
    run = copy_run(run_dir, tmp_path)
    vocab = json.loads((run / rio.VOCAB_FILE).read_text(encoding="utf-8"))
    vocab["src"].append("恐龙")
    (run / rio.VOCAB_FILE).write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    assert_clean_error(translate(run, SENTENCE), rio.VOCAB_FILE)


def test_config_that_does_not_match_the_weights_is_named(run_dir: Path, tmp_path: Path) -> None:
    run = copy_run(run_dir, tmp_path)
    config = json.loads((run / rio.CONFIG_FILE).read_text(encoding="utf-8"))
    config["dim_feedforward"] = 128
    (run / rio.CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    words = ("was trained with dim_feedforward 64", f"{rio.CONFIG_FILE} says dim_feedforward 128")
    assert_one_line_error(translate(run, SENTENCE), *words)
    _edit_weights(run, lambda ckpt: ckpt.pop("config"))  # a checkpoint from before configs
    result = translate(run, SENTENCE)  # were saved: the shapes are still checked
    assert result.returncode == 2 and "Traceback" not in result.stderr
    warning, error = result.stderr.splitlines()
    assert warning.startswith(f"warning: {run / rio.MODEL_FILE} predates saved configurations")
    assert error.startswith("error: ") and "ff.linear1.weight" in error


def test_interactive_mode_translates_each_line_until_eof(run_dir: Path) -> None:
    lines = [SENTENCE, "", "我" * (MAX_LEN + 1), "我喜欢音乐。"]
    result = translate(run_dir, stdin="\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    expected = [expected_translation(run_dir, SENTENCE), expected_translation(run_dir, lines[3])]
    assert result.stdout.splitlines() == expected  # blank line skipped, bad line reported
    assert f"error: input has {MAX_LEN + 1} tokens" in result.stderr


def test_walk_prints_each_decoding_step_from_bos(run_dir: Path) -> None:
    result = translate(run_dir, "--walk", "机器学习")
    assert result.returncode == 0, result.stderr
    table = result.stdout.splitlines()
    assert table[1].split()[-2:] == ["机器", "学习"] and "-> output" in table[1]
    assert table[2].split()[:2] == ["1", "<s>"]
    heads = [line.split() for line in table if line.split()[:1] == ["head"]]
    assert [h[1] for h in heads[:2]] == ["1", "2"]  # one row per head under each step
    assert all(abs(sum(map(float, h[2:])) - 1.0) < 0.02 for h in heads)  # a distribution


def test_plot_attention_writes_a_png(run_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "attn.png"
    result = translate(run_dir, "--plot-attention", str(png), SENTENCE)
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert f"attention plot written to {png}" in result.stderr


def test_html_writes_the_explorer_of_the_translation_it_prints(run_dir, tmp_path) -> None:
    from tests.test_viz_html import page_data

    page = tmp_path / "explorer.html"
    result = translate(run_dir, "--html", str(page), SENTENCE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected_translation(run_dir, SENTENCE)
    assert f"attention explorer written to {page}" in result.stderr
    (shown,) = page_data(page.read_text(encoding="utf-8"))["sentences"]
    src_vocab, _ = rio.read_vocabs(run_dir)
    assert shown["src_tokens"] == segment(SENTENCE, src_vocab.itos[4:])
    assert detokenize_en(shown["tgt_tokens"][:-1]) == result.stdout.strip()
    cross = np.asarray(shown["cross"])  # (L, H, T, S): 1 decoder layer, 2 heads
    assert cross.shape == (1, 2, len(shown["tgt_tokens"]), len(shown["src_tokens"]))
    np.testing.assert_allclose(cross.sum(-1), 1.0, atol=1e-3)  # each row a distribution


def test_html_into_a_missing_directory_or_onto_a_directory_is_a_clear_error(run_dir, tmp_path):
    result = translate(run_dir, "--html", "/nonexistent/dir/a.html", SENTENCE)
    assert_one_line_error(result, "--html /nonexistent/dir/a.html", "/nonexistent/dir")
    assert result.stdout == ""
    result = translate(run_dir, "--html", str(tmp_path), SENTENCE)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"error: --html {tmp_path}:")


def test_output_piped_into_a_reader_that_stops_early_is_not_a_traceback(run_dir: Path) -> None:
    """`translate.py --walk 机器学习 | head -1`: the reader closes the pipe, the script stops."""
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "examples" / "translate.py"), "--ckpt", str(run_dir)]
        + ["--walk", "机器学习"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
        cwd=REPO,
    )
    proc.stdout.close()  # nobody reads: the first print fails with a broken pipe
    stderr = proc.stderr.read().decode("utf-8")
    proc.stderr.close()
    assert proc.wait(timeout=300) == 0
    assert "Traceback" not in stderr


# ----- issue 15: bad flags, diverged or mismatched run files -----------------------------------
@pytest.mark.parametrize("beam", ["0", "-3"])
def test_beam_below_one_is_a_clear_error(run_dir: Path, beam: str) -> None:
    result = translate(run_dir, "--beam", beam, SENTENCE)
    assert_one_line_error(result, f"--beam must be in 1..64 (1 = greedy), got {beam}")
    assert result.stdout == ""


def test_plot_attention_into_a_missing_directory_fails_before_translating(run_dir: Path) -> None:
    result = translate(run_dir, "--plot-attention", "/nonexistent/dir/a.png", SENTENCE)
    assert_one_line_error(result, "--plot-attention /nonexistent/dir/a.png", "/nonexistent/dir")
    assert result.stdout == ""


def test_plot_attention_onto_a_directory_is_an_error_not_a_traceback(run_dir, tmp_path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "a.png"
    target.mkdir()
    result = translate(run_dir, "--plot-attention", str(target), SENTENCE)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"error: --plot-attention {target}:")


def _edit_weights(run: Path, edit) -> None:
    ckpt = tg.load(run / rio.MODEL_FILE)
    edit(ckpt)
    tg.save(ckpt, run / rio.MODEL_FILE)


def _nan_weight(ckpt: dict) -> None:
    ckpt["model"]["out_proj.weight"][0, 0] = np.nan


def test_nan_weights_are_refused_with_a_clear_message(run_dir: Path, tmp_path: Path) -> None:
    run = copy_run(run_dir, tmp_path)
    _edit_weights(run, _nan_weight)
    assert_one_line_error(translate(run, SENTENCE), str(run / rio.MODEL_FILE), "NaN")


def test_a_model_entry_that_is_not_a_dict_is_named(run_dir: Path, tmp_path: Path) -> None:
    run = copy_run(run_dir, tmp_path)
    _edit_weights(run, lambda ckpt: ckpt.update(model=[1, 2]))
    assert_one_line_error(translate(run, SENTENCE), str(run / rio.MODEL_FILE), "'model' entry")


def test_a_member_claiming_a_huge_shape_is_refused(run_dir: Path, tmp_path: Path) -> None:
    run = copy_run(run_dir, tmp_path)
    with zipfile.ZipFile(run / rio.MODEL_FILE, "a") as zf, zf.open("big.npy", "w") as member:
        header = {"descr": "<f4", "fortran_order": False, "shape": (2**40, 2**4)}  # 64 TiB
        np.lib.format.write_array_header_1_0(member, header)
    assert_one_line_error(translate(run, SENTENCE), str(run / rio.MODEL_FILE), "'big.npy'")


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("d_model", "128", "d_model must be an int, got '128'"),
        ("nhead", 4.0, "nhead must be an int, got 4.0"),
        ("max_len", None, "max_len must be an int, got None"),
        ("dropout", "high", "dropout must be a finite number, got 'high'"),
        ("d_model", 0, "d_model must be >= 1, got 0"),
        ("nhead", 3, "nhead must be a divisor of d_model 32, got 3"),
        ("task", "poetry", "task must be one of"),
    ],
)
def test_config_with_a_wrong_type_or_value_is_named(run_dir, tmp_path, field, value, words):
    run = copy_run(run_dir, tmp_path)
    config = json.loads((run / rio.CONFIG_FILE).read_text(encoding="utf-8"))
    config[field] = value
    (run / rio.CONFIG_FILE).write_text(json.dumps(config), encoding="utf-8")
    assert_one_line_error(translate(run, SENTENCE), str(run / rio.CONFIG_FILE), words)


@pytest.mark.parametrize(
    "change, found",
    [({"task": "reversal"}, "translation zh-en"), ({"direction": "en-zh"}, "translation zh-en")],
)
def test_config_whose_task_does_not_match_the_vocabulary_is_refused(
    run_dir, tmp_path, change, found
):
    run = copy_run(run_dir, tmp_path)
    config = json.loads((run / rio.CONFIG_FILE).read_text(encoding="utf-8"))
    (run / rio.CONFIG_FILE).write_text(json.dumps({**config, **change}), encoding="utf-8")
    assert_one_line_error(translate(run, SENTENCE), rio.CONFIG_FILE, f"holds a {found} vocabulary")


def test_the_vocabulary_kind_of_each_task_is_recognised() -> None:
    from toydata import Vocab, load_task

    for task in ("translation", "reversal", "dates"):
        for direction in ("zh-en", "en-zh"):
            train = load_task(task, direction)["train"][:3000]
            vocabs = [Vocab.build([getattr(p, side) for p in train]) for side in ("src", "tgt")]
            expected = task if task == "reversal" else f"{task} {direction}"
            assert rio.vocab_task(*vocabs) == expected


# ----- issue 11: unknown words copied through, named, refused with --strict ---------------------
SIX = {  # the sentences and the whole words each warning must name
    "他喜欢熊猫。": "熊猫",
    "我昨天在图书馆看了三本漫画。": "漫画",
    "我用了他的iPhone。": "iPhone",
    "玛丽明天会去Beijing。": "Beijing",
    "李雷昨天在饭馆吃了饺子。": "李雷",
    "我买了3本书。": "3",
}


def test_the_six_sentences_name_their_unknown_word_and_copy_only_from_the_source(run_dir):
    result = translate(run_dir, stdin="\n".join(SIX) + "\n")
    assert result.returncode == 0, result.stderr
    outputs = result.stdout.splitlines()
    assert len(outputs) == len(SIX) and not any("<unk>" in line for line in outputs)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: unknown to the model: {word}" for word in SIX.values()]
    for line in result.stderr.splitlines():  # "copied: X": X is an unknown word, in the output
        if line.startswith("copied: "):
            for word in line.removeprefix("copied: ").split(", "):
                assert word in SIX.values() and any(word in out for out in outputs), line


def test_strict_refuses_unknown_words_naming_them_on_one_line(run_dir: Path) -> None:
    result = translate(run_dir, "--strict", "李雷用了他的iPhone。")
    assert_one_line_error(result, "unknown to the model: 李雷, iPhone")
    assert result.stdout == ""
    known = translate(run_dir, "--strict", SENTENCE)
    assert known.returncode == 0 and known.stderr == ""
    lines = translate(run_dir, "--strict", stdin="\n".join(SIX) + "\n")  # each line refused
    errors = lines.stderr.splitlines()
    assert errors == [f"error: unknown to the model: {w} (--strict)" for w in SIX.values()]
    assert lines.stdout == ""


def test_mostly_unknown_input_is_warned_about(run_dir: Path) -> None:
    result = translate(run_dir, "Anna和Tom在Paris。")
    assert result.returncode == 0, result.stderr
    assert "unknown to the model: Anna, 和, Tom, Paris" in result.stderr
    assert "warning: 4 of 5 words are unknown: the sentence is outside what the model learned" in (
        result.stderr
    )
    assert result.stdout.startswith("[outside what the model learned; a guess] ")  # not as if
    assert not translate(run_dir, "他喜欢熊猫。").stdout.startswith("[outside")  # it knew
    assert "of 2 words" not in translate(run_dir, "他喜欢熊猫。").stderr  # one of three: no


def test_default_run_directory_is_found_from_the_repository(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "examples" / "translate.py"), "--help"],
        capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert str(REPO / "runs" / "zh_en") in result.stdout.replace("\n", "").replace(" ", "")


def test_walk_copy_report_names_the_head_the_step_and_the_word() -> None:
    import translate as tr_cli
    from _unk_copy import Copy

    report = tr_cli._copy_report([Copy(2, 3, 0.87)], ["我", "买", "了", "3"], None, (1, 2))
    assert report.splitlines() == [
        "copy: each <unk> written becomes the unknown word that decoder layer 2 head 3 "
        "attends to most",
        "step 3: <unk> -> 3   (attention 0.87)",
    ]


def test_attention_plot_labels_mark_the_copied_words() -> None:
    import translate as tr_cli
    from _unk_copy import Copy

    labels = tr_cli._copy_labels(["i", "used", "his", "iPhone", "."], [Copy(3, 5, 0.99)])
    assert labels == ["i", "used", "his", "iPhone (copied)", "."]


def test_no_input_makes_the_translator_loop_or_pass_its_length_bound(run_dir: Path) -> None:
    """The fuzz of everyday_check (300 inputs: lexicon words in random orders, with and without
    a final mark, unknown words, one token, nearly max_len tokens) on the barely trained model,
    greedy and beam 4, with translate.py's safeguards: no output repeats an n-gram three times
    in a row (unless its source does) or passes 2 * S + 5 tokens."""
    tr = Translator(run_dir)
    inputs = everyday_check.fuzz_inputs(tr, 300, seed=0)
    assert {len(i) for i in inputs} >= {1, MAX_LEN - 1}
    assert any(t in everyday_check.UNKNOWN for i in inputs for t in i)
    for beam, some in ((1, inputs), (4, inputs[::10])):
        outputs = everyday_check.decode(tr, some, beam, guard=True)
        for source, output in zip(some, outputs):
            assert len(output) <= 2 * len(source) + 5, (source, output)
            assert not has_loop(output) or has_loop(source), (source, output)


# ----- issue 28: run files that load the wrong model, flags ignored, tracebacks -------------


def _edit_config(run: Path, **changes) -> None:
    config = json.loads((run / rio.CONFIG_FILE).read_text(encoding="utf-8"))
    (run / rio.CONFIG_FILE).write_text(json.dumps({**config, **changes}), encoding="utf-8")


@pytest.mark.parametrize(
    "field, value, saved",
    [
        ("pos", "alibi", "'rope'"),
        ("nhead", 4, "2"),
        ("nhead", 1, "2"),
        ("src_bos", False, "True"),
        ("norm_first", True, "False"),
    ],
)
def test_a_config_edit_that_keeps_every_shape_is_named(run_dir, tmp_path, field, value, saved):
    """Each of these loaded and translated with no warning (13-52 of 60 translations changed):
    the config saved with the weights now names the field."""
    run = copy_run(run_dir, tmp_path)
    _edit_config(run, **{field: value})
    words = (f"{run / rio.MODEL_FILE} was trained with {field} {saved}", f"says {field} {value!r}")
    assert_one_line_error(translate(run, SENTENCE), *words)


def test_weights_of_int_zeros_are_refused(run_dir: Path, tmp_path: Path) -> None:
    """Int64 zeros were cast into the float model: every translation empty, exit 0."""
    run = copy_run(run_dir, tmp_path)
    _edit_weights(run, lambda c: c.update(model={k: np.zeros(v.shape, np.int64) for k, v in
                                                 c["model"].items()}))  # fmt: skip
    assert_one_line_error(translate(run, SENTENCE), str(run / rio.MODEL_FILE), "int64 values")


@pytest.mark.parametrize(
    "flags, words",
    [
        (["--beam", "1100"], "--beam must be in 1..64 (1 = greedy), got 1100"),
        (["--beam", "1000000"], "--beam must be in 1..64"),
        (["--layer", "-1", "--plot-attention", "x.png"], "--layer is 1-based"),
        (["--layer", "0", "--plot-attention", "x.png"], "--layer is 1-based"),
        (["--layer", "1"], "--layer 1 only chooses the layer --plot-attention draws"),
        (["--walk", "--beam", "2"], "--walk shows greedy decoding"),
    ],
)
def test_flags_out_of_range_or_ignored_are_one_line_errors(run_dir, flags, words) -> None:
    """--beam 1100 raised a ValueError, --beam 1000000 a MemoryError; --layer -1 plotted the
    last layer, --layer without --plot-attention and --walk with a beam did nothing."""
    assert_one_line_error(translate(run_dir, *flags, SENTENCE), words)


def _translate_bytes(ckpt: Path, *args: bytes, stdin: bytes = b"") -> subprocess.CompletedProcess:
    """translate.py under a strict UTF-8 locale (no UTF-8 mode: stdin errors are strict)."""
    env = {**_env(), "LC_ALL": "C.UTF-8", "PYTHONUTF8": "0", "PYTHONIOENCODING": "utf-8"}
    command = [sys.executable, str(REPO / "examples" / "translate.py"), "--ckpt", str(ckpt)]
    return subprocess.run(
        [*command, *args], input=stdin, capture_output=True, env=env, cwd=REPO, timeout=300
    )


def test_invalid_utf8_on_stdin_is_reported_and_skipped(run_dir: Path) -> None:
    """It was a UnicodeDecodeError traceback."""
    result = _translate_bytes(run_dir, stdin=b"\xff\xfe\xe6\n" + SENTENCE.encode() + b"\n")
    stderr = result.stderr.decode()
    assert result.returncode == 0 and "Traceback" not in stderr, stderr
    assert stderr == "error: line 1 is not valid utf-8 text\n"
    assert result.stdout.decode() == expected_translation(run_dir, SENTENCE) + "\n"


def test_invalid_utf8_in_the_sentence_argument_is_a_clear_error(run_dir: Path) -> None:
    result = _translate_bytes(run_dir, b"\xff" + SENTENCE.encode())
    stderr = result.stderr.decode()
    assert result.returncode == 2 and stderr == "error: the sentence is not valid UTF-8 text\n"


@pytest.mark.parametrize("copy_head", [5, "L9H1", "L1H3", ["L1H1"]])
def test_metrics_naming_no_head_of_the_model_is_named(run_dir, tmp_path, copy_head) -> None:
    """copy_head 5 was a TypeError traceback; a head the model lacks fell back silently."""
    run = copy_run(run_dir, tmp_path)
    metrics = json.loads((run / rio.METRICS_FILE).read_text(encoding="utf-8"))
    metrics["copy_head"] = copy_head
    (run / rio.METRICS_FILE).write_text(json.dumps(metrics), encoding="utf-8")
    words = (str(run / rio.METRICS_FILE), "copy_head must name a head of the model, 'L1H1' to")
    assert_one_line_error(translate(run, SENTENCE), *words)


def test_config_with_a_huge_max_len_or_deep_nesting_is_named(run_dir, tmp_path) -> None:
    """max_len 10**8 with sinusoidal positions allocated 95 GiB; a deeply nested value was a
    RecursionError."""
    run = copy_run(run_dir, tmp_path)
    _edit_config(run, max_len=10**8, pos="sinusoidal")
    assert_one_line_error(translate(run, SENTENCE), "max_len must be <= 4096, got 100000000")
    config = (run / rio.CONFIG_FILE).read_text(encoding="utf-8")
    nested = config.replace('"seed": 0', '"seed": ' + "[" * 100000 + "]" * 100000)
    (run / rio.CONFIG_FILE).write_text(nested, encoding="utf-8")
    assert_one_line_error(translate(run, SENTENCE), str(run / rio.CONFIG_FILE), "nested")
