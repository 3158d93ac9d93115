"""Runs a compiled KFP v2 pipeline spec on this machine, task by task, as KFP would.

No cluster and no containers: for each task of the spec's root DAG, in dependency order, it
does what KFP's driver and launcher do in a pod:
  * container tasks: builds the ExecutorInput JSON from the spec (parameters from the run's
    values or the spec's defaults, constants, input artifacts from upstream tasks' outputs,
    output artifact URIs under the pipeline root and an output metadata file), substitutes it
    into the container's own command and arguments, refuses any placeholder it cannot resolve,
    runs the command in a subprocess and reads back the ExecutorOutput (the artifacts'
    metadata, e.g. split names, blessings) for downstream tasks;
  * tasks whose caching is on are served from the launcher's cache when KFP's fingerprint
    (input artifact names, parameter values, output specs, image, command) matches an earlier
    execution, as the backend does;
  * each task's environment is the image's plus what the spec gives it, as the driver builds
    the pod: the container's `env` (backend/src/v2/driver/driver.go) and the Kubernetes
    platform spec's `secretAsEnv` (driver/k8s.go), read from the `secrets` the launcher is
    given as the cluster's; a missing secret or key fails the task, as Kubernetes does;
  * input artifacts in an s3:// root are downloaded before the task runs, every object under
    the artifact's URI, as the launcher does into its local path (component/launcher_v2.go,
    downloadArtifacts): an object a file system cannot hold fails the task there too;
  * any other executor (a TFX resolver, say) is refused, as the open-source KFP backend
    refuses it when a run is created. Importers and lifecycle hooks are not used by this
    pipeline and are refused too.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

import yaml

_PLACEHOLDER = re.compile(r'\{\{\$[^}]*\}\}')
# The backend's root driver uses the run's pipeline_root (its runtime config), else its
# configured default; it never reads the spec's defaultPipelineRoot
# (backend/src/v2/driver/root_dag.go, backend/src/v2/config/env.go).
BACKEND_DEFAULT_PIPELINE_ROOT = 'minio://mlpipeline/v2/artifacts'
_PARAMETER_TYPES = {'NUMBER_INTEGER': int, 'NUMBER_DOUBLE': (int, float), 'STRING': str,
                    'BOOLEAN': bool}


class TaskFailed(RuntimeError):
    """A task's command exited non-zero; the message holds the end of its output."""

    def __init__(self, task: str, returncode: int, log_path: str, tail: str):
        super().__init__(f'task {task} exited {returncode} (log: {log_path}):\n{tail}')
        self.task = task
        self.returncode = returncode


def load_spec(path: str) -> Dict[str, Any]:
    """The PipelineSpec of a compiled YAML file (its first document)."""
    with open(path, encoding='utf-8') as f:
        return next(iter(yaml.safe_load_all(f)))


def load_platform_spec(path: str) -> Dict[str, Any]:
    """The Kubernetes executor configs of a compiled YAML file's platform spec (its second
    document, as kfp-kubernetes writes it): {executor label: config}; {} without one."""
    with open(path, encoding='utf-8') as f:
        documents = list(yaml.safe_load_all(f))
    platform = documents[1] if len(documents) > 1 else {}
    return platform.get('platforms', {}).get('kubernetes', {}).get('deploymentSpec', {}).get(
        'executors', {})


def task_order(spec: Dict[str, Any]) -> List[str]:
    """The root DAG's tasks in an order that respects every dependency (stable by name)."""
    tasks = spec['root']['dag']['tasks']
    needs = {}
    for name, task in tasks.items():
        deps = set(task.get('dependentTasks', []))
        for artifact in task.get('inputs', {}).get('artifacts', {}).values():
            deps.add(artifact['taskOutputArtifact']['producerTask'])
        needs[name] = deps
    order, done = [], set()
    while len(order) < len(tasks):
        ready = sorted(n for n in tasks if n not in done and needs[n] <= done)
        if not ready:
            raise ValueError(f'the DAG has a cycle among {sorted(set(tasks) - done)}')
        order.extend(ready)
        done.update(ready)
    return order


