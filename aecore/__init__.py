"""aecore: the companion package of the autoencoders book.

Importing it registers every model and part with Keras, so ``keras.saving.load_model("m.keras")``
works after ``import aecore``. Nothing is printed, plotted or downloaded on import.
"""

__version__ = "0.3.0"  # the one place the version is kept (pyproject.toml reads it)

from aecore import (anomaly, baselines, chapter, data, exercises, interactive,  # noqa: E402
                    interpret, losses, metrics, models, probes, timeseries, train, viz, zoo)
from aecore.data import load_dataset  # noqa: E402
from aecore.metrics import reconstruction_error  # noqa: E402

__all__ = ["anomaly", "baselines", "chapter", "data", "exercises", "interactive", "interpret",
           "losses", "metrics", "models", "probes", "timeseries", "train", "viz", "zoo",
           "load_dataset", "reconstruction_error"]
