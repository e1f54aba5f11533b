"""The consistency objective (question/statement and place pairs): matched words, the pairs'
batches, the loss (value, zero case, gradient), the model's decoder states, the Config fields,
and a short run in which the objective pulls the matched states together.  (The shipped pairs
files themselves: tests/examples/test_toydata.py.)"""

from __future__ import annotations

from dataclasses import replace

import _config
import _translation_io as rio
import numpy as np
import pytest
import train_translation as tt
from _consistency import ConsistencyBatches, consistency_loss, consistency_term
from _generalization import Generalization, consistency_batches
from hypothesis import given
from hypothesis import strategies as st
from toydata import (
    BOS,
    PAD,
    QuestionStatement,
    Vocab,
    load_place_statements,
    load_question_statements,
    load_task,
)
from toydata.questions import (
    NOT_MATCHED,
    matched_positions,
    read_place_statements,
    read_question_statements,
)

import tinygrad_attn as tg

IS_HE_TALL = QuestionStatement(
    "他 高 吗 ？".split(), "is he tall ?".split(), "他 很 高 。".split(), "he is tall .".split()
)
DID_HE_BUY = QuestionStatement(
    "他 昨天 买 了 茶 吗 ？".split(),
    "did he buy tea yesterday ?".split(),
    "他 昨天 买 了 茶 。".split(),
    "he bought tea yesterday .".split(),
)


def test_matched_positions_pair_the_content_words_not_the_moved_auxiliary():
    assert matched_positions(IS_HE_TALL.question_tgt, IS_HE_TALL.statement_tgt) == [(1, 0), (2, 2)]
    # "buy" / "bought" differ; "did" is moved; "he", "tea", "yesterday" match
    assert matched_positions(DID_HE_BUY.question_tgt, DID_HE_BUY.statement_tgt) == [
        (1, 0),
        (3, 2),
        (4, 3),
    ]
    # a word twice on either side has no single partner
    assert matched_positions("is the cat the cat ?".split(), "the cat is the cat .".split()) == []


@given(
    st.lists(st.sampled_from(["he", "tall", "is", "the", "?", "cat", "."]), max_size=8),
    st.lists(st.sampled_from(["he", "tall", "is", "the", ".", "cat", "?"]), max_size=8),
)
def test_matched_positions_are_exactly_the_unique_shared_words(question, statement):
    pairs = matched_positions(question, statement)
    for i, j in pairs:
        assert question[i] == statement[j] and question[i] not in NOT_MATCHED
    expected = {w for w in question if question.count(w) == statement.count(w) == 1} - NOT_MATCHED
    assert {question[i] for i, _ in pairs} == expected
    assert [i for i, _ in pairs] == sorted(i for i, _ in pairs)


def _vocabs(pairs):
    src = Vocab.build([p[0] for p in pairs] + [p[2] for p in pairs])
    tgt = Vocab.build([p[1] for p in pairs] + [p[3] for p in pairs])
    return src, tgt


def test_a_batch_puts_questions_then_statements_and_indexes_the_same_predicted_word():
    pairs = load_question_statements()[:200]
    src_vocab, tgt_vocab = _vocabs(pairs)
    batches = ConsistencyBatches(pairs, src_vocab, tgt_vocab)
    src, tgt_in, (rows_q, cols_q, rows_s, cols_s) = batches.batch(8, np.random.default_rng(3))
    assert src.shape[0] == tgt_in.shape[0] == 16 and (tgt_in[:, 0] == BOS).all()
    assert len(rows_q) >= 8 and (rows_q < 8).all() and (rows_s == rows_q + 8).all()
    # the state at position c predicts tgt_in[c + 1]: the same word on both sides
    predicted_q = tgt_in[rows_q, cols_q + 1]
    assert np.array_equal(predicted_q, tgt_in[rows_s, cols_s + 1])
    assert not set(tgt_vocab.decode(predicted_q.tolist())) & NOT_MATCHED
    assert (predicted_q != PAD).all()
    again = batches.batch(8, np.random.default_rng(3))
    assert np.array_equal(again[1], tgt_in) and np.array_equal(again[2][1], cols_q)
    with pytest.raises(ValueError, match="no question/statement pairs"):
        ConsistencyBatches([], src_vocab, tgt_vocab)


