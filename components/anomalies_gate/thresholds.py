"""Default bounds of the validator gate, free of TFX imports (runner/config.py uses them).

Chosen to pass re-splits of the same data with room and to stop a one-class data set and
Fashion-MNIST after digits; the figures behind them: docs/data-checks.md.
"""

MAX_CLASS_SHARE = 0.5
MAX_LABEL_DRIFT = 0.1
MAX_PIXEL_DRIFT = 0.01
# Share of a test split's images that may be exact copies of train images: a test set that
# shares images with training inflates its score.
MAX_DUPLICATE_SHARE = 0.01
