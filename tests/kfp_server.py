"""A local HTTP server that answers the Kubeflow Pipelines v2beta1 API calls deploy.py makes,
and records every request, so tests can check what the real kfp.Client sends.

It keeps pipelines, versions, experiments and runs in memory like the API server would (ids
are sequential), answers list calls with their `filter` applied to display_name, and can be
told to refuse a path with an HTTP status.
"""

import json
import threading
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, List, Optional

PREFIX = '/apis/v2beta1'


class KfpApiServer:
    """Start with `with KfpApiServer() as server:`; `server.url` is its host for kfp.Client."""

    def __init__(self, refuse: Optional[Dict[str, int]] = None):
        self.requests: List[Dict[str, Any]] = []
        self.refuse = refuse or {}  # path suffix (e.g. '/pipelines/upload') -> HTTP status
        self.pipelines: List[Dict[str, Any]] = []
        self.versions: List[Dict[str, Any]] = []
        self.experiments: List[Dict[str, Any]] = []
        self.runs: List[Dict[str, Any]] = []
        self._httpd = ThreadingHTTPServer(('127.0.0.1', 0), self._handler())
        self.url = f'http://127.0.0.1:{self._httpd.server_address[1]}'

    def __enter__(self):
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self._httpd.shutdown()
        self._httpd.server_close()

    def calls(self) -> List[str]:
        """'METHOD /path' of every request after healthz, in order."""
        return [f'{r["method"]} {r["path"]}' for r in self.requests
                if not r['path'].endswith('/healthz')]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _reply(self, status: int, body: Dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                length = int(self.headers.get('Content-Length') or 0)
                raw = self.rfile.read(length) if length else b''
                record = {'method': method, 'path': url.path, 'query': query,
                          'authorization': self.headers.get('Authorization'), 'json': None,
                          'file': None}
                content_type = self.headers.get('Content-Type', '')
                if content_type.startswith('multipart/form-data'):
                    message = BytesParser(policy=HTTP).parsebytes(
                        f'Content-Type: {content_type}\r\n\r\n'.encode() + raw)
                    for part in message.iter_parts():
                        if part.get_param('name', header='content-disposition') == 'uploadfile':
                            record['file'] = part.get_payload(decode=True).decode()
                elif raw:
                    record['json'] = json.loads(raw)
                server.requests.append(record)
                for suffix, status in server.refuse.items():
                    if url.path.endswith(suffix):
                        return self._reply(status, {'error_message': 'refused by test server',
                                                    'code': status})
                status, body = server.answer(method, url.path[len(PREFIX):], query, record)
                self._reply(status, body)

            def do_GET(self):  # noqa: N802
                self._handle('GET')

            def do_POST(self):  # noqa: N802
                self._handle('POST')

        return Handler

    @staticmethod
    def _filtered(items, query):
        if 'filter' not in query:
            return items
        wanted = {p['string_value'] if 'string_value' in p else p.get('stringValue')
                  for p in json.loads(query['filter']).get('predicates', [])}
        return [i for i in items if i['display_name'] in wanted]

    def answer(self, method: str, path: str, query: Dict[str, str], record):
        if path == '/healthz':
            return 200, {'multi_user': False}
        if method == 'GET' and path == '/pipelines':
            return 200, {'pipelines': self._filtered(self.pipelines, query) or None}
        if method == 'POST' and path == '/pipelines/upload':
            pipeline = {'pipeline_id': f'p{len(self.pipelines) + 1}',
                        'display_name': query.get('name')}
            self.pipelines.append(pipeline)
            self._add_version(pipeline['pipeline_id'], query.get('name'))
            return 200, pipeline
        if method == 'POST' and path == '/pipelines/upload_version':
            return 200, self._add_version(query['pipelineid'], query.get('name'))
        if method == 'GET' and path.startswith('/pipelines/') and path.endswith('/versions'):
            pipeline_id = path.split('/')[2]
            versions = self._filtered(
                [v for v in self.versions if v['pipeline_id'] == pipeline_id], query)
            return 200, {'pipeline_versions': list(reversed(versions)),
                         'total_size': len(versions)}
        if method == 'GET' and path == '/experiments':
            return 200, {'experiments': self._filtered(self.experiments, query) or None}
        if method == 'POST' and path == '/experiments':
            experiment = {'experiment_id': f'e{len(self.experiments) + 1}', **record['json']}
            self.experiments.append(experiment)
            return 200, experiment
        if method == 'POST' and path == '/runs':
            run = {'run_id': f'r{len(self.runs) + 1}', **record['json']}
            self.runs.append(run)
            return 200, run
        return 404, {'error_message': f'not answered by the test server: {method} {path}'}

    def _add_version(self, pipeline_id: str, name: str) -> Dict[str, Any]:
        version = {'pipeline_id': pipeline_id, 'display_name': name,
                   'pipeline_version_id': f'v{len(self.versions) + 1}'}
        self.versions.append(version)
        return version
