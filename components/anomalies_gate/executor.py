"""Executor of AnomaliesGate: fails the run, naming each problem, when the data is not fit
to train on.

ExampleValidator only records anomalies; on its own a pipeline would go on to train on bad
data. The gate turns these into a failed execution, so that Transform (and through it Trainer,
Evaluator and Pusher) never runs:
  * schema anomalies and custom validations (ExampleValidator's output);
  * labels, from the label feature's counts in TFDV's statistics (the schema marks the label
    categorical, so StatisticsGen counts every class): a class of the schema missing from
    train or eval, or one class holding more than `max_class_share` of a split, as happens
    when a reader takes the wrong column for the label;
  * drift from the data behind the last pushed model (its statistics travel with the pushed
    version): TFDV's drift comparators on the train split, L-infinity distance of the label
    shares and Jensen-Shannon divergence of the pixel histogram. `allow_drift` records the
    figures without stopping, for a deliberate change of data.
Whatever passes is recorded in the `result` artifact (data_check.json) for the summary, the
report and the model card.
"""

import copy
import json
from typing import Any, Dict, List, Optional, Tuple

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils

from image_tfx.components import storage
from image_tfx.components.anomalies_gate import thresholds
from image_tfx.components.artifacts import DATA_CHECK_FILE, DUPLICATES_PROPERTY, describe_anomalies
from image_tfx.components.artifacts import load_anomalies
from image_tfx.components.artifacts import load_statistics
from image_tfx.components.anomalies_gate import spec
from image_tfx.model import features

# The custom property on a baseline statistics artifact naming the pushed version it belongs
# to ('' when nothing was pushed yet); see components/pushed_baseline.
BASELINE_VERSION_PROPERTY = 'pushed_version'
# Splits whose labels are judged; a data set's own test split is counted, not judged.
JUDGED_SPLITS = ('train', 'eval')
DRIFT_SPLIT = 'train'


def duplicate_problems(duplicates: Dict[str, Any], max_share: float) -> List[str]:
    """One line per split whose share of copies of train images exceeds max_share, naming a
    few of the copies."""
    lines = []
    images = duplicates.get('images', {})
    for pair, count in sorted(duplicates.get('across', {}).items()):
        split = pair.split('/', 1)[1]
        total = images.get(split, 0)
        if count and total and count / total > max_share:
            named = [f'{copy} = {original}'
                     for copy, original in duplicates.get('across_examples', [])[:3]]
            lines.append(f"split '{split}': {count} of {total} images ({count / total:.1%}) are "
                         f"exact copies of train images, above {max_share:.1%} "
                         f"(--max-duplicate-share), e.g. {'; '.join(named)}")
    return lines


class AnomaliesFoundError(RuntimeError):
    """The data is not fit to train on; the message lists what and where."""


def _feature(stats: statistics_pb2.DatasetFeatureStatistics, name: str):
    for feature in stats.features:
        if list(feature.path.step) == [name] or feature.name == name:
            return feature
    return None


def label_counts(stats: statistics_pb2.DatasetFeatureStatistics) -> Dict[str, int]:
    """Examples per label value, from the label's rank histogram (a categorical feature's)."""
    feature = _feature(stats, features.LABEL_KEY)
    if feature is None:
        return {}
    if not feature.HasField('string_stats'):
        raise ValueError(f"the statistics count no label values: the '{features.LABEL_KEY}' "
                         'feature must be categorical in the schema given to StatisticsGen')
    return {bucket.label: int(bucket.sample_count)
            for bucket in feature.string_stats.rank_histogram.buckets}


def schema_classes(schema: schema_pb2.Schema) -> List[str]:
    """The label values the schema allows, in order, as TFDV writes them ('0', '1', ...)."""
    for feature in schema.feature:
        if feature.name == features.LABEL_KEY and feature.HasField('int_domain'):
            return [str(v) for v in range(feature.int_domain.min, feature.int_domain.max + 1)]
    raise ValueError(f"the schema gives no int_domain for '{features.LABEL_KEY}'")


