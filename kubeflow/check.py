"""Checks a compiled spec against what the open-source Kubeflow Pipelines 2.x backend can run.

    python kubeflow/check.py [pipeline.yaml]

Prints one line per construct the backend would refuse or mishandle, and exits 1 when there is
any; 0 and a note of what the spec needs otherwise. Each rule names the file of the backend
(kubeflow/pipelines, backend/src/v2) that it comes from. compile.py runs it on what it writes.
"""

import argparse
import sys
from typing import Any, Dict, List, Optional


ENTRYPOINT_MODULE = 'image_tfx.kubeflow.entrypoint'
# The argument through which the entrypoint learns the outputs a component declares
# (kubeflow/runner.py adds it).
OUTPUTS_SPEC_FLAG = '--json_serialized_outputs_spec_args'
# Executors whose output depends on more than their input artifacts and parameters: the files
# at a data location, or the serving directory.
READS_OUTSIDE_INPUTS = ('image_tfx.components.image_example_gen.executor.',
                        'image_tfx.components.pushed_baseline.executor.',
                        'tfx.components.example_gen.')
# Fields of a container's resources that the backend knows from version 2.3 on.
NEWER_RESOURCE_FIELDS = ('resourceCpuRequest', 'resourceCpuLimit', 'resourceMemoryRequest',
                         'resourceMemoryLimit')


def _executor_class(container: Dict[str, Any]) -> str:
    args = container.get('args', [])
    for i, arg in enumerate(args[:-1]):
        if arg == '--executor_class_path':
            return args[i + 1]
    return ''


def problems(spec: Dict[str, Any]) -> List[str]:
    """What the open-source backend would refuse or get wrong, one line each."""
    found = []
    root = spec.get('defaultPipelineRoot', '')
    if not root:
        found.append('the spec names no pipeline root; every run must be started with one '
                     '(deploy.py sends the spec\'s), or the backend uses minio:// '
                     '(driver/root_dag.go)')
    elif root.startswith('minio://'):
        found.append(f'pipeline root {root}: minio:// is not a TensorFlow filesystem; use s3:// '
                     'or gs://')
    tasks = spec.get('root', {}).get('dag', {}).get('tasks', {})
    executors = spec.get('deploymentSpec', {}).get('executors', {})
    for name, task in sorted(tasks.items()):
        component = spec.get('components', {}).get(task.get('componentRef', {}).get('name'), {})
        executor = executors.get(component.get('executorLabel'), {})
        kinds = sorted(executor)
        if 'container' not in executor and 'importer' not in executor:
            found.append(f'task {name}: a {"/".join(kinds) or "missing"} executor; the backend '
                         'runs only container and importer executors (compiler/argocompiler/'
                         'dag.go: "resolver executors not implemented", compiler/visitor.go)')
            continue
        container = executor.get('container')
        if container is None:
            continue
        command = container.get('command', []) + container.get('args', [])
        tfx_direct = (ENTRYPOINT_MODULE not in command
                      and any('kubeflow_v2_run_executor' in part for part in command))
        if component.get('inputDefinitions', {}).get('artifacts') and tfx_direct:
            found.append(f'task {name}: runs TFX\'s entrypoint directly; the backend sends input '
                         'artifacts without a type (metadata/converter.go, toRuntimeArtifact), '
                         f'which it cannot parse: use {ENTRYPOINT_MODULE} (every KFP version)')
        if ENTRYPOINT_MODULE in command and OUTPUTS_SPEC_FLAG not in command:
            found.append(f'task {name}: no {OUTPUTS_SPEC_FLAG}; with log publishing on (the '
                         'default) the driver adds an executor-logs output of type '
                         'system.Artifact (driver.go, provisionOutputs), which TFX cannot '
                         'import: recompile with compile.py (KFP 2.5.0 and newer)')
        elif tfx_direct:
            found.append(f'task {name}: TFX\'s entrypoint parses every output, and with log '
                         'publishing on (the default) the driver adds executor-logs of type '
                         'system.Artifact, which it cannot import (KFP 2.5.0 and newer)')
        if root.startswith('gs://') and ENTRYPOINT_MODULE not in command:
            found.append(f'task {name}: on gs:// TensorFlow leaves zero-byte folder markers in '
                         'its outputs, on which the launcher\'s download of the next task\'s '
                         'inputs fails (objectstore.DownloadBlob, kubeflow/pipelines#13476); '
                         f'{ENTRYPOINT_MODULE} removes them (every KFP version)')
        cached = task.get('cachingOptions', {}).get('enableCache', False)
        if cached and _executor_class(container).startswith(READS_OUTSIDE_INPUTS):
            found.append(f'task {name}: cached by KFP, whose cache key holds input artifact '
                         'names and parameter values, not what a location holds '
                         '(cacheutils/cache.go, GenerateCacheKey): changed data would be served '
                         'from the cache')
    return found


def notes(spec: Dict[str, Any], platform: Optional[Dict[str, Any]] = None) -> List[str]:
    """What a spec needs of the server, though nothing is wrong with it. `platform` is the
    file's Kubernetes platform spec (second document), if any."""
    found = []
    executors = spec.get('deploymentSpec', {}).get('executors', {})
    if any(field in executor.get('container', {}).get('resources', {})
           for executor in executors.values() for field in NEWER_RESOURCE_FIELDS):
        found.append('CPU/memory request fields: needs a KFP 2.3 or newer server')
    if spec.get('defaultPipelineRoot', '').startswith('s3://'):
        found.append('s3:// root: KFP\'s launcher opens the bucket itself, from the '
                     'kfp-launcher ConfigMap of the runs\' namespace: apply the kfp-launcher.yaml '
                     'compile.py wrote (every KFP version)')
        configs = ((platform or {}).get('platforms', {}).get('kubernetes', {})
                   .get('deploymentSpec', {}).get('executors', {}))
        given = lambda label: any(  # noqa: E731
            env.get('name') == 'S3_ENDPOINT'
            for env in executors[label].get('container', {}).get('env', [])) or configs.get(
                label, {}).get('secretAsEnv')
        if not all(given(label) for label in executors if 'container' in executors[label]):
            found.append('s3:// root, but the spec gives the tasks no S3 endpoint or credentials '
                         '(compile.py --s3-endpoint, --s3-secret): the pods must have them '
                         'otherwise (AWS: a service account role)')
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog='check.py', description=__doc__.split('\n\n')[0])
    parser.add_argument('spec', nargs='?', default='pipeline.yaml',
                        help='the compiled spec (default %(default)s)')
    args = parser.parse_args(argv)
    import yaml
    try:
        with open(args.spec, encoding='utf-8') as f:
            documents = list(yaml.safe_load_all(f))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        print(f'error: {args.spec}: cannot read a YAML pipeline spec ({e})', file=sys.stderr)
        return 2
    spec = documents[0] if documents else None
    platform = documents[1] if len(documents) > 1 else None
    if not isinstance(spec, dict) or 'root' not in spec:
        print(f'error: {args.spec}: not a KFP pipeline spec (no root)', file=sys.stderr)
        return 2
    found = problems(spec)
    for line in found:
        print(f'{args.spec}: {line}')
    if not found:
        print(f'{args.spec}: nothing the open-source KFP backend cannot run'
              + ''.join(f'; {note}' for note in notes(spec, platform)))
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())

