"""tfinterp: interpretable and adversarially robust image classifiers in Keras 3 / TensorFlow.

Importing this package is cheap: TensorFlow is imported by the submodules that need it
(`tfinterp.data`, `tfinterp.models`, ...), never here, so the CLI can answer `--help` fast.
"""

__version__ = "0.1.0"

from tfinterp.errors import UserError  # noqa: F401  (no TensorFlow import)
