"""ML Metadata on a real MySQL-protocol server (MariaDB), as on Kubeflow.

Starts its own MariaDB on a loopback port, runs the small pipeline against it, then two runs at
once against the same database, then loses the server in the middle of a run.
"""

import os
import subprocess
import json
import sys

import pytest

from conftest import REPO, RUN_LOCAL, require_system_tool, write_idx_dir
from mariadb import PASSWORD, MariaDB
from image_tfx.records import metadata
from image_tfx.pipeline import pipeline as pipeline_def

pytestmark = pytest.mark.e2e  # pipeline runs against the server


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    require_system_tool(MariaDB.available(), 'mariadb-server (mariadbd, mariadb-install-db)')
    db = MariaDB(str(tmp_path_factory.mktemp('mariadb'))).start()
    yield db
    db.stop()


@pytest.fixture(scope='module')
def data(tmp_path_factory, digits):
    images, labels = digits
    return write_idx_dir(tmp_path_factory.mktemp('data'), images[:300], labels[:300])


def _args(data, uri, root, *extra):
    return [sys.executable, RUN_LOCAL, '--data', data, '--epochs', '1',
            '--accuracy-threshold', '0.2', '--metadata', uri, '--output-root', str(root), *extra]


def _inspect(uri, *args):
    return subprocess.run([sys.executable, '-m', 'image_tfx.records.inspect', '--metadata', uri,
                           *args],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


def test_runs_on_mysql_including_two_at_once(server, data, tmp_path):
    uri = server.uri('mlmd_pipeline')
    first = subprocess.run(_args(data, uri, tmp_path), capture_output=True, text=True,
                           timeout=900, cwd=REPO)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert PASSWORD not in first.stdout + first.stderr
    assert 'ML Metadata: mysql://tfx:***@127.0.0.1:' in first.stdout

    # Two runs at once on the same database: one all cached, one training anew; the password
    # out of the URI (and so out of ps and shell history): from a file, and from $MYSQL_PWD.
    bare = uri.replace(f':{PASSWORD}@', '@')
    password_file = tmp_path / 'mysql-password'
    password_file.write_text(PASSWORD + '\n')
    without_password = {k: v for k, v in os.environ.items() if k != 'MYSQL_PWD'}
    runs = [subprocess.Popen(_args(data, bare, tmp_path, *extra), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
            for extra, env in (
                (['--metadata-password-file', str(password_file)], without_password),
                (['--epochs', '2'], dict(without_password, MYSQL_PWD=PASSWORD)))]
    outputs = [p.communicate(timeout=900) for p in runs]
    for process, (out, err) in zip(runs, outputs):
        assert process.returncode == 0, out[-2000:] + err[-2000:]
        assert PASSWORD not in out + err

    store = metadata.open_store(uri)
    run_ids = metadata.run_ids(store, 'mnist')
    assert len(run_ids) == 3 and len(set(run_ids)) == 3
    for run_id in run_ids[1:]:
        nodes = metadata.node_runs(store, 'mnist', run_id)
        assert {n: nodes[n].state in ('complete', 'cached') for n in pipeline_def.COMPONENTS} \
            == {n: True for n in pipeline_def.COMPONENTS}
    trainers = {metadata.node_runs(store, 'mnist', r)[pipeline_def.TRAINER].state
                for r in run_ids[1:]}
    assert trainers == {'cached', 'complete'}

    listed = _inspect(bare, '--json', 'runs', '--metadata-password-file', str(password_file))
    assert listed.returncode == 0, listed.stderr
    assert sorted(r['run_id'] for r in json.loads(listed.stdout)) == sorted(run_ids)
    assert all(r['state'] == 'complete' for r in json.loads(listed.stdout))

    # diff: the run that trained for 2 epochs against the first one.
    retrained = next(r for r in run_ids[1:] if metadata.node_runs(
        store, 'mnist', r)[pipeline_def.TRAINER].state == 'complete')
    result = _inspect(uri, '--json', 'diff', run_ids[0], retrained)
    assert result.returncode == 0, result.stderr
    changes = json.loads(result.stdout)
    assert changes['parameters']['Trainer'] == {'epochs': [1, 2]}
    assert 'ImageExampleGen' not in changes['parameters']  # same data
    assert changes['data']['examples_per_split'] is None
    assert len(changes['metrics']['per_class']) == 10
    text = _inspect(uri, 'diff', run_ids[0], retrained).stdout
    assert 'Trainer.epochs: 1 -> 2' in text and 'accuracy:' in text


def test_server_gone_mid_run(tmp_path, data):
    db = MariaDB(str(tmp_path / 'db')).start()
    try:
        # --verbose: TFX's own logs, which print the connection config, must not show the password.
        process = subprocess.Popen(_args(data, db.uri('mlmd_gone'), tmp_path / 'out', '--verbose'),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   cwd=REPO)
        for line in process.stdout:
            if line.strip().startswith('done    ImageExampleGen'):
                db.stop()
                break
        out, err = process.communicate(timeout=600)
    finally:
        db.stop()
    assert process.returncode == 1, out + err
    assert 'error: lost the ML Metadata server (mysql://tfx:***@127.0.0.1:' in err
    assert PASSWORD not in out + err
    assert not os.path.exists(tmp_path / 'out' / 'serving')


def test_inspect_says_when_the_server_does_not_answer(tmp_path):
    unused = MariaDB(str(tmp_path)).port  # nothing listens there
    result = _inspect(f'mysql://tfx:{PASSWORD}@127.0.0.1:{unused}/mlmd', 'runs')
    assert result.returncode == 2
    assert result.stderr.startswith('error: mysql://tfx:***@127.0.0.1:')
    assert 'cannot use the MySQL server' in result.stderr and PASSWORD not in result.stderr
