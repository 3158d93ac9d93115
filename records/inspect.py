"""Inspect what ran, from ML Metadata: runs, components, artifacts, lineage, differences.

    python -m image_tfx.records.inspect runs
    python -m image_tfx.records.inspect run [RUN_ID]
    python -m image_tfx.records.inspect artifacts [--type Model]
    python -m image_tfx.records.inspect lineage PATH_OR_ARTIFACT_ID [--down]
    python -m image_tfx.records.inspect diff RUN_A RUN_B
    python -m image_tfx.records.inspect report [RUN_ID] --out report.html

Every command reads the ML Metadata a run wrote (by default
<output-root>/metadata/<pipeline-name>.sqlite, as run_local.py writes it; --metadata for another
file or a mysql:// server; --kfp-metadata HOST:PORT for the runs of Kubeflow Pipelines, from its
metadata service) and takes --json for scripts. Errors (an unknown id, a missing or
non-MLMD database, a server that does not answer) are one line and exit code 2.
"""

import argparse
import datetime
import json
import os
import sys
from typing import Any, Dict, List, Optional

from image_tfx.data import object_store
from image_tfx.runner import config as config_lib

_TIME = '%Y-%m-%d %H:%M:%S'


def _when(millis: int) -> str:
    return datetime.datetime.fromtimestamp(millis / 1000).strftime(_TIME)


def _artifact_dict(artifact, type_names) -> Dict[str, Any]:
    from image_tfx.records import metadata
    return {'id': artifact.id, 'type': type_names.get(artifact.type_id, '?'), 'uri': artifact.uri,
            'properties': metadata.properties_of(artifact)}


def runs(store, pipeline_name: str) -> List[Dict[str, Any]]:
    """Every run, newest first: id, start, duration, state, blessed, pushed version."""
    from image_tfx.records import metadata
    from image_tfx.pipeline import nodes as pipeline_def
    result = []
    for run_id in reversed(metadata.run_ids(store, pipeline_name)):
        nodes = metadata.node_runs(store, pipeline_name, run_id)
        executions = [n.execution for n in nodes.values()]
        start = min(e.create_time_since_epoch for e in executions)
        end = max(e.last_update_time_since_epoch for e in executions)
        state = metadata.run_state(store, run_id, nodes)
        blessing = metadata.first_output(nodes, pipeline_def.EVALUATOR, 'blessing')
        pushed = metadata.first_output(nodes, pipeline_def.PUSHER, 'pushed_model')
        result.append({
            'run_id': run_id, 'start': _when(start), 'seconds': round((end - start) / 1000, 1),
            'state': state,
            'cached': sorted(n.node_id for n in nodes.values() if n.state == 'cached'),
            'blessed': None if blessing is None
            else blessing.custom_properties['blessed'].int_value == 1,
            'pushed_version': (pushed.custom_properties['pushed_version'].string_value or None)
            if pushed is not None else None,
        })
    return result


def _resolve_run(store, pipeline_name: str, run_id: Optional[str]) -> str:
    from image_tfx.records import metadata
    ids = metadata.run_ids(store, pipeline_name)
    if not ids:
        raise metadata.MetadataError(f'no runs of pipeline {pipeline_name!r} in ML Metadata')
    if run_id is None:
        return ids[-1]
    if run_id not in ids:
        raise metadata.MetadataError(f'no run {run_id!r} of pipeline {pipeline_name!r}; '
                                     f'`runs` lists them')
    return run_id


