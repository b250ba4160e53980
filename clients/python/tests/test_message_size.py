"""SluiceClient's message-size limits, against an in-process gRPC server: a response larger than
gRPC's 4 MiB default reaches the caller (a large training set or listing must not fail with
RESOURCE_EXHAUSTED), and a limit the caller sets in `options` wins over the client's.

    PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import unittest
from concurrent import futures
from typing import Any

import grpc

from sluice import SluiceClient, SluiceError
from sluice.v1 import registry_pb2, registry_pb2_grpc

#: A little over 6 MiB of project descriptions.
LARGE = [registry_pb2.Project(name=f"projects/p{i}", description="x" * 65_536) for i in range(100)]


class Registry(registry_pb2_grpc.RegistryServiceServicer):
    def ListProjects(self, request: Any, context: grpc.ServicerContext) -> registry_pb2.ListProjectsResponse:
        return registry_pb2.ListProjectsResponse(projects=LARGE)


class MessageSize(unittest.TestCase):
    def setUp(self) -> None:
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=[("grpc.max_send_message_length", 64 * 1024 * 1024)])
        registry_pb2_grpc.add_RegistryServiceServicer_to_server(Registry(), self.server)
        self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
        self.server.start()

    def tearDown(self) -> None:
        self.server.stop(None)

    def test_a_response_over_4_mib_arrives(self) -> None:
        with SluiceClient(self.address) as client:
            response = client.call(client.registry.ListProjects, registry_pb2.ListProjectsRequest())
        self.assertEqual(len(response.projects), len(LARGE))
        self.assertGreater(response.ByteSize(), 4 * 1024 * 1024)

    def test_the_callers_limit_wins(self) -> None:
        with SluiceClient(self.address, options=[("grpc.max_receive_message_length", 1024 * 1024)]) as client:
            with self.assertRaises(SluiceError) as refused:
                client.call(client.registry.ListProjects, registry_pb2.ListProjectsRequest())
        self.assertEqual(refused.exception.code, grpc.StatusCode.RESOURCE_EXHAUSTED)


if __name__ == "__main__":
    unittest.main()
