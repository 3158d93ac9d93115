"""Uploads the compiled pipeline to Kubeflow Pipelines and starts a run.

    python kubeflow/compile.py --image IMAGE --pipeline-root gs://bucket/tfx  # pipeline.yaml
    python kubeflow/deploy.py --host https://kfp.example.com --param epochs=8
    python kubeflow/deploy.py --host http://localhost:8080 --dry-run   # prints, sends nothing

The first upload creates the pipeline; later ones add a version to it, named by the spec's
content. Runs go to an experiment (created when missing) with the parameters given by --param
(the spec's defaults otherwise). Authentication, never written into the spec:
  * $KFP_TOKEN: a bearer token (e.g. `gcloud auth print-access-token`, or a Dex/OIDC token);
  * $KF_PIPELINES_SA_TOKEN_PATH: a projected service-account token file (in-cluster);
  * neither: no credentials, as through `kubectl port-forward svc/ml-pipeline-ui 8080:80`.
Exit status: 0 done (or dry run), 1 the server could not be reached or refused a request,
2 bad options or package.
"""

import argparse
import datetime
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
from typing import Any, Dict, List, Optional


TOKEN_ENV = 'KFP_TOKEN'
SA_TOKEN_PATH_ENV = 'KF_PIPELINES_SA_TOKEN_PATH'
HEALTHZ_PATH = '/apis/v2beta1/healthz'
DEFAULT_EXPERIMENT = 'mnist'


class DeployError(Exception):
    """A problem to report in one line, with the exit status it means."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def load_spec(path: str) -> Dict[str, Any]:
    """The compiled pipeline spec, or a DeployError that names the file and the problem."""
    import yaml
    try:
        with open(path, encoding='utf-8') as f:
            spec = next(iter(yaml.safe_load_all(f)), None)
    except FileNotFoundError:
        raise DeployError(f'{path}: no such file (run kubeflow/compile.py first)', 2) from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise DeployError(f'{path}: not a readable YAML pipeline spec ({e})', 2) from None
    if not isinstance(spec, dict) or 'pipelineInfo' not in spec or 'root' not in spec:
        raise DeployError(f'{path}: not a KFP pipeline spec (no pipelineInfo/root)', 2)
    return spec


def parse_params(spec: Dict[str, Any], pairs: List[str]) -> Dict[str, Any]:
    """--param name=value pairs, typed by the spec's parameter definitions."""
    definitions = spec['root'].get('inputDefinitions', {}).get('parameters', {})
    converters = {'NUMBER_INTEGER': int, 'NUMBER_DOUBLE': float, 'STRING': str}
    params = {}
    for pair in pairs:
        name, sep, text = pair.partition('=')
        if not sep:
            raise DeployError(f'--param {pair!r}: expected NAME=VALUE', 2)
        if name not in definitions:
            raise DeployError(f'--param {name}: the pipeline has no such parameter '
                              f'(it has: {", ".join(sorted(definitions))})', 2)
        kind = definitions[name]['parameterType']
        try:
            params[name] = converters[kind](text)
        except (KeyError, ValueError):
            raise DeployError(f'--param {name}={text!r}: expected {kind}', 2) from None
    return params


def package_digest(path: str) -> str:
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def auth_source() -> str:
    if os.environ.get(TOKEN_ENV):
        return f'bearer token from ${TOKEN_ENV}'
    if os.environ.get(SA_TOKEN_PATH_ENV):
        return f'service-account token file ${SA_TOKEN_PATH_ENV}'
    return 'none'


def pipeline_root(args: argparse.Namespace, spec: Dict[str, Any]) -> str:
    """The run's pipeline root: --pipeline-root, else the one compile.py wrote into the spec.

    The open-source KFP backend never reads the spec's defaultPipelineRoot: without a root in
    the run it uses its configured default, `minio://mlpipeline/v2/artifacts`
    (backend/src/v2/driver/root_dag.go), which is not a TensorFlow filesystem.
    """
    root = (args.pipeline_root or spec.get('defaultPipelineRoot') or '').strip()
    if not root:
        raise DeployError(f'{args.package}: the spec names no pipeline root; give '
                          '--pipeline-root gs://... or s3://...', 2)
    if root.startswith('minio://'):
        raise DeployError(f'pipeline root {root}: minio:// is not a TensorFlow filesystem; '
                          'give the same bucket as s3://... (with the S3 endpoint set in the '
                          'image), or gs://...', 2)
    return root