def run(store, pipeline_name: str, run_id: Optional[str]) -> Dict[str, Any]:
    """Each component's execution in a run: state, duration, inputs and outputs."""
    from image_tfx.records import metadata
    run_id = _resolve_run(store, pipeline_name, run_id)
    type_names = metadata.artifact_type_names(store)
    nodes = metadata.node_runs(store, pipeline_name, run_id)
    ordered = sorted(nodes.values(), key=lambda n: (n.execution.create_time_since_epoch,
                                                   n.execution.id))
    return {'run_id': run_id, 'error': metadata.run_error(store, run_id), 'components': [{
        'component': n.node_id, 'execution_id': n.execution.id, 'state': n.state,
        'seconds': round(n.seconds, 1),
        'inputs': {k: [_artifact_dict(a, type_names) for a in v] for k, v in n.inputs.items()},
        'outputs': {k: [_artifact_dict(a, type_names) for a in v] for k, v in n.outputs.items()},
    } for n in ordered]}


def artifacts(store, type_name: Optional[str]) -> List[Dict[str, Any]]:
    """Artifacts (of one type, or all), newest first, with their properties."""
    from image_tfx.records import metadata
    type_names = metadata.artifact_type_names(store)
    if type_name is not None and type_name not in type_names.values():
        raise metadata.MetadataError(f'no artifact type {type_name!r}; known types: '
                                     + ', '.join(sorted(type_names.values())))
    found = (store.get_artifacts_by_type(type_name) if type_name else store.get_artifacts())
    return [_artifact_dict(a, type_names) for a in sorted(found, key=lambda a: -a.id)]


def lineage(store, pipeline_name: str, target: str, down: bool = False) -> Dict[str, Any]:
    """The tree of executions and artifacts behind (or, with down, made from) an artifact."""
    from image_tfx.records import metadata
    if target.isdigit():
        root = metadata.get_artifact(store, int(target))
    else:
        root = metadata.artifact_for_path(store, target)
    type_names = metadata.artifact_type_names(store)
    seen = set()

    def execution_dict(execution):
        return {'execution_id': execution.id,
                'component': metadata.node_of(store, execution.id, pipeline_name),
                'run_id': metadata.run_of(store, execution.id),
                'state': metadata.STATE_NAMES.get(execution.last_known_state, 'unknown'),
                'parameters': metadata.properties_of(execution)}

    def artifact_node(artifact, key=None):
        node = _artifact_dict(artifact, type_names)
        if key:
            node['key'] = key
        if artifact.id in seen:
            node['repeated'] = True
            return node
        seen.add(artifact.id)
        if down:
            node['used_by'] = []
            for execution in metadata.consumers(store, artifact.id):
                entry = execution_dict(execution)
                outputs = metadata.execution_artifacts(store, execution.id, inputs=False)
                entry['outputs'] = [artifact_node(a, k) for k, items in outputs.items()
                                    for a in items]
                node['used_by'].append(entry)
        else:
            execution = metadata.producer(store, artifact.id)
            if execution is not None:
                entry = execution_dict(execution)
                inputs = metadata.execution_artifacts(store, execution.id, inputs=True)
                entry['inputs'] = [artifact_node(a, k) for k, items in inputs.items()
                                   for a in items]
                node['made_by'] = entry
        return node

    return artifact_node(root)


def _flat(properties: Dict[str, Any]) -> Dict[str, Any]:
    """Execution properties with JSON objects (custom_config, ...) spread into dotted keys."""
    result = {}
    for key, value in properties.items():
        parsed = None
        if isinstance(value, str) and value.startswith('{'):
            try:
                parsed = json.loads(value)
            except ValueError:
                pass
        if isinstance(parsed, dict) and parsed and all(
                not isinstance(v, (dict, list)) for v in parsed.values()):
            result.update({f'{key}.{k}': v for k, v in parsed.items()})
        else:
            result[key] = value
    return result