class Launcher:
    """Runs a spec's tasks in subprocesses; keeps produced artifacts across runs (its MLMD)."""

    def __init__(self, spec: Dict[str, Any], work_dir: str, pipeline_root: Optional[str] = None,
                 env: Optional[Dict[str, str]] = None, timeout: float = 900,
                 platform: Optional[Dict[str, Any]] = None,
                 secrets: Optional[Dict[str, Dict[str, str]]] = None, store=None):
        self.spec = spec
        self.platform = platform or {}
        self.secrets = secrets or {}
        self.store = store  # s3_server.S3Server: what the launcher's bucket config reaches
        self.pipeline_root = pipeline_root or BACKEND_DEFAULT_PIPELINE_ROOT
        self._next_id = 1  # MLMD ids of the artifacts produced, as the backend names inputs
        # KFP's execution cache: fingerprint -> the outputs of the execution it names.
        self.cache: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
        self.cached: Dict[str, List[str]] = {}  # run id -> tasks served from the cache
        self.work_dir = work_dir
        self.env = env or dict(os.environ)
        self.timeout = timeout
        self.commands: Dict[str, List[str]] = {}
        self.timings: Dict[str, float] = {}

    def parameters(self, overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The run's pipeline parameters: the spec's defaults, then the overrides, type-checked."""
        definitions = self.spec['root'].get('inputDefinitions', {}).get('parameters', {})
        unknown = set(overrides or {}) - set(definitions)
        if unknown:
            raise ValueError(f'unknown pipeline parameters {sorted(unknown)}')
        values = {}
        for name, definition in definitions.items():
            if name in (overrides or {}):
                value = overrides[name]
            elif 'defaultValue' in definition:
                value = definition['defaultValue']
            else:
                raise ValueError(f'pipeline parameter {name} has no default and no value')
            if not isinstance(value, _PARAMETER_TYPES[definition['parameterType']]):
                raise TypeError(f'parameter {name}={value!r} is not '
                                f'{definition["parameterType"]}')
            values[name] = value
        return values

    def run(self, run_id: str, overrides: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """Runs every task once; returns their output artifacts, {task: {key: [artifact]}}."""
        parameters = self.parameters(overrides)
        outputs: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
        for name in task_order(self.spec):
            task = self.spec['root']['dag']['tasks'][name]
            component = self.spec['components'][task['componentRef']['name']]
            executor = self.spec['deploymentSpec']['executors'][component['executorLabel']]
            inputs = self._input_artifacts(task, outputs)
            started = time.monotonic()
            if 'container' in executor:
                key = self._cache_key(name, task, component, executor['container'], parameters,
                                      inputs)
                if key is not None and key in self.cache:
                    outputs[name] = self.cache[key]
                    self.cached.setdefault(run_id, []).append(name)
                else:
                    outputs[name] = self._run_container(run_id, name, task, component,
                                                        executor['container'], parameters,
                                                        inputs, component['executorLabel'])
                    if key is not None:
                        self.cache[key] = outputs[name]
            else:
                # As the open-source backend's Argo compiler does when a run is created
                # (kubeflow/pipelines backend/src/v2/compiler/argocompiler/dag.go: "resolver
                # executors not implemented"; compiler/visitor.go: "non-container and
                # non-importer executor not implemented"). Importers are not used here.
                raise NotImplementedError(f'task {name}: executor kind {sorted(executor)} is '
                                          'not implemented by the KFP backend')
            self.timings[name] = time.monotonic() - started
        return outputs

    @staticmethod
    def _input_artifacts(task, outputs) -> Dict[str, List[Dict[str, Any]]]:
        """Upstream outputs as the backend hands them to a task: named by MLMD id, with URI
        and metadata and no type (backend/src/v2/metadata/converter.go, toRuntimeArtifact)."""
        inputs = {}
        for key, spec in task.get('inputs', {}).get('artifacts', {}).items():
            source = spec['taskOutputArtifact']
            inputs[key] = [{'name': str(a['id']), 'uri': a['uri'], 'metadata': a['metadata']}
                           for a in outputs[source['producerTask']].get(
                               source['outputArtifactKey'], [])]
        return inputs

    def _cache_key(self, name, task, component, container, parameters,
                   inputs) -> Optional[str]:
        """KFP's cache fingerprint of a task, None when its caching is off.

        As backend/src/v2/driver/cache.go (getFingerPrint) and cacheutils/cache.go
        (GenerateCacheKey): input artifact *names* (MLMD ids, not contents), input parameter
        values, output artifact specs without URIs, the image and the command and arguments
        before substitution. A task caches only when its cachingOptions.enableCache is set.
        """
        if not task.get('cachingOptions', {}).get('enableCache', False):
            return None
        key = {
            'inputArtifactNames': {k: [a['name'] for a in v] for k, v in sorted(inputs.items())},
            'inputParameterValues': self._input_parameters(name, task, parameters),
            'outputArtifactsSpec': {
                k: {'name': k, 'type': d['artifactType']} for k, d in sorted(
                    component.get('outputDefinitions', {}).get('artifacts', {}).items())},
            'containerSpec': {'image': container.get('image'),
                              'cmdArgs': container.get('command', []) + container.get('args', [])},
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()

    def _input_parameters(self, name, task, parameters) -> Dict[str, Any]:
        values = {}
        for key, spec in task.get('inputs', {}).get('parameters', {}).items():
            if 'componentInputParameter' in spec:
                values[key] = parameters[spec['componentInputParameter']]
            elif 'runtimeValue' in spec:
                values[key] = spec['runtimeValue']['constant']
            else:
                raise NotImplementedError(f'task {name}: parameter {key} comes from {spec}')
        return values

    def task_env(self, name: str, container: Dict[str, Any], label: str) -> Dict[str, str]:
        """The task's environment: the image's, the container's `env`, then its secrets."""
        env = dict(self.env)
        for variable in container.get('env', []):
            env[variable['name']] = variable['value']
        for secret_env in self.platform.get(label, {}).get('secretAsEnv', []):
            secret_name = secret_env['secretName']
            if secret_name not in self.secrets:
                raise TaskFailed(name, -1, '', f'CreateContainerConfigError: secret '
                                 f'"{secret_name}" not found')
            for key_to_env in secret_env['keyToEnv']:
                key = key_to_env['secretKey']
                if key not in self.secrets[secret_name]:
                    raise TaskFailed(name, -1, '', f'CreateContainerConfigError: couldn\'t find '
                                     f'key {key} in Secret {secret_name}')
                env[key_to_env['envVar']] = self.secrets[secret_name][key]
        return env

    def _download_inputs(self, name: str, task_dir: str, inputs) -> None:
        for key, artifacts in inputs.items():
            for artifact in artifacts:
                if not artifact['uri'].startswith('s3://'):
                    continue
                if self.store is None:
                    raise TaskFailed(name, -1, '', f'input {key}: {artifact["uri"]}: the '
                                     'launcher has no bucket configured')
                local = os.path.join(task_dir, 'inputs', key, artifact['name'])
                try:
                    self.store.download(artifact['uri'], local)
                except OSError as e:
                    raise TaskFailed(name, -1, '', f'failed to download input artifact {key!r} '
                                     f'from remote storage URI {artifact["uri"]}: {e}') from e

    def _run_container(self, run_id, name, task, component, container, parameters, inputs,
                       label):
        task_dir = os.path.join(self.work_dir, run_id, name)
        os.makedirs(task_dir, exist_ok=True)
        env = self.task_env(name, container, label)
        self._download_inputs(name, task_dir, inputs)
        output_file = os.path.join(task_dir, 'executor_output.json')
        outputs = {}
        for key, definition in component.get('outputDefinitions', {}).get('artifacts',
                                                                            {}).items():
            uri = '/'.join([self.pipeline_root.rstrip('/'), run_id, name, key])
            # Named by their output key (backend/src/v2/driver/driver.go, provisionOutputs).
            outputs[key] = [{'name': key, 'uri': uri, 'metadata': {},
                             'type': definition['artifactType'], 'id': self._next_id}]
            self._next_id += 1
        executor_input = {
            'inputs': {'parameterValues': self._input_parameters(name, task, parameters),
                       'artifacts': {k: {'artifacts': v} for k, v in inputs.items()}},
            'outputs': {'artifacts': {k: {'artifacts': [
                {f: v for f, v in a.items() if f != 'id'} for a in artifacts]}
                for k, artifacts in outputs.items()}, 'outputFile': output_file},
        }
        if container.get('lifecycle'):
            raise NotImplementedError(f'task {name}: lifecycle hooks are not supported')
        command = [self._substitute(name, arg, executor_input)
                   for arg in container.get('command', []) + container.get('args', [])]
        self.commands[name] = command
        log_path = os.path.join(task_dir, 'log.txt')
        with open(log_path, 'w', encoding='utf-8') as log:
            process = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=task_dir, env=env, timeout=self.timeout,
                                     check=False)
        if process.returncode:
            with open(log_path, encoding='utf-8', errors='replace') as f:
                tail = ''.join(f.readlines()[-40:])
            raise TaskFailed(name, process.returncode, log_path, tail)
        if os.path.exists(output_file):
            with open(output_file, encoding='utf-8') as f:
                written = json.load(f).get('artifacts', {})
            for key, artifacts in outputs.items():
                for artifact, updated in zip(artifacts, written.get(key, {}).get('artifacts',
                                                                                  [])):
                    artifact['metadata'] = updated.get('metadata', {})
        return outputs

    @staticmethod
    def _substitute(name: str, arg: str, executor_input: Dict[str, Any]) -> str:
        arg = arg.replace('{{$}}', json.dumps(executor_input))
        unresolved = _PLACEHOLDER.findall(arg)
        if unresolved:
            raise ValueError(f'task {name}: unresolved placeholder(s) {unresolved} in its '
                             'command')
        return arg

def python_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """An environment whose `python` is this interpreter, as the image's PATH would give."""
    env = dict(os.environ)
    env['PATH'] = os.pathsep.join([os.path.dirname(sys.executable), env.get('PATH', '')])
    env.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
    env.update(extra or {})
    return env