def label_problems(counts: Dict[str, Dict[str, int]], classes: List[str],
                   max_class_share: float) -> List[str]:
    """Missing classes and dominant classes in the judged splits, with the counts."""
    problems = []
    for split in JUDGED_SPLITS:
        if split not in counts:
            continue
        by_class = counts[split]
        total = sum(by_class.values())
        missing = [c for c in classes if not by_class.get(c)]
        if missing:
            problems.append(
                f"split '{split}': no examples of class {', '.join(missing)} "
                f"({total:,} examples: " + ', '.join(
                    f'{c}: {by_class.get(c, 0):,}' for c in classes) + ')')
        for name, count in sorted(by_class.items(), key=lambda item: -item[1]):
            if total and count / total > max_class_share:
                problems.append(
                    f"split '{split}': class {name} holds {count:,} of {total:,} examples "
                    f'({count / total:.1%}), more than the allowed {max_class_share:.0%} '
                    '(--max-class-share); is the label in the column the reader expects?')
    return problems


def _drift_schema(schema: schema_pb2.Schema, max_label_drift: float,
                  max_pixel_drift: float) -> schema_pb2.Schema:
    drift_schema = copy.deepcopy(schema)
    for feature in drift_schema.feature:
        if feature.name == features.LABEL_KEY:
            feature.drift_comparator.infinity_norm.threshold = max_label_drift
        elif feature.name == features.PIXELS_KEY:
            feature.drift_comparator.jensen_shannon_divergence.threshold = max_pixel_drift
    return drift_schema


def _mean(stats, name: str) -> Optional[float]:
    feature = _feature(stats, name)
    return feature.num_stats.mean if feature is not None and feature.HasField('num_stats') \
        else None


def measure_drift(current: statistics_pb2.DatasetFeatureStatistics,
                  previous: statistics_pb2.DatasetFeatureStatistics, schema: schema_pb2.Schema,
                  max_label_drift: float, max_pixel_drift: float) -> List[Dict[str, Any]]:
    """TFDV's drift measurements of the label and the pixels, each with its threshold."""
    import tensorflow_data_validation as tfdv
    wrap = lambda stats: statistics_pb2.DatasetFeatureStatisticsList(datasets=[stats])  # noqa: E731
    anomalies = tfdv.validate_statistics(
        wrap(current), _drift_schema(schema, max_label_drift, max_pixel_drift),
        previous_statistics=wrap(previous))
    names = {anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: 'L-infinity distance',
             anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE:
                 'Jensen-Shannon divergence'}
    wanted = {features.LABEL_KEY: anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY,
              features.PIXELS_KEY:
                  anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE}
    result = []
    for info in anomalies.drift_skew_info:
        feature = '.'.join(info.path.step)
        for measurement in info.drift_measurements:
            if wanted.get(feature) != measurement.type:
                continue
            result.append({'feature': feature, 'measure': names[measurement.type],
                           'value': float(measurement.value),
                           'threshold': float(measurement.threshold),
                           'drifted': bool(measurement.value > measurement.threshold)})
    return result


def describe_drift(drift: List[Dict[str, Any]], version: str,
                   counts: Tuple[Dict[str, int], Dict[str, int]],
                   means: Tuple[Optional[float], Optional[float]]) -> List[str]:
    """One line per drifted feature: what moved, by how much, against which pushed version."""
    lines = []
    for item in drift:
        if not item['drifted']:
            continue
        detail = ''
        if item['feature'] == features.LABEL_KEY:
            now, before = counts
            now_total, before_total = sum(now.values()) or 1, sum(before.values()) or 1
            moved = max(set(now) | set(before), key=lambda c: abs(
                now.get(c, 0) / now_total - before.get(c, 0) / before_total))
            detail = (f'; most: class {moved}, {before.get(moved, 0) / before_total:.1%} of the '
                      f'pushed data, {now.get(moved, 0) / now_total:.1%} now')
        elif means[0] is not None and means[1] is not None:
            detail = f'; mean pixel {means[1]:.1f} in the pushed data, {means[0]:.1f} now'
        option = '--max-label-drift' if item['feature'] == features.LABEL_KEY \
            else '--max-pixel-drift'
        lines.append(f"split '{DRIFT_SPLIT}', feature '{item['feature']}': drifted from the data "
                     f"of pushed version {version}: {item['measure']} {item['value']:.4g} > "
                     f'{item["threshold"]:g} ({option}){detail}')
    return lines


