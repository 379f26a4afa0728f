"""aecore.book: the sentences and numbers the chapters glue into the book's prose."""

import time

import numpy as np
import pytest

from aecore import book


@pytest.mark.parametrize("ours, theirs, sentence", [
    (0.82, 1.0, "the autoencoder's test error is 18% lower than PCA's"),
    (1.25, 1.0, "the autoencoder's test error is 25% higher than PCA's"),
    (1.004, 1.0, "the autoencoder's test error is within 0.5% of PCA's"),
    (0.996, 1.0, "the autoencoder's test error is within 0.5% of PCA's"),
    (np.float32(0.5), np.float64(1.0), "the autoencoder's test error is 50% lower than PCA's"),
    # per seed: the means are compared
    ([0.80, 0.82, 0.84], [1.0, 1.01, 0.99], "the autoencoder's test error is 18% lower than "
                                            "PCA's"),
])
def test_compare_sentences(ours, theirs, sentence):
    assert book.compare(ours, theirs) == sentence


def test_compare_calls_a_gap_within_the_seed_spread_a_tie():
    ours, theirs = [0.90, 1.00, 1.10], [1.02, 1.03, 1.04]  # means 1.00 and 1.03, std 0.1
    assert book.compare(ours, theirs, names=("the VAE", "the AE"), measure="AUROC") == (
        "the VAE and the AE tie: their mean AUROCs differ by less than the spread over seeds")
    # the same gap with one number each is not a tie: there is no spread to compare with
    assert book.compare(1.00, 1.03) == "the autoencoder's test error is 3% lower than PCA's"
    # a gap larger than the spread is not a tie either
    assert "lower" in book.compare([0.5, 0.51, 0.52], [1.0, 1.01, 1.02])
    # seeds against a deterministic baseline: the seeds' own spread decides
    assert "tie" in book.compare([0.95, 1.0, 1.05], 1.02)
    assert "lower" in book.compare([0.90, 0.91, 0.92], 1.0)


@pytest.mark.parametrize("ours, theirs, match", [
    (1.0, 0.0, "must not be zero"),
    (np.nan, 1.0, "finite"),
    ([], 1.0, "finite"),
    (1.0, np.inf, "finite"),
])
def test_compare_bad_numbers(ours, theirs, match):
    with pytest.raises(ValueError, match=match):
        book.compare(ours, theirs)


def test_glue_passes_plain_python_values(monkeypatch):
    glued = []
    monkeypatch.setattr(book, "_myst_glue",
                        lambda name, value, display: glued.append((name, value, display)))
    book.glue(mse=np.float32(0.25), n=np.int64(3), label="PCA", ratio=0.5)
    assert glued == [("mse", 0.25, False), ("n", 3, False), ("label", "PCA", False),
                     ("ratio", 0.5, False)]
    assert type(glued[0][1]) is float and type(glued[1][1]) is int


@pytest.mark.parametrize("installed", [True, False])
def test_glue_runs_with_numpy_scalars_in_or_out_of_a_book_build(installed, monkeypatch):
    if not installed:
        monkeypatch.setattr(book, "_myst_glue", None)  # Colab, a plain Jupyter
    assert book.glue(error=np.float64(0.0123), seeds=np.int32(3)) is None


def test_chapter_timer_keeps_prints_and_glues_the_seconds(monkeypatch, capsys):
    glued = {}
    monkeypatch.setattr(book, "glue", lambda **values: glued.update(values))
    start = time.perf_counter()
    timer = book.ChapterTimer()
    time.sleep(0.05)
    assert timer.finish() is None  # nothing echoed under a notebook's last cell
    seconds = timer.seconds
    assert isinstance(seconds, float) and 0.05 <= seconds <= time.perf_counter() - start
    assert glued == {"chapter_seconds": seconds}
    assert "whole chapter: 0 s" in capsys.readouterr().out
