"""SluiceClient's credential options, against an in-process gRPC server that records the metadata of
each call: an API key or a token reaches the server on wrapper calls, on the generated stubs' calls
and on streams, over plaintext and over (mutual) TLS; a token provider is asked once per call; bad
option combinations are refused before any call. The TLS tests make their certificates with the
openssl CLI, as the server's TLS tests do (.ci/run installs it where it is missing).

    PYTHONPATH=clients/python/src python3 -m unittest discover -s clients/python/tests
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import unittest
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from sluice import SluiceArgumentError, SluiceClient, SluiceError, Tls, TokenUnavailableError
from sluice._credentials import is_loopback_address
from sluice.v1 import access_pb2, access_pb2_grpc, ingestion_pb2, ingestion_pb2_grpc, registry_pb2, registry_pb2_grpc


class Recorded:
    """The `authorization` values of each call the fake server answered, as (method, values)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def record(self, method: str, context: grpc.ServicerContext) -> None:
        self.calls.append((method, [v for k, v in context.invocation_metadata() if k == "authorization"]))


class Registry(registry_pb2_grpc.RegistryServiceServicer):
    def __init__(self, seen: Recorded) -> None:
        self.seen = seen

    def ListProjects(self, request: Any, context: grpc.ServicerContext) -> registry_pb2.ListProjectsResponse:
        self.seen.record("ListProjects", context)
        return registry_pb2.ListProjectsResponse()


class Access(access_pb2_grpc.AccessServiceServicer):
    def __init__(self, seen: Recorded) -> None:
        self.seen = seen

    def WhoAmI(self, request: Any, context: grpc.ServicerContext) -> access_pb2.WhoAmIResponse:
        self.seen.record("WhoAmI", context)
        return access_pb2.WhoAmIResponse(principal="alice", authentication="api_key")


class Ingestion(ingestion_pb2_grpc.IngestionServiceServicer):
    def __init__(self, seen: Recorded) -> None:
        self.seen = seen

    def WriteFeatures(self, request_iterator: Any, context: grpc.ServicerContext) -> Any:
        self.seen.record("WriteFeatures", context)
        for request in request_iterator:
            yield ingestion_pb2.WriteFeaturesResponse(write_id=request.write_id, feature_view_version=1)


def fake_server(credentials: grpc.ServerCredentials | None = None) -> tuple[grpc.Server, str, Recorded]:
    seen = Recorded()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    registry_pb2_grpc.add_RegistryServiceServicer_to_server(Registry(seen), server)
    access_pb2_grpc.add_AccessServiceServicer_to_server(Access(seen), server)
    ingestion_pb2_grpc.add_IngestionServiceServicer_to_server(Ingestion(seen), server)
    port = server.add_secure_port("127.0.0.1:0", credentials) if credentials else server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}", seen


def call_every_way(client: SluiceClient) -> None:
    """A wrapper call (WhoAmI), a generated stub's call, directly and through call(), and a stream."""
    assert client.who_am_i().principal == "alice"
    client.call(client.registry.ListProjects, registry_pb2.ListProjectsRequest())
    client.registry.ListProjects(registry_pb2.ListProjectsRequest(), timeout=5)
    from sluice import Batch

    acks = list(client.write_features([Batch("v", [], write_id="w1"), Batch("v", [], write_id="w2")]))
    assert [a.write_id for a in acks] == ["w1", "w2"]


METHODS = ["WhoAmI", "ListProjects", "ListProjects", "WriteFeatures"]


