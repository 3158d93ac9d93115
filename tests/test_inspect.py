"""The inspect command and the HTML report, on the ML Metadata of the end-to-end runs."""

import json
import os
import re
import subprocess
import sys

import pytest

from browser import CHROMIUM, render
from conftest import REPO, require_system_tool
from image_tfx.pipeline import pipeline as pipeline_def
from image_tfx.records.report import SECTIONS


def inspect(root, *args):
    return subprocess.run([sys.executable, '-m', 'image_tfx.records.inspect',
                           '--output-root', str(root),
                           *args], capture_output=True, text=True, timeout=300, cwd=REPO)


def _json(root, *args):
    result = inspect(root, '--json', *args)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_runs_newest_first(runs):
    first, second, root = runs
    listed = _json(root, 'runs')
    assert len(listed) == 2 and listed[0]['start'] >= listed[1]['start']
    newest, oldest = listed
    assert oldest['state'] == newest['state'] == 'complete'
    assert oldest['blessed'] is True and oldest['pushed_version']
    assert newest['cached'] == sorted(pipeline_def.COMPONENTS)
    text = inspect(root, 'runs').stdout
    assert text.splitlines()[0].split() == ['RUN', 'STARTED', 'TOOK', 'STATE', 'BLESSED', 'PUSHED']
    assert oldest['run_id'] in text


def test_run_shows_components_and_artifacts(runs):
    _, _, root = runs
    oldest = _json(root, 'runs')[-1]['run_id']
    result = _json(root, 'run', oldest)
    components = {c['component']: c for c in result['components']}
    assert set(pipeline_def.COMPONENTS) <= set(components)
    trainer = components[pipeline_def.TRAINER]
    assert trainer['state'] == 'complete' and trainer['seconds'] > 0
    assert trainer['outputs']['model'][0]['type'] == 'Model'
    assert os.path.isdir(trainer['outputs']['model'][0]['uri'])
    text = inspect(root, 'run').stdout  # the latest run, readable
    assert re.search(r'Trainer\s+cached', text) and '-> model: Model #' in text


def test_artifacts_by_type(runs):
    _, _, root = runs
    models = _json(root, 'artifacts', '--type', 'Model')
    # The Trainer's model, and the (empty: nothing pushed before) baseline of the first run.
    assert len(models) == 2 and {m['type'] for m in models} == {'Model'}
    assert sorted(m['properties'].get('pushed_version') for m in models
                  if 'pushed_version' in m['properties']) == ['']
    pushed = _json(root, 'artifacts', '--type', 'PushedModel')
    assert pushed[0]['properties']['pushed'] == 1
    bad = inspect(root, 'artifacts', '--type', 'Nonsense')
    assert bad.returncode == 2 and "no artifact type 'Nonsense'" in bad.stderr


def _walk(node, down=False):
    yield node
    executions = node.get('used_by', []) if down else [node['made_by']] if 'made_by' in node else []
    for execution in executions:
        yield execution
        for child in execution['outputs' if down else 'inputs']:
            yield from _walk(child, down)


def test_lineage_from_a_pushed_tflite_file_back_to_the_data(runs):
    _, _, root = runs
    pushed = _json(root, 'artifacts', '--type', 'PushedModel')[0]
    tflite_file = os.path.join(pushed['properties']['pushed_destination'], 'assets.extra',
                               'model_int8.tflite')
    tree = _json(root, 'lineage', tflite_file)
    assert tree['type'] == 'PushedModel'
    items = list(_walk(tree))
    components = {i['component'] for i in items if 'component' in i}
    assert {pipeline_def.PUSHER, pipeline_def.TFLITE_EXPORTER, pipeline_def.TRAINER,
            pipeline_def.TRANSFORM, pipeline_def.EXAMPLE_GEN, pipeline_def.SCHEMA_GEN} <= components
    example_gen = next(i for i in items if i.get('component') == pipeline_def.EXAMPLE_GEN)
    assert example_gen['parameters']['source_format'] == 'idx'
    assert example_gen['parameters']['input_base'].endswith('data')
    trainer = next(i for i in items if i.get('component') == pipeline_def.TRAINER)
    assert trainer['parameters']['epochs'] == 1  # a run parameter of its own (Kubeflow)
    assert json.loads(trainer['parameters']['custom_config'])['mixed_precision'] is None
    assert trainer['run_id'] == _json(root, 'runs')[-1]['run_id']
    text = inspect(root, 'lineage', tflite_file).stdout
    assert 'made by ImageExampleGen' in text and 'made by DataSchemaGen' in text


def test_lineage_down_from_the_data(runs):
    _, _, root = runs
    examples = _json(root, 'artifacts', '--type', 'Examples')
    raw = next(a for a in examples if '/ImageExampleGen/' in a['uri'])
    tree = _json(root, 'lineage', str(raw['id']), '--down')
    made = {i['type'] for i in _walk(tree, down=True) if 'type' in i}
    assert {'Model', 'PushedModel', 'image_tfx.TFLiteModel', 'ExampleStatistics'} <= made


