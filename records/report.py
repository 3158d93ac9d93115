"""A self-contained HTML report of one run, for a person to open in a browser.

Everything comes from ML Metadata and the artifacts it points to: data per split (counts, label
bars, pixel histogram, sample images), anomalies, training curves from the TensorBoard event
files, evaluation overall and per class with a confusion matrix, model sizes per format, and the
run's lineage as a picture. Charts are inline SVG and images inline PNG: one file, no scripts, no
network.
"""

import base64
import collections
import datetime
import functools
import html
import io
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from tfx.utils import path_utils

from image_tfx.data import object_store
from image_tfx.components import storage
from image_tfx.components.storage import folder_bytes
from image_tfx.model import features
from image_tfx.records import metadata
from image_tfx.pipeline import pipeline as pipeline_def
from image_tfx.records import summary as summary_lib

SECTIONS = ('overview', 'data', 'anomalies', 'training', 'evaluation', 'models', 'lineage')
_CSS = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th{background:#f4f4f4}.ok{color:#1a7f37}.bad{color:#c62828}
.charts{display:flex;flex-wrap:wrap;gap:1.5em}
figure{margin:0}figcaption{font-size:.85em;color:#555}code{background:#f4f4f4;padding:0 3px}
.grid img{image-rendering:pixelated;width:56px;height:56px;margin:2px;border:1px solid #ccc}
"""


def _esc(value) -> str:
    return html.escape(str(value))


def _svg_bars(values: Sequence[float], labels: Sequence[str], title: str, width: int = 420,
              height: int = 180) -> str:
    top = max(values) if len(values) and max(values) > 0 else 1
    step = (width - 40) / max(len(values), 1)
    bars = []
    for i, (value, label) in enumerate(zip(values, labels)):
        h = (height - 40) * value / top
        x = 30 + i * step
        bars.append(f'<rect x="{x + 2:.1f}" y="{height - 20 - h:.1f}" width="{step - 4:.1f}" '
                    f'height="{h:.1f}" fill="#4a7fc1">'
                    f'<title>{_esc(label)}: {value:g}</title></rect>'
                    f'<text x="{x + step / 2:.1f}" y="{height - 6}" font-size="10" '
                    f'text-anchor="middle">{_esc(label)}</text>')
    return (f'<figure><svg width="{width}" height="{height}" role="img">{"".join(bars)}'
            f'<text x="30" y="12" font-size="11">max {top:g}</text></svg>'
            f'<figcaption>{_esc(title)}</figcaption></figure>')


def _svg_lines(series: Dict[str, List[float]], title: str, width: int = 420,
               height: int = 200) -> str:
    values = [v for s in series.values() for v in s]
    if not values:
        return f'<p>No {_esc(title)} recorded.</p>'
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    longest = max(len(s) for s in series.values())
    colours = ['#4a7fc1', '#e07b39', '#1a7f37', '#8e44ad']
    parts = []
    for i, (name, points) in enumerate(series.items()):
        xy = [(40 + (width - 60) * (j / max(longest - 1, 1)),
               height - 25 - (height - 45) * (v - low) / span) for j, v in enumerate(points)]
        path = ' '.join(f'{x:.1f},{y:.1f}' for x, y in xy)
        colour = colours[i % len(colours)]
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>' for x, y in xy)
        parts.append(f'<text x="{width - 110}" y="{14 + 13 * i}" font-size="11" '
                     f'fill="{colour}">{_esc(name)}</text>')
    parts.append(f'<text x="2" y="20" font-size="10">{high:.3f}</text>'
                 f'<text x="2" y="{height - 25}" font-size="10">{low:.3f}</text>'
                 f'<text x="{width / 2:.0f}" y="{height - 5}" font-size="10">'
                 f'epoch 1-{longest}</text>')
    return (f'<figure><svg width="{width}" height="{height}" role="img">{"".join(parts)}</svg>'
            f'<figcaption>{_esc(title)}</figcaption></figure>')


def _png(image: np.ndarray) -> str:
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(image.astype(np.uint8)).save(buffer, format='PNG')
    return 'data:image/png;base64,' + base64.b64encode(buffer.getvalue()).decode()


def _training_curves(log_dir: Optional[str]) -> Dict[str, Dict[str, List[float]]]:
    """{'loss': {'train': [...], 'validation': [...]}, 'accuracy': {...}} from event files."""
    import tensorflow as tf
    curves: Dict[str, Dict[str, List[float]]] = collections.defaultdict(dict)
    if not log_dir:
        return curves
    for part in ('train', 'validation'):
        # glob rather than isdir/listdir: on S3 a folder is only a prefix of object names
        event_files = sorted(tf.io.gfile.glob(storage.join(log_dir, part, '*')))
        if not event_files:
            continue
        points: Dict[str, Dict[int, float]] = collections.defaultdict(dict)
        for event_file in event_files:
            for event in tf.compat.v1.train.summary_iterator(event_file):
                for value in event.summary.value:
                    if value.tag in ('epoch_loss', 'epoch_accuracy'):
                        number = (float(tf.make_ndarray(value.tensor)) if value.HasField('tensor')
                                  else value.simple_value)
                        points[value.tag[len('epoch_'):]][event.step] = number
        for metric, by_step in points.items():
            curves[metric][part] = [by_step[s] for s in sorted(by_step)]
    return curves


def _split_data(examples) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """(pixels [n, H, W, C], labels [n]) of every split of an Examples artifact (MLMD proto)."""
    from image_tfx.components.artifacts import read_examples
    from tfx.types import artifact_utils, standard_artifacts
    artifact = standard_artifacts.Examples()
    artifact.set_mlmd_artifact(examples)
    return {split: read_examples(artifact, split)[1:]
            for split in artifact_utils.decode_split_names(artifact.split_names)}


# Beyond this many classes the confusion matrix is left out (a 200 x 200 table helps nobody).
MAX_CONFUSION_CLASSES = 20


def _confusion(model_uri: str, pixels: np.ndarray, labels: np.ndarray,
               num_classes: int) -> np.ndarray:
    import tensorflow as tf
    from image_tfx.model.export import CLASS_IDS_KEY, IMAGES_SIGNATURE
    serve = tf.saved_model.load(path_utils.serving_model_dir(model_uri)).signatures[
        IMAGES_SIGNATURE]
    images = features.as_images_input(pixels, pixels.shape[1:])
    predicted = np.concatenate([serve(images=tf.constant(images[i:i + 512]))[CLASS_IDS_KEY]
                                .numpy() for i in range(0, len(images), 512)])
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    return matrix


def _lineage_svg(nodes: Dict[str, metadata.NodeRun]) -> str:
    """The run's components as boxes, arrows from each artifact's producer to its consumers."""
    producer = {a.id: n.node_id for n in nodes.values() for items in n.outputs.values()
                for a in items}
    edges = sorted({(producer[a.id], n.node_id) for n in nodes.values()
                    for items in n.inputs.values() for a in items
                    if a.id in producer and producer[a.id] != n.node_id})
    order = sorted(nodes, key=lambda k: (nodes[k].execution.create_time_since_epoch,
                                         nodes[k].execution.id))
    layer = {}
    for node in order:  # executions run in dependency order, so parents come first
        layer[node] = 1 + max([layer[a] for a, b in edges if b == node and a in layer],
                              default=-1)
    columns = collections.defaultdict(list)
    for node in order:
        columns[layer[node]].append(node)
    box_w, box_h, gap_x, gap_y = 150, 34, 40, 22
    pos = {node: (10 + col * (box_w + gap_x), 10 + row * (box_h + gap_y))
           for col, items in columns.items() for row, node in enumerate(items)}
    width = 20 + len(columns) * (box_w + gap_x)
    height = 20 + max(len(items) for items in columns.values()) * (box_h + gap_y)
    colour = {'complete': '#d8ecd9', 'cached': '#e3ebf6', 'failed': '#f6d6d6'}
    parts = ['<defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="7" refY="3" '
             'orient="auto"><path d="M0,0 L7,3 L0,6 z" fill="#777"/></marker></defs>']
    for a, b in edges:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        parts.append(f'<line x1="{xa + box_w}" y1="{ya + box_h / 2}" x2="{xb}" '
                     f'y2="{yb + box_h / 2}" stroke="#777" marker-end="url(#arrow)"/>')
    for node, (x, y) in pos.items():
        state = nodes[node].state
        parts.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="5" '
                     f'fill="{colour.get(state, "#eee")}" stroke="#888"/>'
                     f'<text x="{x + box_w / 2}" y="{y + 15}" font-size="11" text-anchor="middle">'
                     f'{_esc(node)}</text><text x="{x + box_w / 2}" y="{y + 28}" font-size="9" '
                     f'text-anchor="middle" fill="#555">{_esc(state)}</text>')
    return (f'<svg width="{width}" height="{height}" role="img" aria-label="lineage">'
            f'{"".join(parts)}</svg>')


def build_report(store, pipeline_name: str, run_id: str, metadata_label: str,
                 summary: Optional[summary_lib.RunSummary] = None) -> str:
    """The report of a run as an HTML string (pass the run's summary if it is at hand)."""
    nodes = metadata.node_runs(store, pipeline_name, run_id)
    summary = summary or summary_lib.summarize(store, pipeline_name, metadata_label, run_id)
    class_name = functools.partial(summary_lib.class_name, summary.class_names)

    started = min(n.execution.create_time_since_epoch for n in nodes.values())
    ended = max(n.execution.last_update_time_since_epoch for n in nodes.values())
    states = collections.Counter(n.state for n in nodes.values())
    out = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
           f'<title>Run {_esc(run_id)} — {_esc(pipeline_name)}</title><style>{_CSS}</style>'
           f'</head><body><h1>Pipeline {_esc(pipeline_name)}, run {_esc(run_id)}</h1>']

    verdict = ('<span class="ok">blessed</span>' if summary.blessed
               else '<span class="bad">not blessed</span>' if summary.blessed is False else '—')
    started_at = datetime.datetime.fromtimestamp(started / 1000)
    pushed_to = summary.pushed_to or summary.not_pushed_reason or 'nothing'
    out.append('<section id="overview"><h2>Overview</h2><table>'
               f'<tr><th>started</th><td>{_esc(started_at)}</td></tr>'
               f'<tr><th>took</th><td>{(ended - started) / 1000:.1f} s</td></tr>'
               f'<tr><th>components</th><td>{_esc(dict(states))}</td></tr>'
               f'<tr><th>model</th><td>{verdict}</td></tr>'
               f'<tr><th>pushed to</th><td>{_esc(pushed_to)}</td></tr>'
               + (f'<tr><th>error</th><td class="bad">{_esc(summary.error)}</td></tr>'
                  if summary.error else '') +
               f'<tr><th>ML Metadata</th><td><code>{_esc(metadata_label)}</code></td></tr>'
               '</table></section>')

    examples = metadata.first_output(nodes, pipeline_def.EXAMPLE_GEN, 'examples')
    out.append('<section id="data"><h2>Data</h2>')
    if examples is None:
        out.append('<p>No examples were produced in this run.</p>')
    else:
        data = _split_data(examples)
        labels_seen = max(int(labels.max(initial=0)) for _, labels in data.values()) + 1
        names = summary.class_names or [str(i) for i in range(labels_seen)]
        out.append('<table><tr><th>split</th><th>examples</th></tr>' + ''.join(
            f'<tr><td>{_esc(s)}</td><td>{len(y):,}</td></tr>' for s, (_, y) in data.items())
            + '</table><div class="charts">')
        for split, (pixels, labels) in data.items():
            counts = np.bincount(labels.astype(np.int64), minlength=len(names))
            out.append(_svg_bars(counts.tolist(), names, f'{split}: examples per class'))
        pixels, labels = next(iter(data.values()))
        hist, _ = np.histogram(pixels, bins=16, range=(0, 256))
        out.append(_svg_bars(np.log10(hist + 1).round(2).tolist(),
                             [str(i * 16) for i in range(16)],
                             'pixel values (log10 count), first split'))
        out.append('</div><h3>Sample images (first split, two per label)</h3><div class="grid">')
        for label, name in enumerate(names[:MAX_CONFUSION_CLASSES]):
            for index in np.flatnonzero(labels == label)[:2]:
                image = pixels[index]
                out.append(f'<img alt="{_esc(name)}" title="{_esc(name)} (label {label})" '
                           f'src="{_png(image[..., 0] if image.shape[-1] == 1 else image)}">')
        out.append('</div>')
    out.append('</section>')

    out.append('<section id="anomalies"><h2>Anomalies</h2>')
    if summary.anomalies is None:
        out.append('<p>The data was not validated in this run.</p>')
    elif not summary.anomalies:
        out.append('<p class="ok">None: the data matches the schema and the custom checks.</p>')
    else:
        out.append('<ul>' + ''.join(f'<li class="bad">{_esc(a)}</li>' for a in summary.anomalies)
                   + '</ul>')
    out.append('</section>')

    out.append('<section id="data-check"><h2>Data check (the gate)</h2>')
    check = summary.data_check
    if check is None and summary.error:
        out.append(f'<pre class="bad">{_esc(summary.error)}</pre>')
    elif check is None:
        out.append('<p>The gate did not pass this run\'s data, or did not run.</p>')
    else:
        classes = sorted({c for counts in check['label_counts'].values() for c in counts},
                         key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else c))
        out.append('<table><tr><th>split</th>' + ''.join(f'<th>{_esc(c)}</th>' for c in classes)
                   + '</tr>' + ''.join(
                       f'<tr><th>{_esc(split)}</th>' + ''.join(
                           f'<td>{counts.get(c, 0):,}</td>' for c in classes) + '</tr>'
                       for split, counts in check['label_counts'].items()) + '</table>')
        out.append(f'<p>Drift: {_esc(summary_lib.format_drift(check))}</p>')
        duplicates = summary_lib.format_duplicates(check.get('duplicates'))
        if not duplicates:
            duplicates = ('no exact copies among the images' if check.get('duplicates')
                          else 'not looked for in this run')
        out.append(f'<p>Duplicates: {_esc(duplicates)}</p>')
    out.append('</section>')

    curves = _training_curves(summary.tensorboard_dir)
    out.append('<section id="training"><h2>Training</h2>')
    if curves:
        out.append('<div class="charts">' + ''.join(
            _svg_lines(series, f'{metric} per epoch') for metric, series in sorted(curves.items()))
            + f'</div><p>TensorBoard logs: <code>{_esc(summary.tensorboard_dir)}</code></p>')
    else:
        out.append('<p>No training in this run.</p>')
    out.append('</section>')

    out.append('<section id="evaluation"><h2>Evaluation</h2>')
    model = metadata.first_output(nodes, pipeline_def.TRAINER, 'model')
    if summary.accuracy is None:
        out.append('<p>No evaluation in this run.</p>')
    else:
        baseline = ('' if summary.baseline_accuracy is None
                    else f' (last pushed model: {summary.baseline_accuracy:.4f})')
        out.append(f'<p>Accuracy on the eval split: <b>{summary.accuracy:.4f}</b>{baseline}. '
                   f'Verdict: {verdict}. ' + _esc('; '.join(summary.blessing_reasons)) + '</p>')
        out.append('<table><tr><th>class</th>' + ''.join(
            f'<th>{_esc(class_name(c))}</th>' for c in sorted(summary.accuracy_per_class))
            + '</tr><tr><th>accuracy</th>'
            + ''.join(f'<td>{a:.3f}</td>' for _, a in sorted(summary.accuracy_per_class.items()))
            + '</tr></table>')
        if model is not None and examples is not None and 'eval' in data and \
                len(names) <= MAX_CONFUSION_CLASSES:
            matrix = _confusion(model.uri, *data['eval'], len(names))
            out.append('<h3>Confusion matrix (eval split; rows: true class, '
                       'columns: predicted)</h3>'
                       '<table id="confusion"><tr><th></th>' + ''.join(
                           f'<th>{_esc(n)}</th>' for n in names) + '</tr>')
            for i, row in enumerate(matrix):
                out.append(f'<tr><th>{_esc(names[i])}</th>' + ''.join(
                    f'<td style="background:rgba(74,127,193,{v / max(row.sum(), 1):.2f})">{v}</td>'
                    for v in row) + '</tr>')
            out.append('</table>')
    test = (summary.tflite or {}).get('test')
    if test:
        per_class = sorted(test['saved_model']['per_class'].items(), key=lambda i: int(i[0]))
        out.append(f'<h3 id="test-split">Test split ({test["examples"]:,} images; scored, not '
                   f'judged)</h3><p>Accuracy: <b>{test["saved_model"]["accuracy"]:.4f}</b> '
                   f'(TFLite float32 {test["float32"]["accuracy"]:.4f}, int8 '
                   f'{test["int8"]["accuracy"]:.4f}).</p><table><tr><th>class</th>'
                   + ''.join(f'<th>{_esc(class_name(c))}</th>' for c, _ in per_class)
                   + '</tr><tr><th>accuracy</th>'
                   + ''.join(f'<td>{a:.3f}</td>' for _, a in per_class) + '</tr></table>')
    out.append('</section>')

    out.append('<section id="models"><h2>Models</h2>')
    if summary.tflite:
        t = summary.tflite
        out.append('<table><tr><th>format</th><th>size</th><th>accuracy</th><th>agreement with '
                   'SavedModel</th><th>latency (ms/image)</th></tr>')
        model_bytes = (folder_bytes(path_utils.serving_model_dir(model.uri))
                       if model is not None else 0)
        out.append(f'<tr><td>SavedModel</td><td>{model_bytes / 1024:.0f} KB</td>'
                   f'<td>{t["saved_model"]["accuracy"]:.4f}</td><td>—</td>'
                   f'<td>{t["saved_model"]["latency_ms"]:.3f}</td></tr>')
        for name in ('float32', 'int8'):
            m = t[name]
            out.append(f'<tr><td>TFLite {name}</td><td>{m["bytes"] / 1024:.0f} KB</td>'
                       f'<td>{m["accuracy"]:.4f}</td><td>{m["agreement"]:.2%}</td>'
                       f'<td>{m["latency_ms"]:.3f}</td></tr>')
        if summary.tfjs and 'agreement' in summary.tfjs:
            j = summary.tfjs
            out.append(f'<tr><td>TF.js (in Chromium, {_esc(j["backend"])})</td>'
                       f'<td>{j["bytes"] / 1024:.0f} KB</td><td>—</td>'
                       f'<td>{j["agreement"]:.2%}</td><td>{j["latency_ms"]:.3f}</td></tr>')
        elif summary.tfjs:
            out.append(f'<tr><td>TF.js</td><td>{summary.tfjs["bytes"] / 1024:.0f} KB</td>'
                       f'<td colspan="3">{_esc(summary.tfjs.get("browser_check", ""))}</td></tr>')
        out.append('</table><p>TFLite check: ' + (
            '<span class="ok">passed</span>' if t['blessed']
            else '<span class="bad">failed: ' + _esc('; '.join(t['reasons'])) + '</span>') + '</p>')
    else:
        out.append('<p>No models were exported in this run.</p>')
    out.append('</section>')

    out.append('<section id="lineage"><h2>Lineage</h2>' + _lineage_svg(nodes) +
               '<p>Boxes are this run\'s executions (green: ran, blue: cached, red: failed); '
               'arrows carry artifacts. <code>python -m image_tfx.records.inspect lineage PATH'
               '</code> '
               'follows any file back to its data.</p></section></body></html>')
    return ''.join(out)


def write_report(store, pipeline_name: str, run_id: str, path: str, metadata_label: str,
                 summary: Optional[summary_lib.RunSummary] = None) -> str:
    """Writes the report (whole or not at all) and returns its absolute path or URI."""
    path = object_store.absolute(path)
    storage.makedirs(path.rsplit('/', 1)[0])
    content = build_report(store, pipeline_name, run_id, metadata_label, summary)
    storage.write_text(path + '.partial', content)
    storage.rename(path + '.partial', path)
    return path
