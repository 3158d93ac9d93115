"""The layout of a pushed version folder, `<serving dir>/<version>/`, in one place.

A version folder is the SavedModel itself, as TF Serving loads it (`--model_base_path` = the
serving dir: it serves the highest numeric folder, reading `saved_model.pb` and `variables/`).
Everything else goes in `assets.extra/`, which TF Serving leaves alone except for its warm-up
file:

    <version>/saved_model.pb, variables/, assets/     the SavedModel
    <version>/assets.extra/
        tf_serving_warmup_requests   PredictionLog records TF Serving replays before serving
        model_float32.tflite, model_int8.tflite
        tfjs/model.json + shards     TensorFlow.js graph model (serving_images)
        labels.txt, model_card.json
        statistics/                  TFDV statistics of the training data

The Pusher writes it; the baseline components read it back (the last pushed model and the
statistics of its data are the baseline of the next run); predict, the web page and the tests
read it too.
"""

import json
from typing import Any, Callable, Dict, List, Optional, Tuple

from tfx.dsl.io import fileio

from image_tfx.data import object_store
from image_tfx.components import storage

# TF Serving's names (tensorflow/cc/saved_model/constants.h, saved_model_warmup_util.h).
EXTRA_DIR = 'assets.extra'
WARMUP_FILE = 'tf_serving_warmup_requests'
# The SavedModel's own entries in a version folder (what a copy of the model takes).
SAVED_MODEL_FILE = 'saved_model.pb'
SAVED_MODEL_PARTS = (SAVED_MODEL_FILE, 'variables', 'assets', 'fingerprint.pb')
LABELS_FILE = 'labels.txt'
MODEL_CARD_FILE = 'model_card.json'
TFJS_DIR = 'tfjs'
# TFDV statistics of the data the model was trained on, one `Split-<name>/FeatureStats.pb` each.
STATISTICS_DIR = 'statistics'


def extra(version_dir: str, name: str) -> str:
    """The path of one of a version's extra files (`name` in assets.extra/)."""
    return storage.join(version_dir, EXTRA_DIR, name)


def copy_saved_model(version_dir: str, target: str) -> None:
    """Copies only the SavedModel of a version (not its extras) to `target`."""
    storage.makedirs(target)
    for name in SAVED_MODEL_PARTS:
        source = storage.join(version_dir, name)
        if fileio.isdir(source):
            storage.copy_tree(source, storage.join(target, name))
        elif fileio.exists(source):
            fileio.copy(source, storage.join(target, name), overwrite=True)


def versions(serving_dir: str) -> List[str]:
    """Finished version folder names under a serving directory, newest (highest) first."""
    if not fileio.exists(serving_dir):
        return []
    names = [name.rstrip('/') for name in fileio.listdir(serving_dir)]
    return sorted((n for n in names if n.isdigit() and fileio.exists(
        storage.join(serving_dir, n, SAVED_MODEL_FILE))), key=int, reverse=True)


def publish(staging: str, final: str) -> None:
    """Moves a version assembled under a hidden name to its number, never showing it half-made.

    On a local disk that is one rename, atomic. On object storage there is no rename: each
    object is copied, and a reader listing the bucket meanwhile sees some of them. So every file
    is copied but `saved_model.pb`, which goes last: a version folder without it is unfinished.
    `versions` skips such a folder; TF Serving's loader fails on it and retries (its
    `max_num_load_retries`), by which time the copy is done. A push that dies mid-copy leaves a
    folder without `saved_model.pb`, which stays unfinished, and the next push takes a higher
    number.
    """
    if not object_store.is_remote(final):
        fileio.rename(staging, final)
        return
    last = None
    for path, relative in storage.files(staging):
        if relative == SAVED_MODEL_FILE:
            last = path
            continue
        target = storage.join(final, relative)
        fileio.makedirs(target.rsplit('/', 1)[0])
        fileio.copy(path, target, overwrite=True)
    if last is None:
        raise ValueError(f'{staging}: no {SAVED_MODEL_FILE} to publish')
    fileio.copy(last, storage.join(final, SAVED_MODEL_FILE), overwrite=True)
    storage.remove_tree(staging)


def read_card(version_dir: str) -> Optional[Dict[str, Any]]:
    """A version's model card, or None when it has none that parses (not a version of ours)."""
    path = extra(version_dir, MODEL_CARD_FILE)
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