class Executor(base_executor.BaseExecutor):
    """Raises AnomaliesFoundError naming every problem; otherwise records what it measured."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]], exec_properties: Dict[str, Any]) -> None:
        get = lambda key: artifact_utils.get_single_instance(input_dict[key])  # noqa: E731
        import tensorflow_data_validation as tfdv
        schema = tfdv.load_schema_text(
            storage.join(get(spec.SCHEMA_KEY).uri, 'schema.pbtxt'))
        lines = describe_anomalies(load_anomalies(get(spec.ANOMALIES_KEY)))
        stats = load_statistics(get(spec.STATISTICS_KEY))
        counts = {split: label_counts(s) for split, s in stats.items()}
        lines += label_problems(counts, schema_classes(schema),
                                exec_properties[spec.MAX_CLASS_SHARE_KEY])

        baseline = get(spec.BASELINE_STATISTICS_KEY)
        version = baseline.get_string_custom_property(BASELINE_VERSION_PROPERTY)
        baseline_stats = load_statistics(baseline) if version else {}
        drift, drift_lines, allowed = [], [], bool(exec_properties.get(spec.ALLOW_DRIFT_KEY))
        if DRIFT_SPLIT in baseline_stats and DRIFT_SPLIT in stats:
            now, before = stats[DRIFT_SPLIT], baseline_stats[DRIFT_SPLIT]
            drift = measure_drift(now, before, schema, exec_properties[spec.MAX_LABEL_DRIFT_KEY],
                                  exec_properties[spec.MAX_PIXEL_DRIFT_KEY])
            drift_lines = describe_drift(
                drift, version, (counts[DRIFT_SPLIT], label_counts(before)),
                (_mean(now, features.PIXELS_KEY), _mean(before, features.PIXELS_KEY)))
            if not allowed:
                lines += [line + '; --allow-drift accepts a deliberate change'
                          for line in drift_lines]

        duplicates = {}
        if input_dict.get(spec.EXAMPLES_KEY):
            examples = get(spec.EXAMPLES_KEY)
            if examples.has_custom_property(DUPLICATES_PROPERTY):
                duplicates = json.loads(examples.get_string_custom_property(DUPLICATES_PROPERTY))
        lines += duplicate_problems(duplicates, exec_properties.get(
            spec.MAX_DUPLICATE_SHARE_KEY, thresholds.MAX_DUPLICATE_SHARE))

        result = artifact_utils.get_single_instance(output_dict[spec.RESULT_KEY])
        finding = {
            'duplicates': duplicates or None,
            'label_counts': counts,
            'baseline_version': version or None,
            'baseline': (f'the data of pushed version {version}' if version and drift else
                         f'pushed version {version} has no statistics of its data' if version
                         else 'nothing pushed yet, or only models of this same data'),
            'drift': drift,
            'drift_allowed': allowed and bool(drift_lines),
        }
        storage.makedirs(result.uri)
        storage.write_text(storage.join(result.uri, DATA_CHECK_FILE), json.dumps(finding, indent=2))
        result.set_string_custom_property('baseline_version', version or '')
        result.set_int_custom_property('drifted', int(bool(drift_lines)))
        if lines:
            raise AnomaliesFoundError(
                'the data is not fit to train on, so nothing was trained or pushed:\n  '
                + '\n  '.join(lines))