class OptionChecks(unittest.TestCase):
    def refused(self, **options: Any) -> list[str]:
        with self.assertRaises(SluiceArgumentError) as caught:
            SluiceClient("127.0.0.1:1", **options).close()
        return [f"{v.field}: {v.description}" for v in caught.exception.field_violations]

    def test_one_credential(self) -> None:
        self.assertEqual(self.refused(api_key="sk_1", token="t"), ["token: cannot be set together with api_key: give one credential"])
        self.assertEqual(self.refused(token=3), ["token: must be a string or a function returning one, not int"])
        self.assertEqual(self.refused(tls="yes"), ["tls: must be True, False or a sluice.Tls, not str"])
        self.assertEqual(
            self.refused(tls=True, credentials=grpc.ssl_channel_credentials()),
            ["credentials: cannot be set together with tls: give one of them"],
        )

    def test_client_certificate_needs_its_key(self) -> None:
        with self.assertRaises(SluiceArgumentError) as caught:
            Tls(certificate_chain=b"pem")
        self.assertEqual(caught.exception.field_violations[0].field, "tls.private_key")
        with self.assertRaises(SluiceArgumentError) as caught:
            Tls.from_files("/nonexistent/ca.pem")
        self.assertEqual(caught.exception.field_violations[0].field, "ca_file")
        self.assertIn("cannot be read", caught.exception.message)

    def test_no_secret_in_plaintext_to_a_remote_address_unless_asked(self) -> None:
        with self.assertRaises(SluiceArgumentError) as caught:
            SluiceClient("sluice.example:50051", api_key="sk_1")
        self.assertEqual(caught.exception.field_violations[0].field, "tls")
        self.assertIn("must be set when credentials go to sluice.example:50051", caught.exception.message)
        SluiceClient("sluice.example:50051", api_key="sk_1", tls=False).close()
        SluiceClient("sluice.example:50051", token=lambda: "t", tls=True).close()
        SluiceClient("sluice.example:50051").close()  # no credentials: plaintext, as before
        SluiceClient("localhost:50051", api_key="sk_1").close()

    def test_loopback_addresses(self) -> None:
        loopback = ["127.0.0.1:50051", "localhost:1", "LOCALHOST", "127.1.2.3:9", "[::1]:50051", "::1", "dns:///localhost:5", "unix:/tmp/s"]
        remote = ["10.0.0.1:50051", "sluice:50051", "example.com:443", "[2001:db8::1]:1", "dns:///sluice.example:1", "127.example.com:1"]
        self.assertEqual([a for a in loopback if not is_loopback_address(a)], [])
        self.assertEqual([a for a in remote if is_loopback_address(a)], [])


class Plaintext(unittest.TestCase):
    """Over plaintext the credentials go through an interceptor."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.server, cls.address, cls.seen = fake_server()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.server.stop(None)

    def setUp(self) -> None:
        self.seen.calls.clear()

    def test_no_credentials(self) -> None:
        with SluiceClient(self.address, timeout=5) as client:
            call_every_way(client)
        self.assertEqual(self.seen.calls, [(m, []) for m in METHODS])

    def test_api_key_on_every_kind_of_call(self) -> None:
        with SluiceClient(self.address, timeout=5, api_key="sk_test") as client:
            call_every_way(client)
        self.assertEqual(self.seen.calls, [(m, ["Bearer sk_test"]) for m in METHODS])

    def test_token_provider_asked_per_call(self) -> None:
        tokens = iter(f"jwt-{n}" for n in range(1, 100))
        with SluiceClient(self.address, timeout=5, token=lambda: next(tokens)) as client:
            call_every_way(client)
        self.assertEqual(self.seen.calls, [(m, [f"Bearer jwt-{n}"]) for n, m in enumerate(METHODS, 1)])

    def test_failing_provider_fails_the_call_unsent(self) -> None:
        def token() -> str:
            raise RuntimeError("the identity provider is down")

        with SluiceClient(self.address, timeout=5, token=token) as client:
            with self.assertRaises(SluiceError) as caught:
                client.who_am_i()
            self.assertEqual(caught.exception.code_name, "UNAUTHENTICATED")
            self.assertEqual(caught.exception.message, "Getting metadata from plugin failed with error: the identity provider is down")
            # The stubs raise a grpc.RpcError, as for any failed call.
            with self.assertRaises(TokenUnavailableError) as raw:
                client.registry.ListProjects(registry_pb2.ListProjectsRequest())
            self.assertIsInstance(raw.exception, grpc.RpcError)
            self.assertEqual(raw.exception.code(), grpc.StatusCode.UNAUTHENTICATED)
            with self.assertRaises(SluiceError) as stream:
                list(client.write_features([]))
            self.assertEqual(stream.exception.code_name, "UNAUTHENTICATED")
        self.assertEqual(self.seen.calls, [])


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def issue(directory: Path, name: str, ca: str | None, subject_alt_names: str, usage: str) -> tuple[Path, Path]:
    """An EC P-256 certificate and key, signed by `ca` (a name issued before), or a self-signed CA."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key)]
    if ca is None:
        openssl("req", "-x509", "-new", *ec, "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
        return cert, key
    csr, ext = directory / f"{name}.csr", directory / f"{name}.ext"
    openssl("req", "-new", *ec, "-out", str(csr), "-subj", f"/CN={name}")
    ext.write_text(f"subjectAltName={subject_alt_names}\nextendedKeyUsage={usage}\n")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(directory / f"{ca}.pem"), "-CAkey", str(directory / f"{ca}.key"),
            "-set_serial", "0x" + name.encode().hex(), "-extfile", str(ext), "-days", "2", "-out", str(cert))
    return cert, key


