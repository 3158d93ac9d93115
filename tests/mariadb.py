"""A throwaway MariaDB server on a loopback port, in a temporary folder, for tests."""

import os
import shutil
import socket
import subprocess
import time

from conftest import stop_process

USER = 'tfx'
PASSWORD = 'not-a-real-secret-4721'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class MariaDB:
    """Starts mariadbd with its own data folder; `uri(db)` gives an MLMD mysql:// URI."""

    def __init__(self, root: str):
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.datadir = os.path.join(root, 'data')
        self.port = _free_port()
        self.process = None

    @staticmethod
    def available() -> bool:
        return bool(shutil.which('mariadbd') and shutil.which('mariadb-install-db'))

    def start(self) -> 'MariaDB':
        init = os.path.join(self.root, 'init.sql')
        with open(init, 'w') as f:
            f.write(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';\n"
                    f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1';\n")
        subprocess.run(['mariadb-install-db', '--no-defaults', f'--datadir={self.datadir}',
                        '--user=root', '--skip-test-db',
                        '--auth-root-authentication-method=socket'],
                       check=True, capture_output=True, timeout=300)
        self.process = subprocess.Popen(
            ['mariadbd', '--no-defaults', f'--datadir={self.datadir}', '--user=root',
             f'--port={self.port}', '--bind-address=127.0.0.1',
             f'--socket={os.path.join(self.root, "mysqld.sock")}',
             f'--pid-file={os.path.join(self.root, "mysqld.pid")}',
             f'--init-file={init}', '--skip-name-resolve', '--max-connections=200'],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.root, 'server.log'), 'wb'))
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'mariadbd exited; see {self.root}/server.log')
            try:
                with socket.create_connection(('127.0.0.1', self.port), timeout=1):
                    time.sleep(0.5)  # the init file runs just after the port opens
                    return self
            except OSError:
                time.sleep(0.3)
        raise RuntimeError('mariadbd did not open its port in 60 s')

    def uri(self, database: str) -> str:
        return f'mysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}'

    def stop(self) -> None:
        if self.process:
            stop_process(self.process, timeout=30)