def diff(store, pipeline_name: str, run_a: str, run_b: str) -> Dict[str, Any]:
    """What changed between two runs: parameters, data, metrics per class, blessing."""
    from image_tfx.records import metadata
    from image_tfx.records import summary
    run_a = _resolve_run(store, pipeline_name, run_a)
    run_b = _resolve_run(store, pipeline_name, run_b)
    nodes = {r: metadata.node_runs(store, pipeline_name, r) for r in (run_a, run_b)}
    parameters = {}
    for component in sorted(set(nodes[run_a]) | set(nodes[run_b])):
        props = [_flat(metadata.properties_of(nodes[r][component].execution))
                 if component in nodes[r] else {} for r in (run_a, run_b)]
        changed = {key: [props[0].get(key), props[1].get(key)]
                   for key in sorted(set(props[0]) | set(props[1]))
                   # A cached execution lacks what a driver computed (fingerprint, span).
                   if None not in (props[0].get(key), props[1].get(key))
                   and props[0].get(key) != props[1].get(key) and not key.startswith('__')}
        if changed:
            parameters[component] = changed
    summaries = [summary.summarize(store, pipeline_name, '', r) for r in (run_a, run_b)]

    def pair(field):
        a, b = (getattr(s, field) for s in summaries)
        return None if a == b else [a, b]

    per_class = {}
    labels = set(summaries[0].accuracy_per_class) | set(summaries[1].accuracy_per_class)
    for label in sorted(labels):
        a, b = (s.accuracy_per_class.get(label) for s in summaries)
        per_class[str(label)] = [a, b]
    return {
        'runs': [run_a, run_b],
        'parameters': parameters,
        'data': {'examples_per_split': pair('split_counts')},
        'metrics': {'accuracy': [s.accuracy for s in summaries], 'per_class': per_class},
        'blessed': [s.blessed for s in summaries],
        'pushed': [s.pushed_to for s in summaries],
    }


# ---------------------------------------------------------------- printing for people

