"""The end-of-run summary, read back from ML Metadata and the artifacts it points to.

Everything printed here comes from what the run recorded, not from the runner's memory, so the
summary of a cached run is as complete as that of a fresh one.
"""

import dataclasses
import json
from typing import Dict, List, Optional

import tensorflow_model_analysis as tfma
from tfx.types import standard_artifacts

from image_tfx.components import storage
from image_tfx.components.artifacts import IMAGE_SPEC_PROPERTY, METRICS_FILE, describe_anomalies
from image_tfx.components.artifacts import example_counts, image_spec, load_anomalies
from image_tfx.components.artifacts import load_data_check
from image_tfx.model import features
from image_tfx.records import metadata
from image_tfx.pipeline import pipeline as pipeline_def


@dataclasses.dataclass
class RunSummary:
    """What a person wants to know after a run."""
    run_id: str
    split_counts: Dict[str, int]
    anomalies: Optional[List[str]]  # None: the data was not validated
    data_check: Optional[dict]  # the gate's findings (label counts, drift); None: it did not pass
    accuracy: Optional[float]
    accuracy_per_class: Dict[int, float]
    baseline_accuracy: Optional[float]
    blessed: Optional[bool]
    blessing_reasons: List[str]
    tflite: Optional[dict]  # the TFLite check's metrics.json
    tfjs: Optional[dict]  # the TF.js model's entry in the model card (size, browser check)
    pushed_to: Optional[str]
    not_pushed_reason: Optional[str]
    metadata_path: str
    tensorboard_dir: Optional[str]
    error: str = ''  # why the run failed, as recorded with it
    class_names: Optional[List[str]] = None  # the data set's, by label; None: the numbers


# Beyond this many classes, per-class lines name the lowest few instead of every class.
MAX_LISTED_CLASSES = 12
LOWEST_LISTED = 5


def class_name(class_names: Optional[List[str]], label) -> str:
    """A label's class name, or the label itself when the names are not known."""
    index = int(label)
    return class_names[index] if class_names and index < len(class_names) else str(label)


def per_class(values: Dict, class_names: Optional[List[str]] = None, fmt: str = '{:.3f}') -> str:
    """'name: value' per class in label order, or the lowest few when there are many."""
    items = sorted(values.items(), key=lambda item: int(item[0]))
    if len(items) > MAX_LISTED_CLASSES:
        lowest = sorted(items, key=lambda item: item[1])[:LOWEST_LISTED]
        return (f'{len(items)} classes, lowest: '
                + '  '.join(f'{class_name(class_names, label)}: {fmt.format(v)}'
                            for label, v in lowest))
    return '  '.join(f'{class_name(class_names, label)}: {fmt.format(v)}' for label, v in items)


def describe_tfjs(tfjs: dict) -> str:
    """One line on the TF.js model: size, and what the browser check measured."""
    text = f'{tfjs["bytes"] / 1024:.0f} KB'
    if 'agreement' in tfjs:
        text += (f', agrees with SavedModel on {tfjs["agreement"]:.2%} of {tfjs["examples"]} '
                 f'images in Chromium, {tfjs["latency_ms"]:.2f} ms/image ({tfjs["backend"]} '
                 'backend)')
    if tfjs.get('browser_check', 'passed') != 'passed':
        text += f'; browser check {tfjs["browser_check"]}'
    return text


def _as_tfx(mlmd_artifact, artifact_class):
    artifact = artifact_class()
    artifact.set_mlmd_artifact(mlmd_artifact)
    return artifact


def _anomalies(anomalies_artifact) -> List[str]:
    artifact = _as_tfx(anomalies_artifact, standard_artifacts.ExampleAnomalies)
    return describe_anomalies(load_anomalies(artifact))


def _accuracy(evaluation_uri: str):
    """(overall, per class, baseline overall) accuracy of the evaluated model, from TFMA."""
    overall, baseline, per_class = None, None, {}
    for metrics in tfma.load_metrics(evaluation_uri):
        keys = metrics.slice_key.single_slice_keys
        for item in metrics.metric_keys_and_values:
            key = item.key
            if key.name != pipeline_def.ACCURACY_METRIC or key.is_diff:
                continue
            value = item.value.double_value.value
            # With a baseline TFMA names the models 'candidate' and 'baseline'; without, ''.
            if key.model_name == 'baseline':
                if not keys:
                    baseline = value
            elif not keys:
                overall = value
            elif keys[0].column == features.LABEL_KEY:
                per_class[int(keys[0].int64_value)] = value
    return overall, per_class, baseline