def test_clear_errors(runs, tmp_path):
    _, _, root = runs
    for args, expected in ((['run', 'no-such-run'], "no run 'no-such-run'"),
                           (['lineage', '999999'], 'no artifact with id 999999'),
                           (['lineage', str(tmp_path)], 'no artifact in ML Metadata holds')):
        result = inspect(root, *args)
        assert result.returncode == 2 and expected in result.stderr, result.stderr
    missing = inspect(tmp_path / 'nowhere', 'runs')
    assert missing.returncode == 2 and 'no ML Metadata database there' in missing.stderr
    junk = tmp_path / 'junk.sqlite'
    junk.write_text('not a database')
    result = subprocess.run([sys.executable, '-m', 'image_tfx.records.inspect',
                             '--metadata', str(junk),
                             'runs'], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 2 and 'not an ML Metadata database' in result.stderr


def test_report_written_by_each_run_renders(runs, tmp_path):
    require_system_tool(bool(CHROMIUM), 'chromium')
    first, second, root = runs
    paths = [re.search(r'Report:\s+(\S+)', run.stdout).group(1) for run in (first, second)]
    assert len(set(paths)) == 2 and all(os.path.isfile(p) for p in paths)
    dom, console = render(paths[0], str(tmp_path / 'report.png'))
    assert console == []
    for section in SECTIONS:
        assert f'<section id="{section}">' in dom
    assert dom.count(' (label ') == 20  # two sample images per class, titled by class
    assert '<table id="confusion">' in dom and 'aria-label="lineage"' in dom
    assert '<h3 id="test-split">Test split (100 images' in dom  # the t10k digits, scored
    assert 'accuracy per epoch' in dom and 'TFLite int8' in dom and 'TF.js (in Chromium' in dom
    assert (tmp_path / 'report.png').stat().st_size > 10_000


def test_report_command(runs, tmp_path):
    _, _, root = runs
    out = tmp_path / 'again.html'
    result = inspect(root, 'report', '--out', str(out))
    assert result.returncode == 0 and out.is_file(), result.stderr
    html = out.read_text()
    assert all(f'<section id="{s}">' in html for s in SECTIONS)


# ML Metadata of a run recorded before the project was renamed from mnist_tfx (node
# MnistExampleGen, artifact types mnist_tfx.*): a folder-photo run whose TFLite check refused
# the push. Only the database is checked in, not the artifact files it points to.
RECORDED_BEFORE_RENAME = os.path.join(REPO, 'tests', 'fixtures', 'recorded_before_rename.sqlite')


def test_a_run_recorded_before_the_rename_reads_as_today(tmp_path):
    def answer(*args):
        result = inspect(tmp_path, '--metadata', RECORDED_BEFORE_RENAME, '--json', *args)
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads(result.stdout)

    (listed,) = answer('runs')
    assert (listed['state'], listed['blessed'], listed['pushed_version']) == (
        'complete', True, None)
    components = {c['component']: c for c in answer('run')['components']}
    # MnistExampleGen read as today's ImageExampleGen; the TF.js check was not a component then.
    assert set(components) == set(pipeline_def.COMPONENTS) - {pipeline_def.TFJS_EXPORTER}
    (examples,) = components[pipeline_def.EXAMPLE_GEN]['outputs']['examples']
    (tflite,) = components[pipeline_def.TFLITE_EXPORTER]['outputs']['tflite_model']
    assert tflite['type'] == 'mnist_tfx.TFLiteModel'  # the type name it was recorded with
    assert [a['id'] for a in answer('artifacts', '--type', 'mnist_tfx.TFLiteModel')] == [
        tflite['id']]
    tree = answer('lineage', str(tflite['id']))
    assert tree['made_by']['component'] == pipeline_def.TFLITE_EXPORTER
    found = json.dumps(tree)
    assert f'"component": "{pipeline_def.EXAMPLE_GEN}"' in found and examples['uri'] in found


def test_the_mysql_password_comes_from_where_mysql_clients_take_it(tmp_path, monkeypatch):
    """Not only the URI (which ps and shell history show): --metadata-password-file, then the
    option file's [client] password, then $MYSQL_PWD; the file's never enters the
    environment that child processes inherit."""
    from image_tfx.records import metadata
    uri = 'mysql://tfx@127.0.0.1:3306/mlmd'
    password = lambda: metadata.connection_config(uri).mysql.password  # noqa: E731
    monkeypatch.setattr(metadata, '_password_from_file', [])
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('MYSQL_PWD', raising=False)
    assert password() == ''
    monkeypatch.setenv('MYSQL_PWD', 'from-env')
    assert password() == 'from-env'
    (tmp_path / '.my.cnf').write_text('[mysql]\npassword=not-this\n[client]\n'
                                      'password = "from option file" # a comment\n')
    assert password() == 'from option file'
    secret = tmp_path / 'secret'
    secret.write_text('from file\n')
    metadata.use_password_file(str(secret))
    assert password() == 'from file' and os.environ['MYSQL_PWD'] == 'from-env'
    assert metadata.connection_config('mysql://tfx:in%20uri@h:1/db').mysql.password == 'in uri'
    with pytest.raises(metadata.MetadataError, match='cannot read the password file'):
        metadata.use_password_file(str(tmp_path / 'missing'))
