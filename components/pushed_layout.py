"""The layout of a pushed version folder, `<serving dir>/<version>/`, in one place.

The Pusher writes it; the baseline components read it back (the last pushed model and the
statistics of its data are the baseline of the next run); predict and the tests read it too.
Versions are numeric folder names, the newest the highest, as TF Serving picks them.
"""

import json
from typing import Any, Callable, Dict, List, Optional, Tuple

from tfx.dsl.io import fileio

from mnist_tfx.components import storage

SAVED_MODEL_DIR = 'saved_model'
LABELS_FILE = 'labels.txt'
MODEL_CARD_FILE = 'model_card.json'
# TFDV statistics of the data the model was trained on, one `Split-<name>/FeatureStats.pb` each.
STATISTICS_DIR = 'statistics'


def versions(serving_dir: str) -> List[str]:
    """Version folder names under a serving directory, newest (highest) first."""
    if not fileio.exists(serving_dir):
        return []
    names = [name.rstrip('/') for name in fileio.listdir(serving_dir)]
    return sorted((n for n in names if n.isdigit()), key=int, reverse=True)


def read_card(version_dir: str) -> Optional[Dict[str, Any]]:
    """A version's model card, or None when it has none that parses (not a version of ours)."""
    path = storage.join(version_dir, MODEL_CARD_FILE)
    try:
        return json.loads(storage.read_text(path)) if fileio.exists(path) else None
    except (ValueError, UnicodeDecodeError):
        return None


def latest(serving_dir: str, skip: Callable[[Dict[str, Any]], bool] = lambda card: False
           ) -> Tuple[Optional[str], Optional[Dict[str, Any]]]:
    """(version, model card) of the newest pushed version that `skip` does not reject."""
    for version in versions(serving_dir):
        card = read_card(storage.join(serving_dir, version))
        if card is not None and not skip(card):
            return version, card
    return None, None
