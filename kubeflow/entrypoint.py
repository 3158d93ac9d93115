"""The container command of every task: TFX's Kubeflow v2 executor, made safe for s3://.

    python -m mnist_tfx.kubeflow.entrypoint --executor_class_path ... --json_serialized_invocation_args ...

It takes exactly the arguments of TFX's `kubeflow_v2_run_executor` and runs its `main`
unchanged, with three additions:
  1. it registers TensorFlow's s3:// filesystem when tensorflow-io is installed (the image
     installs it): TensorFlow 2.16 reads gs:// by itself, s3:// (MinIO) only through
     tensorflow-io, which registers it on import;
  2. it ends the process with os._exit once TFX's main returned and the output is flushed:
     tensorflow-io 0.37.1, the last release for TensorFlow 2.16, aborts at interpreter exit
     once s3:// was used ("pure virtual method called", exit 134, tensorflow/io#2039), which
     would fail a task whose work had succeeded;
  3. it gives every input artifact its type: the open-source KFP backend hands input artifacts
     to the launcher without one (kubeflow/pipelines backend/src/v2/metadata/converter.go,
     `toRuntimeArtifact`, sets name, URI and metadata only), and TFX 1.16's entrypoint needs it
     to know the artifact's class (`_parse_raw_artifact`). The types are in the task's own
     `--json_serialized_inputs_spec_args`, which TFX's compiler writes into the command.
"""

import json
import os
import sys
import traceback
from typing import List

INVOCATION_FLAG = '--json_serialized_invocation_args'
INPUTS_SPEC_FLAG = '--json_serialized_inputs_spec_args'


def _flag_value(argv: List[str], flag: str):
    """(index of the value, value) of `flag VALUE` or `flag=VALUE` in argv; (None, None)."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return i + 1, argv[i + 1]
        if arg.startswith(flag + '='):
            return i, arg[len(flag) + 1:]
    return None, None


def fill_input_types(argv: List[str]) -> List[str]:
    """argv with each typeless input artifact given the type its input spec declares."""
    index, invocation = _flag_value(argv, INVOCATION_FLAG)
    _, inputs_spec = _flag_value(argv, INPUTS_SPEC_FLAG)
    if index is None or not inputs_spec:
        return argv
    executor_input = json.loads(invocation)
    declared = json.loads(inputs_spec).get('artifacts', {})
    changed = False
    for key, artifact_list in executor_input.get('inputs', {}).get('artifacts', {}).items():
        artifact_type = declared.get(key, {}).get('artifactType')
        for artifact in artifact_list.get('artifacts', []):
            present = artifact.get('type') or {}
            if artifact_type and not (present.get('instanceSchema')
                                      or present.get('schemaTitle')):
                artifact['type'] = artifact_type
                changed = True
    if not changed:
        return argv
    argv = list(argv)
    value = json.dumps(executor_input)
    argv[index] = value if argv[index] == invocation else f'{INVOCATION_FLAG}={value}'
    return argv


def main(argv=None) -> int:
    """Runs TFX's entrypoint; returns its exit status."""
    try:
        import tensorflow_io  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
    except ImportError:
        pass
    from absl import app  # pylint: disable=g-import-not-at-top
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor as tfx_entry  # pylint: disable=g-import-not-at-top
    try:
        app.run(tfx_entry.main, argv=fill_input_types(argv or sys.argv),
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