def _print_table(rows: List[List[str]], header: List[str]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    for row in [header] + rows:
        print('  '.join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())


def _yes_no(value) -> str:
    return '-' if value is None else ('yes' if value else 'no')


def _print_runs(result) -> None:
    _print_table([[r['run_id'], r['start'], f"{r['seconds']:.1f}s", r['state'],
                   _yes_no(r['blessed']), r['pushed_version'] or '-'] for r in result],
                 ['RUN', 'STARTED', 'TOOK', 'STATE', 'BLESSED', 'PUSHED'])


def _short(artifact) -> str:
    return f"{artifact['type']} #{artifact['id']} {artifact['uri']}"


def _print_run(result) -> None:
    print(f"Run {result['run_id']}")
    if result.get('error'):
        print(f"  error: {result['error']}")
    for c in result['components']:
        print(f"  {c['component']:<26} {c['state']:<9} {c['seconds']:>7.1f}s  "
              f"(execution {c['execution_id']})")
        for direction, arrow in (('inputs', '<-'), ('outputs', '->')):
            for key, items in c[direction].items():
                for a in items:
                    print(f'      {arrow} {key}: {_short(a)}')


def _print_artifacts(result) -> None:
    _print_table([[a['id'], a['type'], a['uri'], ', '.join(
        f'{k}={v}' for k, v in a['properties'].items() if k in (
            'split_names', 'span', 'blessed', 'pushed', 'pushed_version', 'float32_bytes',
            'int8_bytes'))] for a in result], ['ID', 'TYPE', 'URI', 'PROPERTIES'])


def _print_lineage(node, down: bool, indent: str = '', key: str = '') -> None:
    label = f'{key}: ' if key else ''
    print(f'{indent}{label}{_short(node)}' + ('  (shown above)' if node.get('repeated') else ''))
    executions = node.get('used_by', []) if down else [node['made_by']] if 'made_by' in node else []
    for execution in executions:
        params = {k: v for k, v in execution['parameters'].items()
                  if not k.startswith('__') and k not in ('component_id', 'pipeline_name')}
        shown = ', '.join(f'{k}={_clip(v)}' for k, v in params.items())
        verb = 'used by' if down else 'made by'
        print(f"{indent}  {verb} {execution['component']} (execution {execution['execution_id']}, "
              f"run {execution['run_id']}, {execution['state']})" + (f': {shown}' if shown else ''))
        for child in execution['outputs' if down else 'inputs']:
            _print_lineage(child, down, indent + '    ', child.get('key', ''))


def _clip(value, width: int = 60) -> str:
    text = ' '.join((json.dumps(value) if not isinstance(value, str) else value).split())
    return text if len(text) <= width else text[:width - 3] + '...'


def _print_diff(result) -> None:
    a, b = result['runs']
    print(f'Run A {a}\nRun B {b}')
    print('parameters:' + ('' if result['parameters'] else ' no change'))
    for component, changed in result['parameters'].items():
        for key, (va, vb) in changed.items():
            print(f'  {component}.{key}: {_clip(va)} -> {_clip(vb)}')
    counts = result['data']['examples_per_split']
    print('data: ' + ('no change in examples per split' if counts is None
                      else f'examples per split {counts[0]} -> {counts[1]}'))
    acc = result['metrics']['accuracy']
    fmt = lambda v: '-' if v is None else f'{v:.4f}'  # noqa: E731
    print(f'accuracy: {fmt(acc[0])} -> {fmt(acc[1])}')
    for label, (va, vb) in result['metrics']['per_class'].items():
        delta = '' if va is None or vb is None else f' ({vb - va:+.4f})'
        print(f'  class {label}: {fmt(va)} -> {fmt(vb)}{delta}')
    print(f"blessed: {_yes_no(result['blessed'][0])} -> {_yes_no(result['blessed'][1])}")
    print(f"pushed: {result['pushed'][0] or '-'} -> {result['pushed'][1] or '-'}")


def _common_options(parser: argparse.ArgumentParser, defaults) -> None:
    """Options every command takes, before or after the command name. Below the command
    they default to SUPPRESS, so that a value given before it is not overwritten."""
    default = (lambda value: argparse.SUPPRESS) if defaults is None else (lambda value: value)
    config = config_lib.RunConfig()
    parser.add_argument('--metadata', metavar='PATH_OR_URI', default=default(None),
                        help='ML Metadata: a SQLite file or mysql://user:password@host:port/db '
                        '(default: <output-root>/metadata/<pipeline-name>.sqlite)')
    parser.add_argument('--metadata-password-file', metavar='FILE', default=default(None),
                        help='a file whose first line is the MySQL password of --metadata '
                        '(else ~/.my.cnf [client], else $MYSQL_PWD, as MySQL clients read them)')
    parser.add_argument('--kfp-metadata', metavar='HOST:PORT', default=default(None),
                        help='Kubeflow Pipelines\' ML Metadata service, e.g. localhost:8080 '
                        'after `kubectl -n kubeflow port-forward svc/metadata-grpc-service '
                        '8080:8080`')
    parser.add_argument('--output-root', default=default(config.output_root))
    parser.add_argument('--pipeline-name', default=default(None),
                        help='default: the one pipeline recorded under --output-root, else '
                        f'{config.pipeline_name}')
    parser.add_argument('--json', action='store_true', default=default(False),
                        help='print JSON for scripts')
    parser.add_argument('--verbose', action='store_true', default=default(False),
                        help="show TensorFlow's own start-up lines and library warnings")


def only_pipeline(output_root: str, folder: str, suffix: str = '') -> str:
    """The pipeline name when a command is given none: the only pipeline that has a
    `<output-root>/<folder>/<name><suffix>` (a folder data set's run is named after its
    folder), else the default."""
    default = config_lib.RunConfig().pipeline_name
    place = os.path.join(output_root, folder)
    if object_store.is_remote(output_root) or not os.path.isdir(place):
        return default
    names = [name[:len(name) - len(suffix)] for name in os.listdir(place)
             if name.endswith(suffix) and not name.startswith('.')]
    return names[0] if len(names) == 1 else default


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m image_tfx.records.inspect',
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _common_options(parser, defaults=True)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, defaults=None)
    commands = parser.add_subparsers(dest='command', required=True)
    commands.add_parser('runs', parents=[common], help='every run, newest first')
    one = commands.add_parser('run', parents=[common], help="one run's executions and artifacts")
    one.add_argument('run_id', nargs='?', help='default: the latest run')
    listing = commands.add_parser('artifacts', parents=[common],
                                  help='artifacts with their properties')
    listing.add_argument('--type', dest='type_name', help='Model, Examples, PushedModel, ...')
    tree = commands.add_parser('lineage', parents=[common],
                               help='where an artifact or file came from')
    tree.add_argument('target', help='an artifact id, or a path (a pushed .tflite file, ...)')
    tree.add_argument('--down', action='store_true', help='what was made from it instead')
    compare = commands.add_parser('diff', parents=[common],
                                  help='what changed between two runs')
    compare.add_argument('run_a')
    compare.add_argument('run_b')
    report = commands.add_parser('report', parents=[common],
                                 help='write a self-contained HTML report of a run')
    report.add_argument('run_id', nargs='?', help='default: the latest run')
    report.add_argument('--out', required=True, help='the HTML file to write')
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if argv is None:  # a command line: quiet libraries, `inspect ... | head` ends quietly
        from image_tfx.tools import cli
        cli.quiet(args.verbose)
    from ml_metadata import errors as mlmd_errors
    from image_tfx.records import metadata
    if args.kfp_metadata and args.metadata:
        print('error: give --metadata or --kfp-metadata, not both', file=sys.stderr)
        return 2
    if args.pipeline_name is None:
        args.pipeline_name = only_pipeline(args.output_root, 'metadata', '.sqlite')
    config = config_lib.RunConfig(output_root=args.output_root, metadata=args.metadata,
                                  pipeline_name=args.pipeline_name)
    problem = None if args.kfp_metadata else config.metadata_problem()
    if problem:
        print(f'error: {problem}', file=sys.stderr)
        return 2
    target = args.kfp_metadata or config.metadata_target
    try:
        if args.metadata_password_file:
            metadata.use_password_file(args.metadata_password_file)
        if args.kfp_metadata:
            from image_tfx.records import kfp_metadata
            store = kfp_metadata.open_kfp_store(args.kfp_metadata)
            if args.command in ('diff', 'report'):  # these read the artifacts themselves
                for root in store.pipeline_roots():
                    problem = object_store.prepare(root)
                    if problem:
                        raise object_store.StoreError(problem)
        else:
            store = metadata.open_store(target)
        name = args.pipeline_name
        if args.command == 'runs':
            result, show = runs(store, name), _print_runs
        elif args.command == 'run':
            result, show = run(store, name, args.run_id), _print_run
        elif args.command == 'artifacts':
            result, show = artifacts(store, args.type_name), _print_artifacts
        elif args.command == 'lineage':
            result = lineage(store, name, args.target, args.down)
            show = lambda r: _print_lineage(r, args.down)  # noqa: E731
        elif args.command == 'diff':
            result, show = diff(store, name, args.run_a, args.run_b), _print_diff
        else:
            from image_tfx.records import report
            if object_store.is_remote(args.out):
                problem = object_store.check(args.out.rsplit('/', 1)[0])
                if problem:
                    raise object_store.StoreError(problem)
            path = report.write_report(store, name, _resolve_run(store, name, args.run_id),
                                       args.out, metadata.redact(target))
            result, show = {'report': path}, lambda r: print(f"report written to {r['report']}")
    except (metadata.MetadataError, object_store.StoreError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    except mlmd_errors.StatusError as e:
        print(f'error: ML Metadata at {metadata.redact(target)} did not answer: {e}',
              file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        show(result)
    return 0


def run_command() -> None:
    """main, then the process ends through exit_now (also the console script's entry)."""
    object_store.exit_now(main())


if __name__ == '__main__':
    run_command()
