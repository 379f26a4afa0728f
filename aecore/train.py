"""Seeding, smoke mode and a thin `fit` wrapper that times training and survives restarts."""

from __future__ import annotations

import os
import time

import keras

SMOKE_ENV = "SMOKE_TEST"


def smoke_mode() -> bool:
    """True when the environment variable ``SMOKE_TEST`` is set to anything but ''/0/false.

    Notebooks shrink their work in smoke mode (fewer epochs, a data subset) so that CI can
    execute all of them in minutes. Results from smoke runs are never published.
    """
    return os.environ.get(SMOKE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and the backend so that a run can be repeated."""
    keras.utils.set_random_seed(seed)


def fit(model, x, y=None, *, epochs, batch_size=256, validation_data=None, backup_dir=None,
        verbose=2, callbacks=(), **kwargs):
    """`model.fit` plus two things a long notebook run wants.

    - timing: the returned History has ``history.seconds``, the wall time of training;
    - resuming: with `backup_dir`, Keras' `BackupAndRestore` saves the state after every
      epoch, so re-running an interrupted cell continues where it stopped.

    ``verbose=2`` prints one line per epoch, which reads well in a rendered notebook.
    """
    callbacks = list(callbacks)
    if backup_dir is not None:
        callbacks.append(keras.callbacks.BackupAndRestore(os.fspath(backup_dir)))
    start = time.perf_counter()
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size,
                        validation_data=validation_data, verbose=verbose,
                        callbacks=callbacks, **kwargs)
    history.seconds = time.perf_counter() - start
    return history