def plan(args: argparse.Namespace, spec: Dict[str, Any]) -> Dict[str, Any]:
    """What a deployment sends: everything but the package's bytes and the credentials."""
    name = args.pipeline_name or spec['pipelineInfo']['name']
    digest = package_digest(args.package)
    now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%d-%H%M%S')
    return {
        'host': args.host,
        'package': os.path.abspath(args.package),
        'package_sha256': digest,
        'pipeline': name,
        # Named by content: re-deploying an unchanged spec is visible as the same version name.
        'version': f'{name}-{digest[:12]}',
        'experiment': args.experiment,
        'run': args.run_name or f'{name}-{now}',
        'namespace': args.namespace,
        'parameters': parse_params(spec, args.param),
        'pipeline_root': pipeline_root(args, spec),
        'auth': auth_source(),
    }


def _headers() -> Dict[str, str]:
    token = os.environ.get(TOKEN_ENV)
    path = os.environ.get(SA_TOKEN_PATH_ENV)
    if not token and path:
        try:
            with open(path, encoding='utf-8') as f:
                token = f.read().strip()
        except OSError as e:
            raise DeployError(f'{path} (${SA_TOKEN_PATH_ENV}): cannot read the token '
                              f'({e.strerror})', 2) from None
    return {'Authorization': f'Bearer {token}'} if token else {}


def check_reachable(host: str, timeout: float = 10) -> None:
    """Fails fast, in one line, where kfp.Client would retry for half a minute."""
    request = urllib.request.Request(host.rstrip('/') + HEALTHZ_PATH, headers=_headers())
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise DeployError(f'{host} refused the credentials (HTTP {e.code}); set '
                              f'${TOKEN_ENV} or ${SA_TOKEN_PATH_ENV}', 1) from None
        raise DeployError(f'{host} answered HTTP {e.code} {e.reason} on {HEALTHZ_PATH}; is '
                          'it the Kubeflow Pipelines API endpoint?', 1) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, 'reason', e)
        raise DeployError(f'cannot reach Kubeflow Pipelines at {host}: {reason}', 1) from None


def _name_filter(name: str) -> str:
    return json.dumps({'predicates': [{'operation': 'EQUALS', 'key': 'display_name',
                                       'stringValue': name}]})


def _client(args: argparse.Namespace):
    import kfp
    kwargs = {'host': args.host}
    if args.namespace:
        kwargs['namespace'] = args.namespace
    if os.environ.get(TOKEN_ENV):
        kwargs['existing_token'] = os.environ[TOKEN_ENV]
    elif os.environ.get(SA_TOKEN_PATH_ENV):
        from kfp.client import set_volume_credentials
        kwargs['credentials'] = set_volume_credentials.ServiceAccountTokenVolumeCredentials(
            os.environ[SA_TOKEN_PATH_ENV])
    return kfp.Client(**kwargs)


