"""The container command of every task: TFX's Kubeflow v2 executor, made safe for s3://.

    python -m mnist_tfx.kubeflow.entrypoint --executor_class_path ... --json_serialized_invocation_args ...

It takes exactly the arguments of TFX's `kubeflow_v2_run_executor` and runs its `main`
unchanged, with two additions:
  1. it registers TensorFlow's s3:// filesystem when tensorflow-io is installed (the image
     installs it): TensorFlow 2.16 reads gs:// by itself, s3:// (MinIO) only through
     tensorflow-io, which registers it on import;
  2. it ends the process with os._exit once TFX's main returned and the output is flushed:
     tensorflow-io 0.37.1, the last release for TensorFlow 2.16, aborts at interpreter exit
     once s3:// was used ("pure virtual method called", exit 134, tensorflow/io#2039), which
     would fail a task whose work had succeeded.
"""

import os
import sys
import traceback


def main(argv=None) -> int:
    """Runs TFX's entrypoint; returns its exit status."""
    try:
        import tensorflow_io  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
    except ImportError:
        pass
    from absl import app  # pylint: disable=g-import-not-at-top
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor as tfx_entry  # pylint: disable=g-import-not-at-top
    try:
        app.run(tfx_entry.main, argv=argv or sys.argv,
                flags_parser=tfx_entry._parse_flags)  # pylint: disable=protected-access
        return 0
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # pylint: disable=broad-except
        traceback.print_exc()
        return 1


if __name__ == '__main__':
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)  # pylint: disable=protected-access
