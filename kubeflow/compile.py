"""Compiles the pipeline for Kubeflow Pipelines (KFP v2 spec, YAML).

    python kubeflow/compile.py --image ghcr.io/you/image-tfx:TAG --pipeline-root gs://bucket/tfx
    python kubeflow/compile.py --help

It compiles the same definition that pipeline/run_local.py runs. The data location, epochs,
batch size, learning rate and accuracy threshold become pipeline parameters (defaults: the
options given here, which default to the local run's); everything else is fixed in the spec.
It then checks the spec against the open-source KFP backend (kubeflow/check.py) and exits 1
if the backend could not run it.
"""

import argparse
import os
import sys


from image_tfx.kubeflow import check
from image_tfx.kubeflow import runner
from image_tfx.runner import options


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='compile.py', description='Compile the image_tfx pipeline into a Kubeflow '
        'Pipelines v2 spec. Data, training and evaluation options set the defaults of the '
        'run parameters.')
    runner.add_cluster_arguments(parser)
    parser.add_argument('--output', default=runner.DEFAULT_OUTPUT, metavar='FILE',
                        help='the spec to write (default %(default)s)')
    options.add_model_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cluster = runner.cluster_from_args(args)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    config = options.config_from_args(args)
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
    path = runner.compile_pipeline(config, cluster, args.output)
    print(f'Wrote {path} (pipeline {config.pipeline_name}, image {cluster.image}, '
          f'root {runner.pipeline_root(config, cluster)})')
    if runner.launcher_config(config, cluster) is not None:
        configmap = runner.launcher_config_path(path)
        print(f'Wrote {configmap}: KFP\'s launcher needs it to open the s3:// root; apply it '
              f'in the namespace the runs use: kubectl apply -n NAMESPACE -f {configmap}')
    # What the open-source backend would refuse (kubeflow/check.py, also a command of its own).
    return check.main([path])


if __name__ == '__main__':
    sys.exit(main())