def test_a_batch_with_place_pairs_puts_them_last_and_matches_the_words_around_the_place():
    questions, places = load_question_statements()[:100], load_place_statements()[:100]
    src_vocab, tgt_vocab = _vocabs(questions + places)
    batches = ConsistencyBatches(questions, src_vocab, tgt_vocab, places)
    assert len(batches) == 200 and batches.num_places == 100
    src, tgt_in, (rows_a, cols_a, rows_b, cols_b) = batches.batch(8, np.random.default_rng(5), 3)
    assert src.shape[0] == 16 and (rows_b == rows_a + 8).all()
    words = [src_vocab.decode(row.tolist()) for row in src]
    for row in range(5):  # rows 0-4: questions, 8-12 the same clauses as statements
        assert words[row][-2:] == ["吗", "？"] and words[8 + row][-1] == "。"
    for row in range(5, 8):  # rows 5-7: statements with a place, 13-15 the same without it
        with_place, bare = words[row], words[8 + row]
        assert len(with_place) - len(bare) in (1, 2) and set(bare) < set(with_place)
    assert np.array_equal(tgt_in[rows_a, cols_a + 1], tgt_in[rows_b, cols_b + 1])
    assert set(rows_a.tolist()) >= {5, 6, 7}
    # without place pairs the draw is the one a run saved before them made
    plain = ConsistencyBatches(questions, src_vocab, tgt_vocab)
    mixed = batches.batch(8, np.random.default_rng(6), 0)[1]
    assert np.array_equal(plain.batch(8, np.random.default_rng(6))[1], mixed)
    for n, n_place in [(8, 9), (8, -1)]:
        with pytest.raises(ValueError, match=rf"n_place must be .*got n_place={n_place}"):
            batches.batch(n, np.random.default_rng(0), n_place)
    with pytest.raises(ValueError, match="n_place must be"):
        plain.batch(8, np.random.default_rng(0), 1)  # no place pairs to draw


def _numpy_loss(states, index):
    rows_q, cols_q, rows_s, cols_s = index
    return sum(np.mean((h[rows_q, cols_q] - h[rows_s, cols_s]) ** 2) for h in states)


def test_the_loss_matches_numpy_and_is_zero_when_the_matched_states_agree():
    rng = np.random.default_rng(0)
    index = (np.array([0, 0, 1]), np.array([1, 2, 0]), np.array([2, 2, 3]), np.array([0, 2, 1]))
    states = [rng.normal(size=(4, 3, 5)) for _ in range(2)]
    loss = consistency_loss([tg.Tensor(h) for h in states], index)
    np.testing.assert_allclose(loss.item(), _numpy_loss(states, index), rtol=1e-12)
    for h in states:  # copy each question row's states onto its statement partner
        h[index[2], index[3]] = h[index[0], index[1]]
    assert consistency_loss([tg.Tensor(h) for h in states], index).item() == 0.0


def test_the_loss_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    index = (np.array([0, 1, 1]), np.array([0, 2, 1]), np.array([2, 3, 3]), np.array([1, 0, 2]))
    a, b = (tg.Tensor(rng.normal(size=(4, 3, 6)), requires_grad=True) for _ in range(2))
    assert tg.gradcheck(lambda x, y: consistency_loss([x, y], index), (a, b))


def test_decoder_states_are_the_layers_that_decode_projects(tiny_model):
    model = tiny_model(d_model=16, num_decoder_layers=3, dim_feedforward=32).eval()
    src, tgt_in = np.array([[4, 5, 6], [7, 8, 0]]), np.array([[1, 4, 5, 9], [1, 6, 0, 0]])
    states = model.decoder_states(src, tgt_in)
    assert len(states) == 3 and all(h.shape == (2, 4, 16) for h in states)
    np.testing.assert_allclose(model.project(states[-1]).numpy(), model(src, tgt_in).numpy())
    with pytest.raises(ValueError, match="batch"):
        model.decoder_states(src, tgt_in[:1])


def test_config_field_defaults_on_refuses_negative_and_old_runs_stay_off(tmp_path, capsys):
    assert _config.Config.question_consistency > 0 and _config.Config.consistency_pairs >= 1
    assert 1 <= _config.Config.place_pairs < _config.Config.consistency_pairs
    for flags, words in [
        (["--question-consistency", "-1"], "--question-consistency must be >= 0"),
        (["--question-consistency", "inf"], "--question-consistency must be a finite number"),
        (["--consistency-pairs", "0"], "--consistency-pairs must be >= 1"),
        (["--place-pairs", "-1"], "--place-pairs must be >= 0"),
        (["--consistency-pairs", "3"], "--place-pairs must be <= consistency_pairs 3, got 4"),
    ]:
        with pytest.raises(SystemExit):
            _config.parse_config(flags)
        assert words in capsys.readouterr().err
    saved = {k: v for k, v in vars(_config.Config(out=str(tmp_path))).items()}
    del saved["question_consistency"], saved["place_pairs"]  # saved before the fields existed
    rio.write_json(tmp_path / rio.CONFIG_FILE, saved)
    old = _config.load_config(tmp_path / rio.CONFIG_FILE)
    assert old.question_consistency == 0.0 and old.place_pairs == 0


