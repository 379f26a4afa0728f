"""aecore.chapter: starting a chapter, its verdicts, its tables and its glue."""

import logging
import time

import numpy as np
import pandas as pd
import pytest

from aecore import chapter
from aecore.chapter import compare, mean_sd, report_table


@pytest.mark.parametrize("ours, theirs, sentence", [
    ([0.80, 0.82, 0.84], [1.0, 1.01, 0.99],
     "the autoencoder's test error is 18% lower than PCA's"),
    ([1.24, 1.25, 1.26], 1.0, "the autoencoder's test error is 25% higher than PCA's"),
    ([1.004, 1.0041, 1.0039], 1.0, "the autoencoder's test error is within 0.5% of PCA's"),
    (np.float32(0.5), np.float64(1.0),
     "the autoencoder's test error is 50% lower than PCA's (one run each, which ranks "
     "nothing)"),
])
def test_compare_sentences(ours, theirs, sentence):
    assert str(compare(ours, theirs)) == sentence


def test_compare_writes_a_plural_possessive_with_the_apostrophe_alone():
    result = compare([0.70, 0.71, 0.72], [0.80, 0.81, 0.82], better="higher", unit="",
                     names=("the fine-tuned encoder", "the raw pixels"),
                     measure="accuracy", fmt=".2f")
    assert str(result) == ("the fine-tuned encoder's accuracy is 0.10 lower than the raw "
                           "pixels'")


def test_compare_calls_a_gap_within_the_seed_spread_a_tie():
    ours, theirs = [0.90, 1.00, 1.10], [1.02, 1.03, 1.04]  # means 1.00 and 1.03, sd 0.1
    result = compare(ours, theirs, names=("the VAE", "the AE"), measure="AUROC")
    assert str(result) == ("the VAE and the AE tie on AUROC: their means differ by less "
                           "than the spread over seeds")
    assert result.tie and result.winner is None
    assert result.spread == pytest.approx(np.std(ours, ddof=1))
    # one number each: no spread, so nothing is ranked
    single = compare(1.00, 1.03)
    assert single.tie is None and single.winner is None and "ranks nothing" in str(single)
    # a gap larger than the spread is not a tie
    assert compare([0.5, 0.51, 0.52], [1.0, 1.01, 1.02]).winner == "the autoencoder"
    # seeds against a deterministic baseline: the seeds' own spread decides
    assert compare([0.95, 1.0, 1.05], 1.02).tie
    assert compare([0.90, 0.91, 0.92], 1.0).winner == "the autoencoder"


def test_compare_states_absolute_margins_in_their_unit():
    dae, bm3d = [19.01, 19.03, 19.05], 17.24
    result = compare(dae, bm3d, names=("the DAE", "BM3D"), measure="PSNR", better="higher",
                     unit="dB")
    assert str(result) == "the DAE's PSNR is 1.79 dB higher than BM3D's"
    assert result.winner == "the DAE" and result.difference == pytest.approx(1.79)
    auroc = compare([0.930, 0.931, 0.932], [0.940, 0.941, 0.942], names=("AE", "k-NN"),
                    measure="AUROC", better="higher", unit="", fmt=".3f")
    assert str(auroc) == "AE's AUROC is 0.010 lower than k-NN's" and auroc.winner == "k-NN"
    # higher is better: the lower side loses even though its number is smaller
    assert compare([0.8, 0.81, 0.82], 0.9, better="higher").winner == "PCA"
    assert f"{result}" == str(result)  # formats as its sentence


@pytest.mark.parametrize("ours, theirs, kwargs, match", [
    (1.0, 0.0, {}, "must not be zero"),
    (np.nan, 1.0, {}, "finite"),
    ([], 1.0, {}, "finite"),
    (1.0, np.inf, {}, "finite"),
    (1.0, 2.0, {"better": "smaller"}, "better"),
])
def test_compare_bad_input(ours, theirs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        compare(ours, theirs, **kwargs)


def test_mean_sd_matches_numpy():
    values = [0.0086, 0.0085, 0.0087]
    assert mean_sd(values) == f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"
    assert mean_sd([0.5], ".2f") == "0.50"
    with pytest.raises(ValueError, match="empty"):
        mean_sd([])


def test_report_table_gives_mean_sd_per_method_with_short_names():
    runs = [{"auroc": 0.90, "auroc_pa": 0.95, "f1": 0.5},
            {"auroc": 0.92, "auroc_pa": 0.97, "f1": 0.7}]
    table = report_table({"AE": runs, "PCA": {"auroc": 0.88, "auroc_pa": 0.9, "f1": 0.4}},
                         columns=("auroc", "auroc_pa", "f1"))
    assert list(table.columns) == ["AUROC", "AUROC, PA", "F1"]
    assert table.loc["AE", "AUROC"] == mean_sd([0.90, 0.92])
    assert table.loc["PCA", "F1"] == "0.4000"
    two_level = report_table({("AE", "blurred"): runs[0], ("PCA", "pixel MSE"): runs[1]},
                             columns=("auroc",), index_names=("model", "score"))
    assert isinstance(two_level.index, pd.MultiIndex)
    assert two_level.index.names == ["model", "score"]
    with pytest.raises(ValueError, match="lack"):
        report_table({"AE": runs}, columns=("precision",))


def test_glue_passes_plain_python_values(monkeypatch):
    glued = []
    monkeypatch.setattr(chapter, "_myst_glue",
                        lambda name, value, display: glued.append((name, value, display)))
    verdict = compare([1, 1.1, 0.9], 2.0)
    chapter.glue(mse=np.float32(0.25), n=np.int64(3), label="PCA", verdict=verdict)
    assert glued == [("mse", 0.25, False), ("n", 3, False), ("label", "PCA", False),
                     ("verdict", str(verdict), False)]
    assert type(glued[0][1]) is float and type(glued[1][1]) is int


def test_start_seeds_quiets_and_times_the_chapter(monkeypatch, capsys):
    monkeypatch.setenv("SMOKE_TEST", "1")
    logging.getLogger("tensorflow").setLevel(logging.INFO)
    run = chapter.start(7)
    first = np.random.rand()
    chapter.start(7)
    assert np.random.rand() == first                      # seeded
    assert run.smoke and run.seed == 7
    assert logging.getLogger("tensorflow").level == logging.ERROR
    glued = {}
    monkeypatch.setattr(chapter, "glue", lambda **values: glued.update(values))
    time.sleep(0.05)
    seconds = run.finish()
    assert 0.05 <= seconds < 60 and glued == {"chapter_seconds": seconds}
    assert "whole chapter: 0 s" in capsys.readouterr().out
    monkeypatch.setenv("SMOKE_TEST", "0")
    assert not chapter.start().smoke
