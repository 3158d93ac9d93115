"""Default bounds of the validator gate, free of TFX imports (runner/config.py uses them).

Chosen to pass re-splits of the same data with room and to stop a one-class data set and
Fashion-MNIST after digits; the figures behind them: docs/data-checks.md.
"""

MAX_CLASS_SHARE = 0.5
MAX_LABEL_DRIFT = 0.1
MAX_PIXEL_DRIFT = 0.01
