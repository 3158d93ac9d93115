"""An ML Metadata gRPC service on loopback: a stand-in for KFP's metadata-grpc-service.

Kubeflow Pipelines runs ML Metadata's `metadata_store_server` (C++) behind the service
`metadata-grpc-service`; no binary of it can be installed here. This stand-in serves the same
gRPC API (ml_metadata's own MetadataStoreService protos) and answers every call with the same
C++ MetadataStore the real server wraps (metadata_store_service_impl.cc hands each request to
MetadataStore's method of the same name), through the ml-metadata package's binding, on a
SQLite file. Errors go back as the status codes the store returns.

    python tests/mlmd_server.py --port PORT --sqlite FILE   (what MlmdServer starts)
"""

import argparse
import os
import socket
import subprocess
import sys
import threading
from concurrent import futures


class MlmdServer:
    """The stand-in in a subprocess on 127.0.0.1:<free port>; `address` is HOST:PORT."""

    def __init__(self, sqlite_path: str, log_path: str):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            self.port = s.getsockname()[1]
        self.address = f'127.0.0.1:{self.port}'
        self._log = open(log_path, 'w', encoding='utf-8')
        self._process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), '--port', str(self.port),
             '--sqlite', sqlite_path], stdout=self._log, stderr=subprocess.STDOUT)
        from conftest import wait_until_listening
        try:
            wait_until_listening(self._process, self.port, 'the ML Metadata service', log_path)
        except RuntimeError:
            self._log.close()
            raise

    def client(self):
        """A MetadataStore client of this service, as `inspect --kfp-metadata` opens one."""
        from ml_metadata import metadata_store
        from ml_metadata.proto import metadata_store_pb2
        return metadata_store.MetadataStore(metadata_store_pb2.MetadataStoreClientConfig(
            host='127.0.0.1', port=self.port))

    def stop(self) -> None:
        from conftest import stop_process
        stop_process(self._process)
        self._log.close()


def serve(port: int, sqlite_path: str) -> None:
    import grpc
    from ml_metadata.metadata_store.pywrap.metadata_store_extension import metadata_store as cc
    from ml_metadata.proto import metadata_store_pb2
    from ml_metadata.proto import metadata_store_service_pb2 as service_pb2

    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = sqlite_path
    sqlite_config = metadata_store_pb2.SqliteMetadataSourceConfig
    config.sqlite.connection_mode = sqlite_config.READWRITE_OPENCREATE
    migration = metadata_store_pb2.MigrationOptions(enable_upgrade_migration=True)
    store = cc.CreateMetadataStore(config.SerializeToString(), migration.SerializeToString())
    codes = {code.value[0]: code for code in grpc.StatusCode}
    # One call at a time, as the C++ server's service serialises its store's calls.
    lock = threading.Lock()
    service = service_pb2.DESCRIPTOR.services_by_name['MetadataStoreService']
    handlers = {}
    for method in service.methods:
        request_class = getattr(service_pb2, method.input_type.name)
        response_class = getattr(service_pb2, method.output_type.name)
        call = getattr(cc, method.name, None)
        if call is None:
            continue  # not in this binding: the client here never calls it

        def handler(request, context, call=call, response_class=response_class):
            with lock:
                response, message, status = call(store, request.SerializeToString())
            if status != 0:
                context.abort(codes.get(status, grpc.StatusCode.UNKNOWN),
                              message.decode('utf-8', 'replace'))
            return response_class.FromString(response)

        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            handler, request_deserializer=request_class.FromString,
            response_serializer=response_class.SerializeToString)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        service.full_name, handlers)])
    server.add_insecure_port(f'127.0.0.1:{port}')
    server.start()
    server.wait_for_termination()


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--sqlite', required=True)
    arguments = parser.parse_args()
    serve(arguments.port, arguments.sqlite)
