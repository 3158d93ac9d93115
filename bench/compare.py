"""Two sets of bench/pipeline_bench.py --json files side by side (before and after a change).

    python bench/compare.py --before b1.json b2.json b3.json --after a1.json a2.json a3.json

Each file holds one or more repetitions; every figure is given as the median (min-max) of all
repetitions of its side. Run the two sides interleaved (one repetition of each in turn), so
that a slower or faster stretch of the machine affects both alike.
"""

import argparse
import json
import statistics
import sys


def _runs(paths):
    runs = []
    for path in paths:
        with open(path) as f:
            runs.extend(json.load(f)['repetitions'])
    return runs


def _spread(values, form: str) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return '-'
    if len(values) == 1:
        return form.format(values[0])
    return (f'{form.format(statistics.median(values))} ({form.format(min(values))}-'
            f'{form.format(max(values))})')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--before', nargs='+', required=True)
    parser.add_argument('--after', nargs='+', required=True)
    args = parser.parse_args(argv)
    sides = {'before': _runs(args.before), 'after': _runs(args.after)}
    nodes = list(dict.fromkeys(node for runs in sides.values() for run in runs
                               for node in run['component_seconds']))

    def row(name, pick, form):
        return (name, *(_spread((pick(run) for run in runs), form) for runs in sides.values()))

    rows = [row(f'{node} s', lambda r, n=node: r['component_seconds'].get(n), '{:.1f}')
            for node in nodes]
    rows += [row(f'{node} peak MB', lambda r, n=node: r.get('component_peak_mb', {}).get(n),
                 '{:,.0f}') for node in nodes]
    rows += [
        row('end to end s', lambda r: r['end_to_end_seconds'], '{:.1f}'),
        row('  model.fit s', lambda r: r['trainer_fit_seconds'], '{:.2f}'),
        row('cached rerun s', lambda r: r['cached_rerun_seconds'], '{:.1f}'),
        row('Trainer images/s', lambda r: r['trainer_images_per_second'], '{:,.0f}'),
        row('bare Keras images/s', lambda r: r['bare_keras']['images_per_second'], '{:,.0f}'),
        row('ratio Trainer / bare', lambda r: r['throughput_ratio'], '{:.2f}'),
        row('eval accuracy pipeline', lambda r: r['pipeline_eval_accuracy'], '{:.4f}'),
        row('eval accuracy bare Keras', lambda r: r['bare_keras']['eval_accuracy'], '{:.4f}'),
        row('pipeline - bare (points)', lambda r: r['accuracy_difference_points'], '{:+.2f}'),
        row('peak RSS pipeline MB', lambda r: r['peak_rss_mb']['pipeline'], '{:,.0f}'),
    ]
    print(f'{len(sides["before"])} repetition(s) before, {len(sides["after"])} after; '
          'median (min-max)')
    print('| | before | after |\n|---|---|---|')
    for name, before, after in rows:
        print(f'| {name} | {before} | {after} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