def deploy(args: argparse.Namespace, what: Dict[str, Any], stream=sys.stdout) -> Dict[str, str]:
    """Uploads the pipeline (or a new version), ensures the experiment, starts the run."""
    import kfp_server_api
    if args.host:
        check_reachable(args.host)
    step = 'connect'
    try:
        client = _client(args)
        step = 'look up the pipeline'
        pipeline_id = client.get_pipeline_id(what['pipeline'])
        if pipeline_id is None:
            step = 'upload the pipeline'
            pipeline = client.upload_pipeline(args.package, pipeline_name=what['pipeline'],
                                              description=f'{what["version"]} (compiled spec)')
            pipeline_id = pipeline.pipeline_id
            step = 'find the new pipeline\'s version'
            versions = client.list_pipeline_versions(pipeline_id, sort_by='created_at desc',
                                                     page_size=1).pipeline_versions or []
            if not versions:
                raise DeployError(f'{args.host} created pipeline {pipeline_id} but lists no '
                                  'version of it', 1)
            version_id = versions[0].pipeline_version_id
        else:
            step = 'look up the pipeline\'s versions'
            same = client.list_pipeline_versions(
                pipeline_id, filter=_name_filter(what['version'])).pipeline_versions or []
            if same:
                # Version names hold the spec's digest: this spec is already uploaded.
                version_id = same[0].pipeline_version_id
                print(f'Pipeline {what["pipeline"]} already has version {what["version"]} '
                      f'({version_id}); not uploading it again', file=stream)
            else:
                step = 'upload a pipeline version'
                version = client.upload_pipeline_version(
                    args.package, pipeline_version_name=what['version'],
                    pipeline_id=pipeline_id)
                version_id = version.pipeline_version_id
        step = 'create the experiment'
        experiment = client.create_experiment(what['experiment'], namespace=args.namespace)
        step = 'start the run'
        run = client.run_pipeline(experiment_id=experiment.experiment_id, job_name=what['run'],
                                  params=what['parameters'], pipeline_id=pipeline_id,
                                  version_id=version_id, pipeline_root=what['pipeline_root'])
    except kfp_server_api.ApiException as e:
        body = (e.body or '').strip().replace('\n', ' ')[:300]
        raise DeployError(f'Kubeflow Pipelines at {args.host} refused to {step}: HTTP '
                          f'{e.status} {e.reason}' + (f': {body}' if body else ''), 1) from None
    result = {'pipeline_id': pipeline_id, 'version_id': version_id,
              'experiment_id': experiment.experiment_id, 'run_id': run.run_id}
    print(f'Started run {what["run"]} ({run.run_id}) of pipeline {what["pipeline"]} '
          f'(version {version_id}) in experiment {what["experiment"]}', file=stream)
    return result


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='deploy.py', description='Upload the compiled image_tfx pipeline to Kubeflow '
        'Pipelines and start a run.')
    parser.add_argument('--host', default=os.environ.get('KF_PIPELINES_ENDPOINT'),
                        help='the KFP API endpoint, e.g. https://kubeflow.example.com/pipeline '
                        'or http://localhost:8080 (default: $KF_PIPELINES_ENDPOINT; unset: '
                        'the current kube context)')
    parser.add_argument('--package', default='pipeline.yaml',
                        help='the spec kubeflow/compile.py wrote (default %(default)s)')
    parser.add_argument('--pipeline-name', default=None,
                        help='default: the name compiled into the spec')
    parser.add_argument('--experiment', default=DEFAULT_EXPERIMENT,
                        help='created when missing (default %(default)s)')
    parser.add_argument('--run-name', default=None, help='default: <pipeline>-<UTC time>')
    parser.add_argument('--namespace', default=None,
                        help='the Kubeflow profile namespace (multi-user installs)')
    parser.add_argument('--param', action='append', default=[], metavar='NAME=VALUE',
                        help='a run parameter (repeatable): data, epochs, batch_size, '
                        'learning_rate, accuracy_threshold')
    parser.add_argument('--pipeline-root', default=None, metavar='URI',
                        help='where the run writes artifacts (default: the root compile.py '
                        'wrote into the spec); sent with every run, since KFP would otherwise '
                        'use its own minio:// default')
    parser.add_argument('--dry-run', action='store_true',
                        help='print what would be sent, as JSON, and send nothing')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        what = plan(args, load_spec(args.package))
        if args.dry_run:
            print(json.dumps({'dry_run': True, **what}, indent=2))
            return 0
        deploy(args, what)
    except DeployError as e:
        print(f'error: {e}', file=sys.stderr)
        return e.status
    return 0


if __name__ == '__main__':
    sys.exit(main())
