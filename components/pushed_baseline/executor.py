"""Executors of the baseline components: what is pushed is the source of truth.

The baseline of a run is read from the serving directory, not from ML Metadata's blessings: a
model the Evaluator blessed but the TFLite check refused was never pushed, and so never becomes
the bar later models must clear. Both runners (local, Kubeflow) judge the same way.

Each skips the versions that came from this run's own input (the same Examples artifact, or
the candidate model itself), so that a repeated run compares with what was there before it and
stays cached. The chosen version is copied into the output artifact (TFX publishes outputs at
the URIs it assigned); an output with `pushed_version` '' means there is no baseline.
"""

from typing import Any, Dict, List, Optional, Tuple

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import path_utils

from image_tfx.components import pushed_layout
from image_tfx.components import storage
from image_tfx.components.pushed_baseline import spec

VERSION_PROPERTY = 'pushed_version'
# Not 'pushed_destination': that names the PushedModel that holds a pushed folder (inspect).
SOURCE_PROPERTY = 'copied_from'


def _card_value(card: Dict[str, Any], *keys: str) -> Optional[str]:
    for key in keys:
        card = card.get(key) if isinstance(card, dict) else None
    return card


def statistics_baseline(serving_dir: str, examples_uri: str) -> Tuple[Optional[str], Any]:
    """The newest pushed version not trained on these examples, and its model card."""
    return pushed_layout.latest(
        serving_dir, skip=lambda card: _card_value(card, 'data', 'examples_uri') == examples_uri)


def model_baseline(serving_dir: str, model_uri: str) -> Tuple[Optional[str], Any]:
    """The newest pushed version that is not this model, and its model card."""
    return pushed_layout.latest(
        serving_dir, skip=lambda card: _card_value(card, 'trained_model', 'uri') == model_uri)


def choose(kind: str, serving_dir: str, input_dict: Dict[str, List[types.Artifact]]):
    """(version, card) for a component kind ('statistics' or 'model') and its inputs."""
    if kind == spec.STATISTICS_KEY:
        examples = artifact_utils.get_single_instance(input_dict[spec.EXAMPLES_KEY])
        return statistics_baseline(serving_dir, examples.uri)
    model = artifact_utils.get_single_instance(input_dict[spec.MODEL_KEY])
    return model_baseline(serving_dir, model.uri)


def _record(artifact: types.Artifact, serving_dir: str, version: Optional[str]) -> None:
    artifact.set_string_custom_property(VERSION_PROPERTY, version or '')
    artifact.set_string_custom_property(
        SOURCE_PROPERTY, storage.join(serving_dir, version) if version else '')


class StatisticsExecutor(base_executor.BaseExecutor):
    """Copies the statistics of the last pushed model's data (those that travel with it)."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        serving_dir = exec_properties[spec.SERVING_DIR_KEY]
        version, _ = choose(spec.STATISTICS_KEY, serving_dir, input_dict)
        output = artifact_utils.get_single_instance(output_dict[spec.STATISTICS_KEY])
        storage.makedirs(output.uri)
        splits = []
        if version:
            source = pushed_layout.extra(storage.join(serving_dir, version),
                                          pushed_layout.STATISTICS_DIR)
            if fileio.exists(source):
                storage.copy_tree(source, output.uri)
                splits = sorted(name.rstrip('/')[len('Split-'):] for name in fileio.listdir(source)
                                if name.startswith('Split-'))
        output.split_names = artifact_utils.encode_split_names(splits)
        _record(output, serving_dir, version)


class ModelExecutor(base_executor.BaseExecutor):
    """Copies the last pushed SavedModel other than the candidate, as a Model artifact."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        serving_dir = exec_properties[spec.SERVING_DIR_KEY]
        version, _ = choose(spec.MODEL_KEY, serving_dir, input_dict)
        output = artifact_utils.get_single_instance(output_dict[spec.BASELINE_MODEL_KEY])
        storage.makedirs(output.uri)
        if version:
            pushed_layout.copy_saved_model(storage.join(serving_dir, version),
                                           path_utils.serving_model_dir(output.uri))
        _record(output, serving_dir, version)


def has_baseline(artifact: types.Artifact) -> bool:
    """Whether a baseline output holds a pushed version (False on a first run)."""
    return bool(artifact.get_string_custom_property(VERSION_PROPERTY))
