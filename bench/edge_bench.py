"""The edge challenge, measured: the pipeline with --model edge against bare Keras.

    python data/make_glyphs.py --classes 200 --out /tmp/glyphs200 --per-font 6 --size 32
    python bench/edge_bench.py --data /tmp/glyphs200 --epochs 10 --learning-rate 0.002
        [--seeds 0 1 2] [--json F]

A benchmark, not a test: it prints figures and asserts nothing. It
  1. runs the pipeline (pipeline/run_local.py --model edge) into a fresh output root, with the
     budgets turned off so that the figures are reported whatever they are;
  2. reads the TFLite check's figures: size of each format, images per second one at a time on
     one thread of this machine, accuracy on the eval split and on the data set's test split;
  3. trains the same network (model.build_model, the same spec and augmentation, epochs, batch
     size, learning rate and seed) with bare Keras on exactly the pipeline's train split and
     scores it on the same test split (both read back from ExampleGen's output);
once per seed, and prints one table (median and range over the seeds).
"""

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_bench  # noqa: E402

# The edge challenge: under 5 MB, over 30 frames per second on a device; a Raspberry-Pi-class
# ARM core is taken as about ten times slower than one core of this machine.
MAX_BYTES = 5_000_000
DEVICE_SLOWDOWN = 10
DEVICE_FPS = 30


def bare_keras(examples, epochs: int, batch_size: int, learning_rate: float, width: float,
               resolution: int, seed: int):
    """The edge network trained with bare Keras on the pipeline's train split; test accuracy."""
    import keras
    from image_tfx.components.artifacts import image_spec
    from image_tfx.model.model import ModelSpec, build_model
    from image_tfx.model.trainer import FitTimer
    spec = image_spec(examples)
    x_train, y_train = pipeline_bench.model_arrays(examples, 'train')
    x_test, y_test = pipeline_bench.model_arrays(examples, 'test')
    keras.utils.set_random_seed(seed)
    model = build_model(ModelSpec(spec.shape, spec.num_classes, 'edge', width, resolution,
                                  augment=True), learning_rate=learning_rate,
                        training_steps=-(-len(y_train) // batch_size) * epochs)
    timer = FitTimer()
    model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, callbacks=[timer],
              verbose=0)
    predicted = np.argmax(model.predict(x_test, batch_size=512, verbose=0), axis=-1)
    return {'train_images': int(len(y_train)), 'test_images': int(len(y_test)),
            'fit_seconds': timer.seconds, 'test_accuracy': float(np.mean(predicted == y_test)),
            'parameters': int(model.count_params())}


def one_seed(args, seed: int, root: str):
    """The pipeline and bare Keras with one seed; their figures."""
    extra = ['--data', args.data, '--model', 'edge', *pipeline_bench.training_args(args),
             '--model-width', str(args.model_width), '--model-resolution',
             str(args.model_resolution), '--seed', str(seed), '--accuracy-threshold', '0',
             '--max-tflite-bytes', '0', '--min-fps', '0', '--pipeline-name', 'edge']
    print(f'seed {seed}: pipeline into {root} ...', file=sys.stderr)
    wall = pipeline_bench.run_pipeline(root, extra)
    seconds, _, fit, summary, examples = pipeline_bench.read_run(root, 'edge')
    tflite = summary.tflite
    print(f'seed {seed}: bare Keras ...', file=sys.stderr)
    bare = bare_keras(examples, args.epochs, args.batch_size, args.learning_rate,
                      args.model_width, args.model_resolution, seed)
    int8 = tflite['int8']
    test = tflite.get('test') or {}
    return summary, {
        'seed': seed, 'end_to_end_seconds': wall, 'trainer_fit_seconds': fit['fit_seconds'],
        'component_seconds': seconds,
        'formats': {name: {k: tflite[name][k] for k in ('bytes', 'accuracy', 'latency_ms', 'fps',
                                                         'agreement')
                           if k in tflite[name]} for name in ('float32', 'int8')},
        'saved_model_eval_accuracy': tflite['saved_model']['accuracy'],
        'test_accuracy': {name: test.get(name, {}).get('accuracy')
                          for name in ('saved_model', 'float32', 'int8')},
        'test_int8_agreement': test.get('int8', {}).get('agreement'),
        'bare_keras': bare,
        'targets': {'int8_under_5_MB': int8['bytes'] < MAX_BYTES,
                    'fps_over_300_here': int8['fps'] > DEVICE_FPS * DEVICE_SLOWDOWN},
        'pushed_to': summary.pushed_to,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', required=True, help='a folder data set with a test split')
    pipeline_bench.add_run_arguments(parser, epochs=10)
    parser.add_argument('--model-width', type=float, default=1.0)
    parser.add_argument('--model-resolution', type=int, default=0)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0], metavar='SEED',
                        help='one pipeline run and one bare-Keras run per seed (default: 0)')
    args = parser.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

    base = args.work_dir or tempfile.mkdtemp(prefix='edge_bench_')
    runs = []
    for seed in args.seeds:
        summary, figures = one_seed(args, seed, os.path.join(base, f'seed-{seed}'))
        runs.append(figures)

    def column(get, form):
        values = [get(run) for run in runs]
        if any(v is None for v in values):
            return '-'
        return pipeline_bench.spread(values, form) if len(values) > 1 else form.format(values[0])

    test = lambda name: lambda run: run['test_accuracy'][name]  # noqa: E731
    figures = {'data': args.data, 'examples_per_split': summary.split_counts,
               'classes': len(summary.class_names or []), 'epochs': args.epochs,
               'batch_size': args.batch_size, 'learning_rate': args.learning_rate,
               'model_width': args.model_width, 'model_resolution': args.model_resolution,
               'runs': runs}
    print(f'\ndata: {args.data}; {figures["classes"]} classes; examples: '
          + ', '.join(f'{k} {v:,}' for k, v in summary.split_counts.items())
          + f'; {args.epochs} epochs, batch {args.batch_size}; seeds '
          + ' '.join(map(str, args.seeds)) + (' (median, min-max)' if len(runs) > 1 else ''))
    rows = [
        ('end to end (s)', column(lambda r: r['end_to_end_seconds'], '{:.0f}')),
        ('model.fit (s)', column(lambda r: r['trainer_fit_seconds'], '{:.0f}')),
        ('int8 TFLite bytes', column(lambda r: r['formats']['int8']['bytes'], '{:,}')
         + f' (target < {MAX_BYTES:,})'),
        ('int8 TFLite images/s, 1 thread', column(lambda r: r['formats']['int8']['fps'],
                                                  '{:,.0f}')
         + f' (target > {DEVICE_FPS * DEVICE_SLOWDOWN})'),
        ('test accuracy SavedModel', column(test('saved_model'), '{:.4f}')),
        ('test accuracy int8 TFLite', column(test('int8'), '{:.4f}')),
        ('test agreement int8 / SavedModel', column(lambda r: r['test_int8_agreement'],
                                                    '{:.4f}')),
        ('test accuracy bare Keras', column(lambda r: r['bare_keras']['test_accuracy'],
                                            '{:.4f}')),
        ('bare Keras model.fit (s)', column(lambda r: r['bare_keras']['fit_seconds'], '{:.0f}')),
    ]
    pipeline_bench.print_figures(rows, figures, args.json)
    return 0


if __name__ == '__main__':
    sys.exit(main())
