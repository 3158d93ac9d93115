"""What each training lever gives the seed CNN's model.fit, against bare Keras, in one process.

    python bench/fit_levers.py [--data PATH] [--repeat 3] [--epochs 5]

A benchmark, not a test. On the same train/eval arrays (the data set's first 80% / last 20%),
it fits the network once per variant and repetition, in an interleaved order so that a
slower or faster stretch of the machine affects every variant alike, and prints per variant
the median, min and max of model.fit's training images/s (FitTimer: per-epoch validation
excluded) and of the eval accuracy, the ratio of medians to bare Keras, and the median seconds
of the first epoch (which traces the training function; with the setup timed before it)
and of the others together:

  bare             model.fit(x, y), Keras' defaults (what bench/pipeline_bench.py compares with)
  mirrored         model.fit from the Trainer's in-memory tf.data dataset, inside
                   MirroredStrategy (one replica on a CPU)
  default          the same dataset under TensorFlow's default strategy (no mirroring)
  +steps           steps_per_execution=--steps
  +epoch           steps_per_execution=the steps of an epoch (one call per epoch)
  +built           the optimizer's and metrics' variables created before model.fit
                   (build_training_state, timed with it)
  +one             the epoch-sized dataset repeated, one iterator for every epoch
                   (epochs_from_one_iterator)
  default+epoch+built+one is what the Trainer does on one device.
  +xla             (with --xla) jit_compile=True under the default strategy: Keras leaves
                   XLA off on a CPU
"""

import argparse
import os
import statistics
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def arrays(path):
    """(x_train, y_train, x_eval, y_eval): a data set's train split shuffled, cut 80/20."""
    from image_tfx.data import sources
    from image_tfx.model.tflite import pixels_to_model_input
    source = sources.detect_source(path or sources.default_data_path())
    pixels, labels = sources.read_split(source, 'train')
    x = pixels_to_model_input(pixels, pixels.shape[1:])
    order = np.random.default_rng(0).permutation(len(labels))  # files may be sorted by class
    x, labels = x[order], labels[order]
    cut = int(len(labels) * 0.8)
    return x[:cut], labels[:cut], x[cut:], labels[cut:]


def fit(variant, data, epochs, batch_size, steps):
    """(images/s of model.fit, eval accuracy, first epoch s, other epochs s) of one training."""
    import tensorflow as tf
    import keras
    from image_tfx.model import model as model_lib
    from image_tfx.model.trainer import FitTimer, epochs_from_one_iterator, in_memory_dataset
    x_train, y_train, x_eval, y_eval = data
    spec = model_lib.ModelSpec(x_train.shape[1:], int(max(y_train.max(), y_eval.max())) + 1)
    timer = FitTimer()
    if variant == 'bare':
        model = model_lib.build_model(spec)
        model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs,
                  validation_data=(x_eval, y_eval), callbacks=[timer], verbose=0)
    else:
        per_epoch = -(-len(y_train) // batch_size)
        settings = {'steps_per_execution': steps if '+steps' in variant
                    else per_epoch if '+epoch' in variant else 1,
                    'jit_compile': '+xla' in variant}
        strategy = (tf.distribute.MirroredStrategy() if variant.startswith('mirrored')
                    else tf.distribute.get_strategy())
        with strategy.scope():
            model = model_lib.build_model(spec, settings=settings)
        train = in_memory_dataset(x_train, y_train, batch_size, shuffle=True)
        if '+built' in variant:
            with timer.setup():
                model_lib.build_training_state(model, train.element_spec)
        fit_steps = None
        if '+one' in variant:
            train, fit_steps = epochs_from_one_iterator(train, per_epoch)
        model.fit(train, epochs=epochs, steps_per_epoch=fit_steps,
                  validation_data=in_memory_dataset(x_eval, y_eval, batch_size, shuffle=False),
                  callbacks=[timer], verbose=0)
    accuracy = float(np.mean(np.argmax(model.predict(x_eval, batch_size=1024, verbose=0), -1)
                             == y_eval))
    keras.backend.clear_session()
    return (len(y_train) * epochs / timer.seconds, accuracy,
            timer.setup_seconds + timer.epoch_seconds[0], sum(timer.epoch_seconds[1:]))


VARIANTS = ('bare', 'mirrored', 'mirrored+steps', 'default', 'default+steps', 'default+epoch',
            'default+epoch+built', 'default+epoch+built+one')
XLA_VARIANTS = ('default+xla', 'default+steps+xla')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--data', default=None, help='default: the 5,000 shipped digits')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--steps', type=int, default=32, help='steps_per_execution of +steps')
    parser.add_argument('--xla', action='store_true', help='also the XLA variants')
    args = parser.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    data = arrays(args.data)
    results = {variant: [] for variant in VARIANTS + (XLA_VARIANTS if args.xla else ())}
    for repetition in range(args.repeat):
        for variant in results:
            results[variant].append(fit(variant, data, args.epochs, args.batch_size, args.steps))
            print(f'repetition {repetition + 1}: {variant} {results[variant][-1][0]:,.0f} '
                  'images/s', file=sys.stderr)
    bare = statistics.median(run[0] for run in results['bare'])
    print(f'{len(data[1]):,} train images, {args.epochs} epochs, batch {args.batch_size}, '
          f'steps_per_execution {args.steps}; {args.repeat} repetitions')
    print(f'{"variant":<24}{"images/s median (min-max)":>28}{"vs bare":>9}'
          f'{"accuracy median (min-max)":>29}{"first epoch s":>15}{"others s":>10}')
    for variant, runs in results.items():
        rates, accuracies, first, others = zip(*runs)
        print(f'{variant:<24}{statistics.median(rates):>12,.0f} ({min(rates):,.0f}-'
              f'{max(rates):,.0f}){statistics.median(rates) / bare:>8.2f}x'
              f'{statistics.median(accuracies):>13.4f} ({min(accuracies):.4f}-'
              f'{max(accuracies):.4f}){statistics.median(first):>15.3f}'
              f'{statistics.median(others):>10.3f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