def _blessing_reasons(evaluation_uri: str) -> List[str]:
    """Why TFMA did not bless: each failed threshold with the value it saw."""
    result = tfma.load_validation_result(evaluation_uri)
    reasons = []
    for per_slice in result.metric_validations_per_slice:
        for failure in per_slice.failures:
            name = failure.metric_key.name
            if failure.metric_key.is_diff:
                name += ' change vs. baseline'
            value = failure.metric_value.double_value.value
            threshold = failure.metric_threshold
            if threshold.HasField('value_threshold'):
                rule = (f'below the threshold {threshold.value_threshold.lower_bound.value:g} '
                        '(--accuracy-threshold)')
            else:
                rule = (f'worse than the baseline by more than '
                        f'{-threshold.change_threshold.absolute.value:g} (--max-accuracy-drop)')
            reasons.append(f'{name} {value:.4f} is {rule}')
    if result.missing_thresholds:
        reasons.append('a metric with a threshold was not computed')
    return reasons


def summarize(store, pipeline_name: str, metadata_path: str,
              run_id: Optional[str] = None) -> RunSummary:
    """Builds the summary of a run (default: the latest) of a pipeline."""
    if run_id is None:
        run_id = metadata.run_ids(store, pipeline_name)[-1]
    runs = metadata.node_runs(store, pipeline_name, run_id)
    stats = metadata.first_output(runs, pipeline_def.STATISTICS_GEN, 'statistics')
    anomalies = metadata.first_output(runs, pipeline_def.EXAMPLE_VALIDATOR, 'anomalies')
    data_check = metadata.first_output(runs, pipeline_def.ANOMALIES_GATE, 'result')
    evaluation = metadata.first_output(runs, pipeline_def.EVALUATOR, 'evaluation')
    blessing = metadata.first_output(runs, pipeline_def.EVALUATOR, 'blessing')
    pushed = metadata.first_output(runs, pipeline_def.PUSHER, 'pushed_model')
    model_run = metadata.first_output(runs, pipeline_def.TRAINER, 'model_run')
    tflite_blessing = metadata.first_output(runs, pipeline_def.TFLITE_VALIDATOR, 'blessing')
    accuracy, per_class, baseline = (_accuracy(evaluation.uri) if evaluation
                                     else (None, {}, None))
    blessed = None
    if blessing is not None:
        blessed = blessing.custom_properties['blessed'].int_value == 1
    pushed_to = not_pushed = None
    if pushed is not None and pushed.custom_properties['pushed'].int_value == 1:
        pushed_to = pushed.custom_properties['pushed_destination'].string_value
        if 'already_pushed' in pushed.custom_properties:
            pushed_to += ' (already the newest version: not copied again)'
    elif pushed is not None:
        not_pushed = pushed.custom_properties['not_pushed_reason'].string_value
    tfjs = None
    if pushed is not None and 'tfjs' in pushed.custom_properties:
        tfjs = json.loads(pushed.custom_properties['tfjs'].string_value) or None
    examples = metadata.first_output(runs, pipeline_def.EXAMPLE_GEN, 'examples')
    class_names = None
    if examples is not None and IMAGE_SPEC_PROPERTY in examples.custom_properties:
        class_names = list(image_spec(_as_tfx(examples, standard_artifacts.Examples)).class_names)
    tflite = None
    if tflite_blessing is not None:
        tflite = json.loads(storage.read_text(storage.join(tflite_blessing.uri, METRICS_FILE)))
    return RunSummary(
        run_id=run_id,
        split_counts=(example_counts(_as_tfx(stats, standard_artifacts.ExampleStatistics))
                      if stats else {}),
        anomalies=_anomalies(anomalies) if anomalies else None,
        data_check=load_data_check(data_check.uri) if data_check else None,
        accuracy=accuracy,
        accuracy_per_class=per_class,
        baseline_accuracy=baseline,
        blessed=blessed,
        blessing_reasons=_blessing_reasons(evaluation.uri) if evaluation and not blessed else [],
        tflite=tflite,
        tfjs=tfjs,
        pushed_to=pushed_to,
        not_pushed_reason=not_pushed,
        metadata_path=metadata_path,
        tensorboard_dir=model_run.uri if model_run else None,
        error=metadata.run_error(store, run_id),
        class_names=class_names,
    )


def format_drift(data_check: dict) -> str:
    """The drift figures the gate judged, in one line."""
    if not data_check.get('drift'):
        return f"not checked ({data_check.get('baseline')})"
    figures = ', '.join(
        f"{m['feature']} {m['measure']} {m['value']:.4g} (max {m['threshold']:g}"
        + (', EXCEEDED' if m['drifted'] else '') + ')' for m in data_check['drift'])
    allowed = '; accepted with --allow-drift' if data_check.get('drift_allowed') else ''
    return f"against pushed version {data_check['baseline_version']}: {figures}{allowed}"


def format_data_check(data_check: dict, class_names: Optional[List[str]] = None) -> List[str]:
    """Label counts per split and drift, as summary lines."""
    lines = []
    for i, (split, counts) in enumerate(data_check.get('label_counts', {}).items()):
        lines.append(('  labels:      ' if i == 0 else '               ') + f'{split:<6}'
                     + per_class({k: v for k, v in counts.items() if str(k).isdigit()},
                                 class_names, '{:,}'))
    lines.append('  drift:       ' + format_drift(data_check))
    duplicates = format_duplicates(data_check.get('duplicates'))
    if duplicates:
        lines.append('  duplicates:  ' + duplicates)
    return lines


