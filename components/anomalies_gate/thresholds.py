"""Default bounds of the validator gate, free of TFX imports (pipeline/config.py uses them).

A class of MNIST or Fashion-MNIST holds about a tenth of the examples: half is far from that,
and still stops a one-class data set. Re-splits of the same data move the label shares by a
few hundredths and the pixel histogram's Jensen-Shannon divergence by under a thousandth;
Fashion-MNIST after digits moves the latter by about a tenth (docs/data-checks.md).
"""

MAX_CLASS_SHARE = 0.5
MAX_LABEL_DRIFT = 0.1
MAX_PIXEL_DRIFT = 0.01
