"""The figures behind the validator gate's defaults: drift between real data sets.

    .venv/bin/python bench/gate_figures.py [--fashion /usr/share/datasets/fashion-mnist]

For pairs of data sets (re-splits of the same data, Fashion-MNIST after digits, a class
removed), prints TFDV's drift measurements as the gate computes them (label L-infinity
distance, pixel Jensen-Shannon divergence) and the largest class share of each set.
"""

import argparse
import os
import sys
import tempfile

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--fashion', default='/usr/share/datasets/fashion-mnist')
    parser.add_argument('--size', type=int, default=4000, help='images per set')
    args = parser.parse_args(argv)
    import tensorflow as tf
    import tensorflow_data_validation as tfdv
    from image_tfx import schema as schema_lib
    from image_tfx.components.anomalies_gate import executor as gate
    from image_tfx.components.anomalies_gate import thresholds
    from image_tfx.data import sources
    from image_tfx.components.image_example_gen.executor import to_example

    schema = schema_lib.load_schema()
    work = tempfile.mkdtemp()

    def stats(name, pixels, labels):
        path = os.path.join(work, name)
        with tf.io.TFRecordWriter(path) as writer:
            for row, label in zip(pixels, labels):
                writer.write(to_example(row, int(label)).SerializeToString())
        return tfdv.generate_statistics_from_tfrecord(
            path, stats_options=tfdv.StatsOptions(schema=schema)).datasets[0]

    n = args.size
    x, y = sources.read_split(sources.detect_source(sources.default_data_path()), 'train')
    order = np.random.RandomState(0).permutation(len(y))
    x, y = x[order], y[order]
    sets = {'digits A': stats('a', x[:n], y[:n]),
            'digits B (re-split)': stats('b', x[-n:], y[-n:]),
            'digits without class 3': stats('c', x[:n][y[:n] != 3], y[:n][y[:n] != 3])}
    if os.path.isdir(args.fashion):
        source = sources.detect_source(args.fashion)
        fx, fy = sources.read_split(source, 'train')
        tx, ty = sources.read_split(source, 'test')
        sets['fashion train'] = stats('f', fx[:n], fy[:n])
        sets['fashion t10k'] = stats('t', tx[:n], ty[:n])
    pairs = [('digits B (re-split)', 'digits A'), ('digits without class 3', 'digits A'),
             ('fashion t10k', 'fashion train'), ('fashion train', 'digits A')]
    print(f'{"data":<24} {"against":<16} {"label L-inf":>11} {"pixel JSD":>10}')
    for now, before in pairs:
        if now not in sets or before not in sets:
            continue
        drift = {m['feature']: m['value'] for m in gate.measure_drift(
            sets[now], sets[before], schema, thresholds.MAX_LABEL_DRIFT,
            thresholds.MAX_PIXEL_DRIFT)}
        print(f'{now:<24} {before:<16} {drift["label"]:>11.4f} {drift["pixels"]:>10.5f}')
    print(f'\nlargest class share ({n:,} images each):')
    for name, s in sets.items():
        counts = gate.label_counts(s)
        print(f'  {name:<24} {max(counts.values()) / sum(counts.values()):.3f}')
    print(f'\ndefaults: --max-label-drift {thresholds.MAX_LABEL_DRIFT}, --max-pixel-drift '
          f'{thresholds.MAX_PIXEL_DRIFT}, --max-class-share {thresholds.MAX_CLASS_SHARE}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
