"""ImageExampleGen's executor alone on a data set: its wall time and this process's peak memory.

    python bench/example_gen_bench.py /usr/share/datasets/fashion-mnist

A benchmark, not a test: it runs the executor as the local runner's Beam arguments would for
data that fits in memory (the DirectRunner in this process), into a temporary folder, and
prints the seconds it took and the process's peak resident memory.
"""

import argparse
import os
import resource
import sys
import tempfile
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('data', help='what --data would be given')
    args = parser.parse_args(argv)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    from tfx.types import standard_artifacts
    from image_tfx.components.image_example_gen.component import ImageExampleGen
    from image_tfx.components.image_example_gen.executor import Executor
    from image_tfx.data import sources
    from image_tfx.runner import options
    source = sources.detect_source(args.data)
    component = ImageExampleGen(input_base=source.base, source_format=source.format,
                                pattern=source.pattern)
    properties = dict(component.exec_properties)
    properties['beam_pipeline_args'] = ['--direct_running_mode=in_memory',
                                        '--direct_num_workers=1', options.DIRECT_RUNNER_WORKERS]
    examples = standard_artifacts.Examples()
    with tempfile.TemporaryDirectory() as out:
        examples.uri = out
        started = time.perf_counter()
        Executor().Do({}, {'examples': [examples]}, properties)
        seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f'ImageExampleGen on {args.data}: {seconds:.1f} s, peak memory {peak:,.0f} MB')
    return 0


if __name__ == '__main__':
    sys.exit(main())