class OverTls(unittest.TestCase):
    """Over TLS the credentials are call credentials composed with the SSL channel credentials."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.dir = Path(tempfile.mkdtemp(prefix="sluice-py-tls-"))
        issue(cls.dir, "ca", None, "", "")
        issue(cls.dir, "other-ca", None, "", "")
        server_cert, server_key = issue(cls.dir, "server", "ca", "IP:127.0.0.1,DNS:localhost", "serverAuth")
        named_cert, named_key = issue(cls.dir, "named", "ca", "DNS:sluice.test", "serverAuth")
        issue(cls.dir, "alice", "ca", "DNS:alice.clients.example", "clientAuth")
        ca = (cls.dir / "ca.pem").read_bytes()
        pair = [(server_key.read_bytes(), server_cert.read_bytes())]
        cls.mtls, cls.mtls_address, cls.mtls_seen = fake_server(grpc.ssl_server_credentials(pair, ca, True))
        cls.tls, cls.tls_address, cls.tls_seen = fake_server(grpc.ssl_server_credentials(pair))
        named = [(named_key.read_bytes(), named_cert.read_bytes())]
        cls.named, cls.named_address, cls.named_seen = fake_server(grpc.ssl_server_credentials(named))

    @classmethod
    def tearDownClass(cls) -> None:
        for server in (cls.mtls, cls.tls, cls.named):
            server.stop(None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self) -> None:
        for seen in (self.mtls_seen, self.tls_seen, self.named_seen):
            seen.calls.clear()

    def files(self, *names: str) -> list[str]:
        return [str(self.dir / name) for name in names]

    def test_ca_bundle_and_api_key(self) -> None:
        with SluiceClient(self.tls_address, timeout=5, api_key="sk_tls", tls=Tls.from_files(*self.files("ca.pem"))) as client:
            call_every_way(client)
        self.assertEqual(self.tls_seen.calls, [(m, ["Bearer sk_tls"]) for m in METHODS])

    def test_mutual_tls_with_a_token_provider(self) -> None:
        tokens = iter(f"jwt-{n}" for n in range(1, 100))
        tls = Tls.from_files(*self.files("ca.pem", "alice.pem", "alice.key"))
        with SluiceClient(self.mtls_address, timeout=5, tls=tls, token=lambda: next(tokens)) as client:
            call_every_way(client)
        self.assertEqual(self.mtls_seen.calls, [(m, [f"Bearer jwt-{n}"]) for n, m in enumerate(METHODS, 1)])

    def test_failing_provider(self) -> None:
        def token() -> str:
            raise RuntimeError("expired refresh token")

        with SluiceClient(self.tls_address, timeout=5, tls=Tls.from_files(*self.files("ca.pem")), token=token) as client:
            with self.assertRaises(SluiceError) as caught:
                client.who_am_i()
        # gRPC's core decides the code of a failed call-credentials plugin: UNAVAILABLE (so the
        # channel's retry policy retries idempotent calls), where plaintext says UNAUTHENTICATED.
        self.assertEqual(caught.exception.code_name, "UNAVAILABLE")
        self.assertEqual(caught.exception.message, "Getting metadata from plugin failed with error: expired refresh token")
        self.assertEqual(self.tls_seen.calls, [])

    def test_refused_without_the_client_certificate_or_with_another_ca(self) -> None:
        with SluiceClient(self.mtls_address, timeout=5, tls=Tls.from_files(*self.files("ca.pem"))) as client:
            with self.assertRaises(SluiceError) as caught:
                client.who_am_i()
            self.assertEqual(caught.exception.code_name, "UNAVAILABLE")
        with SluiceClient(self.tls_address, timeout=5, tls=Tls.from_files(*self.files("other-ca.pem"))) as client:
            with self.assertRaises(SluiceError) as caught:
                client.who_am_i()
            self.assertEqual(caught.exception.code_name, "UNAVAILABLE")
        self.assertEqual(self.mtls_seen.calls + self.tls_seen.calls, [])

    def test_server_name(self) -> None:
        with SluiceClient(self.named_address, timeout=5, tls=Tls.from_files(*self.files("ca.pem"))) as client:
            with self.assertRaises(SluiceError):
                client.who_am_i()
        tls = Tls.from_files(*self.files("ca.pem"), server_name="sluice.test")
        with SluiceClient(self.named_address, timeout=5, tls=tls) as client:
            client.who_am_i()
        self.assertEqual(self.named_seen.calls, [("WhoAmI", [])])


class AccessWrappers(unittest.TestCase):
    def test_roles_and_projects(self) -> None:
        from sluice._client import role_grant

        self.assertEqual(role_grant("default:writer"), access_pb2.RoleGrant(project="default", role="writer"))
        self.assertEqual(role_grant("*:admin"), access_pb2.RoleGrant(project="*", role="admin"))
        with self.assertRaises(SluiceArgumentError) as caught:
            SluiceClient("127.0.0.1:1").create_api_key("svc", ["writer"])
        self.assertEqual(caught.exception.field_violations[0].field, "roles[0]")


if __name__ == "__main__":
    unittest.main()
