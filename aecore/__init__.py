"""aecore: the companion package of the autoencoders book.

Importing it registers every model with Keras, so ``keras.saving.load_model("m.keras")``
works after ``import aecore``. Nothing is printed, plotted or downloaded on import.
"""

from aecore import anomaly, baselines, data, metrics, models, probes, train, viz
from aecore.data import load_dataset
from aecore.metrics import reconstruction_error

__version__ = "0.1.0"
__all__ = ["anomaly", "baselines", "data", "metrics", "models", "probes", "train", "viz",
           "load_dataset", "reconstruction_error"]
