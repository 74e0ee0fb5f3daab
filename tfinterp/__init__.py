"""tfinterp: interpretable and adversarially robust image classifiers in Keras 3 / TensorFlow.

Importing this package is cheap: TensorFlow is imported by the submodules that need it
(`tfinterp.data`, `tfinterp.models`, ...), never here, so the CLI can answer `--help` fast.
It does make every tfinterp Keras class loadable by `keras.models.load_model` as soon as
Keras is imported (`tfinterp.keras_objects`).
"""

__version__ = "0.1.0"

from tfinterp.errors import UserError  # noqa: F401  (no TensorFlow import)
from tfinterp import keras_objects as _keras_objects  # noqa: E402  (no TensorFlow import)

_keras_objects.install()