def test_the_pairs_are_used_for_translation_in_either_direction_and_off_otherwise():
    pairs, places = load_question_statements(), load_place_statements()
    src_vocab, tgt_vocab = _vocabs(pairs + places)
    cfg = _config.Config()
    both = consistency_batches(cfg, src_vocab, tgt_vocab)
    assert (len(both), both.num_places) == (len(pairs) + len(places), len(places))
    no_places = consistency_batches(replace(cfg, place_pairs=0), src_vocab, tgt_vocab)
    assert len(no_places) == len(pairs)
    assert consistency_batches(replace(cfg, question_consistency=0.0), src_vocab, tgt_vocab) is None
    assert consistency_batches(replace(cfg, task="reversal"), src_vocab, tgt_vocab) is None
    en_zh = consistency_batches(replace(cfg, direction="en-zh"), tgt_vocab, src_vocab)
    assert en_zh.matches[0] == matched_positions(pairs[0].question_src, pairs[0].statement_src)
    assert en_zh.matches[len(pairs)] == matched_positions(places[0].place_src, places[0].bare_src)


def test_a_bad_pairs_file_is_an_error_naming_the_file_and_line(tmp_path):
    path = tmp_path / "question_statements.tsv"
    path.write_text("source\ttarget\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected header"):
        read_question_statements(path)
    header = "question_source\tquestion_target\tstatement_source\tstatement_target"
    path.write_text(f"{header}\n他 高 吗 ？\tis he tall ?\t他 很 高 。\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"question_statements.tsv:2: expected 4"):
        read_question_statements(path)
    path = tmp_path / "place_statements.tsv"
    path.write_text(f"{header}\n", encoding="utf-8")  # the other file's header
    with pytest.raises(ValueError, match=r"place_statements.tsv.*expected header"):
        read_place_statements(path)


def test_a_short_run_with_the_objective_pulls_the_matched_states_together():
    """Two tiny translation models, same seed and batches, 30 updates: with weight 3 the
    consistency term (measured on the same 32 pairs, 8 of them place pairs) ends at under a
    quarter of its value without the objective."""
    data = load_task("translation")
    src_vocab = Vocab.build([p.src for p in data["train"]])
    tgt_vocab = Vocab.build([p.tgt for p in data["train"]])
    pairs = ConsistencyBatches(
        load_question_statements(), src_vocab, tgt_vocab, load_place_statements()
    )
    cfg = replace(
        _config.Config(),
        d_model=32,
        nhead=2,
        num_encoder_layers=1,
        num_decoder_layers=1,
        dim_feedforward=64,
        batch_size=32,
        lr=3e-3,
        unk_rate=0.0,
    )
    extras = Generalization(cfg, src_vocab, tgt_vocab)  # its unpunctuated sources
    epoch = tt.epoch_batches(data["train"][:2000], src_vocab, tgt_vocab, cfg, 0, extras)
    terms = {}
    for weight in (0.0, 3.0):
        tg.manual_seed(0)
        model = tt.build_model(cfg, len(src_vocab), len(tgt_vocab))
        opt = tg.optim.Adam(model.parameters(), lr=cfg.lr)
        run_cfg = replace(cfg, question_consistency=weight)
        extras = Generalization(run_cfg, src_vocab, tgt_vocab)  # weight 0: no extra loss
        steps = [tt.train_step(model, opt, epoch[s], run_cfg, s, extras) for s in range(30)]
        losses = [step["loss"] for step in steps]
        assert ("consistency" in steps[0]) == bool(weight)
        assert np.mean(losses[-5:]) < np.mean(losses[:5])  # the cross-entropy still falls
        with tg.no_grad():
            term = consistency_term(model, pairs, 32, np.random.default_rng(99), n_place=8)
            terms[weight] = term.item()
    assert terms[3.0] < 0.25 * terms[0.0], terms
