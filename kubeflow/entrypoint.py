"""The container command of every task: TFX's Kubeflow v2 executor, made safe for KFP's backend.

    python -m image_tfx.kubeflow.entrypoint --executor_class_path ... \
        --json_serialized_invocation_args ...

It takes the arguments of TFX's `kubeflow_v2_run_executor` (plus one of its own, below) and
runs its `main` unchanged, adapting what goes in and what comes out to the open-source KFP
backend (kubeflow/pipelines backend/src/v2; docs/kubeflow.md has the version table):
  1. input artifacts get their type: the backend hands them over with `instanceSchema: ""`
     or none (metadata/converter.go, toRuntimeArtifact), from which TFX 1.16 cannot tell the
     artifact's class. The types are in the task's `--json_serialized_inputs_spec_args`;
  2. input metadata is unwrapped: the backend stores each metadata value in ML Metadata and
     reads it back, a list as {"list": [...]} and an object as {"struct": {...}}
     (converter.go, StructValueToMLMDValue);
  3. outputs the component does not declare are dropped before TFX parses them: with
     PUBLISH_LOGS on (the default from KFP 2.5) the driver adds `executor-logs` of type
     system.Artifact, whose class TFX cannot import. The launcher writes that file itself,
     from the command's stdout and stderr.
     The declared outputs come from `--json_serialized_outputs_spec_args`, which compile.py
     adds and which TFX never sees;
  4. after the executor, null metadata values are left out of the executor output (the
     backend fails a task on one, after its work is done), and the zero-byte `folder/`
     objects TensorFlow's GCS filesystem leaves are removed from each output wherever the
     folder holds files: the launcher's download of inputs fails on them
     (kubeflow/pipelines#13476);
  5. it registers TensorFlow's s3:// filesystem when tensorflow-io is installed (the image
     installs it), and ends the process with os._exit once TFX's main returned:
     tensorflow-io 0.37.1, the last release for TensorFlow 2.16, aborts at interpreter exit
     once s3:// was used (tensorflow/io#2039), which would fail a task whose work succeeded.
"""

import json
import os
import sys
import traceback
from typing import Any, Dict, List, Tuple

INVOCATION_FLAG = '--json_serialized_invocation_args'
INPUTS_SPEC_FLAG = '--json_serialized_inputs_spec_args'
OUTPUTS_SPEC_FLAG = '--json_serialized_outputs_spec_args'  # ours: removed before TFX runs
_KFP_WRAPPERS = ('list', 'struct')


def _flag_value(argv: List[str], flag: str):
    """(index of the value, value) of `flag VALUE` or `flag=VALUE` in argv; (None, None)."""
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            return i + 1, argv[i + 1]
        if arg.startswith(flag + '='):
            return i, arg[len(flag) + 1:]
    return None, None


def _without_flag(argv: List[str], flag: str) -> List[str]:
    result, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg == flag and i + 1 < len(argv):
            skip = True
        elif not arg.startswith(flag + '='):
            result.append(arg)
    return result


def _unwrapped(value: Any) -> Any:
    """A metadata value as it was before the backend's ML Metadata round trip: the one-key
    {"list": ...} / {"struct": ...} wrapper removed."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in _KFP_WRAPPERS:
        return next(iter(value.values()))
    return value


def adapt_invocation(argv: List[str]) -> Tuple[List[str], Dict[str, Any]]:
    """argv as TFX's entrypoint can take it (items 1-3 above), and the executor input."""
    index, invocation = _flag_value(argv, INVOCATION_FLAG)
    if index is None:
        return argv, {}
    _, inputs_spec = _flag_value(argv, INPUTS_SPEC_FLAG)
    _, outputs_spec = _flag_value(argv, OUTPUTS_SPEC_FLAG)
    executor_input = json.loads(invocation)
    declared = json.loads(inputs_spec).get('artifacts', {}) if inputs_spec else {}
    for key, artifact_list in executor_input.get('inputs', {}).get('artifacts', {}).items():
        artifact_type = declared.get(key, {}).get('artifactType')
        for artifact in artifact_list.get('artifacts', []):
            present = artifact.get('type') or {}
            if artifact_type and not (present.get('instanceSchema')
                                      or present.get('schemaTitle')):
                artifact['type'] = artifact_type
            if artifact.get('metadata'):
                artifact['metadata'] = {k: _unwrapped(v)
                                        for k, v in artifact['metadata'].items()}
    if outputs_spec is not None:
        declared_outputs = json.loads(outputs_spec).get('artifacts', {})
        outputs = executor_input.get('outputs', {}).get('artifacts', {})
        for key in [k for k in outputs if k not in declared_outputs]:
            del outputs[key]
    argv = _without_flag(list(argv), OUTPUTS_SPEC_FLAG)
    index, invocation = _flag_value(argv, INVOCATION_FLAG)
    value = json.dumps(executor_input)
    argv[index] = value if argv[index] == invocation else f'{INVOCATION_FLAG}={value}'
    return argv, executor_input


def finish_outputs(executor_input: Dict[str, Any]) -> None:
    """Item 4 above, once the executor has written its outputs."""
    output_file = executor_input.get('outputs', {}).get('outputFile')
    if output_file and os.path.exists(output_file):
        with open(output_file, encoding='utf-8') as f:
            written = json.load(f)
        for artifact_list in written.get('artifacts', {}).values():
            for artifact in artifact_list.get('artifacts', []):
                metadata = artifact.get('metadata')
                if metadata:
                    artifact['metadata'] = {k: v for k, v in metadata.items() if v is not None}
        with open(output_file, 'w', encoding='utf-8') as f:
            json.dump(written, f)
    from image_tfx.components import storage
    for artifact_list in executor_input.get('outputs', {}).get('artifacts', {}).values():
        for artifact in artifact_list.get('artifacts', []):
            storage.remove_directory_markers(artifact.get('uri', ''))


def main(argv=None) -> int:
    """Runs TFX's entrypoint; returns its exit status."""
    try:
        import tensorflow_io  # noqa: F401
    except ImportError:
        pass
    from absl import app
    from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor as tfx_entry
    argv, executor_input = adapt_invocation(argv or sys.argv)
    try:
        app.run(tfx_entry.main, argv=argv,
                flags_parser=tfx_entry._parse_flags)
        status = 0
    except SystemExit as e:  # absl's app.run ends with sys.exit: its status is the task's
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    if status == 0:
        finish_outputs(executor_input)
    return status


if __name__ == '__main__':
    try:
        status = main()
    except BaseException:
        # Any failure of the task, Ctrl-C included, fails it loudly: the whole traceback goes to
        # the task's log and the status is 1. The process must still end through os._exit
        # below, not the interpreter's teardown (tensorflow-io aborts there, #2039).
        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