def format_duplicates(duplicates: Optional[dict]) -> str:
    """Exact copies among the images, as one line ('' when there are none or none were
    looked for)."""
    if not duplicates:
        return ''
    images = duplicates.get('images', {})
    parts = []
    for pair, count in sorted(duplicates.get('across', {}).items()):
        if count:
            split = pair.split('/', 1)[1]
            examples = duplicates.get('across_examples') or []
            named = f' (e.g. {examples[0][0]} = {examples[0][1]})' if examples else ''
            parts.append(f'{count:,} of {images.get(split, 0):,} {split} images are copies of '
                         f'train images{named}')
    within = {s: c for s, c in duplicates.get('within', {}).items() if c}
    if within:
        parts.append('copies within a split: ' + ', '.join(f'{s} {c:,}'
                                                           for s, c in sorted(within.items())))
    if not parts:
        return ''
    return '; '.join(parts) + ' (same decoded pixels; a re-encoded copy is not caught)'


def format_test_scores(test, class_names: Optional[List[str]] = None) -> List[str]:
    """The data set's own test split, scored (not judged: blessing is the eval split's)."""
    if not test:
        return []
    model = test['saved_model']
    return [f'  test accuracy: {model["accuracy"]:.4f} ({test["examples"]:,} images of the test '
            f'split; TFLite float32 {test["float32"]["accuracy"]:.4f}, int8 '
            f'{test["int8"]["accuracy"]:.4f})',
            '  per class:   ' + per_class(model['per_class'], class_names)]


def format_summary(summary: RunSummary, accuracy_threshold: float) -> str:
    """The summary as the lines run_local.py prints."""
    lines = [f'Run {summary.run_id}']
    if summary.split_counts:
        lines.append('  data:        ' + ', '.join(
            f'{split} {count:,}' for split, count in summary.split_counts.items()))
    if summary.anomalies is not None:
        lines.append('  anomalies:   ' + ('none' if not summary.anomalies else
                                          '\n    '.join([''] + summary.anomalies)))
    if summary.data_check is not None:
        lines += format_data_check(summary.data_check, summary.class_names)
    if summary.accuracy is not None:
        baseline = ('' if summary.baseline_accuracy is None
                    else f' (last pushed model: {summary.baseline_accuracy:.4f})')
        lines.append(f'  eval accuracy: {summary.accuracy:.4f}{baseline}')
        lines.append('  per class:   ' + per_class(summary.accuracy_per_class, summary.class_names))
    if summary.blessed is not None:
        if summary.blessed:
            compared = ('no earlier pushed model to compare with'
                        if summary.baseline_accuracy is None
                        else 'not worse than the last pushed model')
            lines.append(f'  blessed:     yes (accuracy >= {accuracy_threshold}; {compared})')
        else:
            lines.append('  blessed:     NO: ' + ('; '.join(summary.blessing_reasons)
                                                 or 'see the Evaluator output'))
    if summary.tflite:
        t, base = summary.tflite, summary.tflite['saved_model']
        lines.append(f'  SavedModel:  accuracy {base["accuracy"]:.4f}, '
                     f'{base["latency_ms"]:.2f} ms/image')
        for name in ('float32', 'int8'):
            m = t[name]
            lines.append(f'  TFLite {name + ":":<8} {m["bytes"] / 1024:.0f} KB, accuracy '
                         f'{m["accuracy"]:.4f}, agrees with SavedModel on {m["agreement"]:.2%}, '
                         f'{m["latency_ms"]:.3f} ms/image'
                         + (f' ({m["fps"]:,.0f} images/s)' if 'fps' in m else ''))
        budgets = t.get('budgets') or {}
        limits = ', '.join(([f'int8 at most {budgets["max_bytes"]:,} bytes']
                            if budgets.get('max_bytes') else [])
                           + ([f'at least {budgets["min_fps"]:g} images/s']
                              if budgets.get('min_fps') else []))
        lines.append('  TFLite check: ' + ('passed' if t['blessed'] else
                                           'FAILED: ' + '; '.join(t['reasons']))
                     + (f' (budgets: {limits})' if limits else ''))
        lines += format_test_scores(t.get('test'), summary.class_names)
    if summary.tfjs:
        lines.append('  TF.js:       ' + describe_tfjs(summary.tfjs))
    if summary.pushed_to:
        lines.append(f'  pushed to:   {summary.pushed_to}')
    else:
        lines.append('  pushed to:   nothing pushed'
                     + (f' ({summary.not_pushed_reason})' if summary.not_pushed_reason else ''))
    lines.append(f'  ML Metadata: {summary.metadata_path}')
    if summary.tensorboard_dir:
        lines.append(f'  TensorBoard: tensorboard --logdir {summary.tensorboard_dir}')
    return '\n'.join(lines)
