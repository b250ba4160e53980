"""How the channel of SluiceClient and AsyncSluiceClient carries credentials.

An API key or a bearer token becomes an `authorization: Bearer ...` header on every call, the
generated stubs' calls included:

- over TLS, as call credentials (`grpc.metadata_call_credentials`) composed with the channel's SSL
  credentials;
- over plaintext, where gRPC refuses call credentials, through a client interceptor.

A secret goes in plaintext only to a loopback address, or anywhere with `tls=False` (plaintext chosen
explicitly, e.g. behind a mesh that encrypts the hop).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Union

import grpc

from sluice._errors import SluiceArgumentError

TokenProvider = Callable[[], str]
"""Returns the bearer token (a JWT) for one call; called for every call, so it should cache."""

StrPath = Union[str, "os.PathLike[str]"]

# gRPC's own words when a call-credentials plugin fails; the plaintext path says the same.
PROVIDER_FAILED = "Getting metadata from plugin failed with error: "


@dataclass(frozen=True)
class Tls:
    """TLS to the server: a CA bundle, and a client certificate and key for mutual TLS, as PEM bytes.

    With no `root_certificates`, the server's certificate must chain to gRPC's default roots.
    `server_name` is the name the server's certificate must carry when it is not the address's host
    (an IP address, a tunnel). `Tls.from_files` reads the PEM files.
    """

    root_certificates: bytes | None = None
    certificate_chain: bytes | None = None
    private_key: bytes | None = None
    server_name: str | None = None

    def __post_init__(self) -> None:
        for name in ("root_certificates", "certificate_chain", "private_key"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bytes):
                raise SluiceArgumentError.for_argument(f"tls.{name}", f"must be PEM bytes, not {type(value).__name__}")
        if (self.certificate_chain is None) != (self.private_key is None):
            missing = "private_key" if self.private_key is None else "certificate_chain"
            raise SluiceArgumentError.for_argument(
                f"tls.{missing}", "is required: a client certificate and its key go together", reason="MISSING_FIELD"
            )

    @classmethod
    def from_files(
        cls,
        ca_file: StrPath | None = None,
        cert_file: StrPath | None = None,
        key_file: StrPath | None = None,
        *,
        server_name: str | None = None,
    ) -> Tls:
        """Reads a CA bundle and, for mutual TLS, a client certificate and its key (PEM files)."""
        return cls(
            root_certificates=_read("ca_file", ca_file),
            certificate_chain=_read("cert_file", cert_file),
            private_key=_read("key_file", key_file),
            server_name=server_name,
        )


def _read(argument: str, path: StrPath | None) -> bytes | None:
    if path is None or path == "":
        return None
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as error:
        raise SluiceArgumentError.for_argument(argument, f"cannot be read: {error}") from None


def is_loopback_address(address: str) -> bool:
    """Whether `address` ("host:port", "[::1]:port", "dns:///host:port", "unix:path") names this
    machine: localhost, 127.0.0.0/8, ::1, or a Unix socket."""
    target = address.strip().lower()
    if re.match(r"^unix(-abstract)?:", target):
        return True
    host_port = re.sub(r"^(dns:(//[^/]*/)?|ipv4:|ipv6:)", "", target)
    bracketed = re.match(r"^\[([^\]]+)\](:\d+)?$", host_port)
    if bracketed:
        host = bracketed.group(1)
    elif host_port.count(":") > 1:
        host = host_port
    else:
        host = host_port.split(":")[0]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def authorization_of(api_key: str | None, token: str | TokenProvider | None) -> Callable[[], str] | None:
    """The `authorization` value of each call, or None without credentials (an empty string is none).
    Raises SluiceArgumentError for both credentials, or a token of another type."""
    if api_key and token:
        raise SluiceArgumentError.for_argument("token", "cannot be set together with api_key: give one credential")
    if api_key is not None and not isinstance(api_key, str):
        raise SluiceArgumentError.for_argument("api_key", f"must be a string, not {type(api_key).__name__}")
    if api_key:
        value = f"Bearer {api_key}"
        return lambda: value
    if token is None or token == "":
        return None
    if isinstance(token, str):
        value = f"Bearer {token}"
        return lambda: value
    if not callable(token):
        raise SluiceArgumentError.for_argument("token", f"must be a string or a function returning one, not {type(token).__name__}")
    provider = token

    def fresh() -> str:
        value = provider()
        if not isinstance(value, str) or value == "":
            raise ValueError(f"the token provider returned {value!r:.40}, not a token")
        return f"Bearer {value}"

    return fresh


class _ChannelPlan(NamedTuple):
    """How a channel is opened: its credentials (None for plaintext), its options, and the
    `authorization` source the plaintext interceptor sets (None: no interceptor)."""

    credentials: grpc.ChannelCredentials | None
    options: list[tuple[str, Any]]
    intercepted: Callable[[], str] | None


def _plan_channel(
    address: str,
    *,
    tls: bool | Tls | None,
    credentials: grpc.ChannelCredentials | None,
    api_key: str | None,
    token: str | TokenProvider | None,
    options: Sequence[tuple[str, Any]],
) -> _ChannelPlan:
    """Checks the connection options and decides how the channel carries the credentials; opens nothing."""
    authorization = authorization_of(api_key, token)
    if tls is not None and not isinstance(tls, (bool, Tls)):
        raise SluiceArgumentError.for_argument("tls", f"must be True, False or a sluice.Tls, not {type(tls).__name__}")
    if credentials is not None and tls is not None:
        raise SluiceArgumentError.for_argument("credentials", "cannot be set together with tls: give one of them")
    channel_options = list(options)
    if isinstance(tls, Tls):
        credentials = grpc.ssl_channel_credentials(tls.root_certificates, tls.private_key, tls.certificate_chain)
        if tls.server_name:
            channel_options.append(("grpc.ssl_target_name_override", tls.server_name))
    elif tls is True:
        credentials = grpc.ssl_channel_credentials()

    if credentials is not None:
        if authorization is not None:
            call_credentials = grpc.metadata_call_credentials(_AuthorizationPlugin(authorization), name="sluice")
            credentials = grpc.composite_channel_credentials(credentials, call_credentials)
        return _ChannelPlan(credentials, channel_options, None)
    if authorization is not None and tls is None and not is_loopback_address(address):
        raise SluiceArgumentError.for_argument(
            "tls",
            f"must be set when credentials go to {address}, not to a loopback address: "
            "a sluice.Tls (or True) to encrypt them, or False to send them in plaintext on purpose",
        )
    return _ChannelPlan(None, channel_options, authorization)


def open_channel(
    address: str,
    *,
    tls: bool | Tls | None,
    credentials: grpc.ChannelCredentials | None,
    api_key: str | None,
    token: str | TokenProvider | None,
    options: Sequence[tuple[str, Any]],
) -> grpc.Channel:
    """The channel of a SluiceClient: plaintext unless `tls` (True, Tls) or `credentials` (grpc
    ChannelCredentials) says otherwise, with the credentials on every call. Raises SluiceArgumentError
    for options that do not go together, or a secret bound for a remote address in plaintext without
    `tls=False`."""
    plan = _plan_channel(address, tls=tls, credentials=credentials, api_key=api_key, token=token, options=options)
    if plan.credentials is not None:
        return grpc.secure_channel(address, plan.credentials, options=plan.options)
    channel = grpc.insecure_channel(address, options=plan.options)
    if plan.intercepted is None:
        return channel
    return grpc.intercept_channel(channel, AuthorizationInterceptor(plan.intercepted))


def open_aio_channel(
    address: str,
    *,
    tls: bool | Tls | None,
    credentials: grpc.ChannelCredentials | None,
    api_key: str | None,
    token: str | TokenProvider | None,
    options: Sequence[tuple[str, Any]],
) -> grpc.aio.Channel:
    """The channel of an AsyncSluiceClient (grpc.aio), carrying the credentials as open_channel's does:
    call credentials over TLS, over plaintext one interceptor per kind of call (grpc.aio files an
    interceptor under one kind only)."""
    plan = _plan_channel(address, tls=tls, credentials=credentials, api_key=api_key, token=token, options=options)
    if plan.credentials is not None:
        return grpc.aio.secure_channel(address, plan.credentials, options=plan.options)
    interceptors = None if plan.intercepted is None else aio_authorization_interceptors(plan.intercepted)
    return grpc.aio.insecure_channel(address, options=plan.options, interceptors=interceptors)


class _AuthorizationPlugin(grpc.AuthMetadataPlugin):
    """Call credentials: gRPC asks it for the metadata of each call (on a thread of its own)."""

    def __init__(self, authorization: Callable[[], str]) -> None:
        self._authorization = authorization

    def __call__(self, context: grpc.AuthMetadataContext, callback: grpc.AuthMetadataPluginCallback) -> None:
        try:
            value = self._authorization()
        except Exception as error:  # noqa: BLE001 - any failure of the provider fails the call, not the thread
            callback((), error)
            return
        callback((("authorization", value),), None)


class TokenUnavailableError(grpc.RpcError, grpc.Call):
    """A call that was not sent because the token provider failed: UNAUTHENTICATED, as the server
    would answer without a token. Raised by the generated stubs on a plaintext channel; SluiceClient's
    wrappers turn it into a SluiceError like any failed call."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(PROVIDER_FAILED + str(cause))
        self._details = PROVIDER_FAILED + str(cause)
        self.__cause__ = cause

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAUTHENTICATED

    def details(self) -> str:
        return self._details

    def initial_metadata(self) -> tuple[()]:
        return ()

    def trailing_metadata(self) -> tuple[()]:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> None:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Callable[[], None]) -> bool:
        return False


class _CallDetails(
    NamedTuple(
        "_CallDetails",
        [
            ("method", str),
            ("timeout", float | None),
            ("metadata", "Sequence[tuple[str, str | bytes]] | None"),
            ("credentials", grpc.CallCredentials | None),
            ("wait_for_ready", bool | None),
            ("compression", Any),
        ],
    ),
    grpc.ClientCallDetails,
):
    pass


def authorized_metadata(authorization: Callable[[], str], metadata: Any) -> list[tuple[str, Any]]:
    """A call's metadata with `authorization` set (replacing one the caller set); TokenUnavailableError
    when the token provider fails, so that the call fails unsent. Both interceptors use it."""
    try:
        value = authorization()
    except Exception as error:  # noqa: BLE001 - surfaces as the call's failure
        raise TokenUnavailableError(error) from error
    kept = [(k, v) for k, v in (metadata or ()) if k.lower() != "authorization"]
    kept.append(("authorization", value))
    return kept


class AuthorizationInterceptor(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Sets `authorization` on every call of a plaintext channel (replacing one the caller set)."""

    def __init__(self, authorization: Callable[[], str]) -> None:
        self._authorization = authorization

    def _details(self, details: grpc.ClientCallDetails) -> _CallDetails:
        return _CallDetails(
            details.method,
            details.timeout,
            authorized_metadata(self._authorization, details.metadata),
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, client_call_details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_unary_stream(self, continuation: Any, client_call_details: grpc.ClientCallDetails, request: Any) -> Any:
        return continuation(self._details(client_call_details), request)

    def intercept_stream_unary(self, continuation: Any, client_call_details: grpc.ClientCallDetails, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)

    def intercept_stream_stream(self, continuation: Any, client_call_details: grpc.ClientCallDetails, request_iterator: Any) -> Any:
        return continuation(self._details(client_call_details), request_iterator)


class _AioAuthorization:
    """What the four grpc.aio interceptors share: the call details with `authorization` set."""

    def __init__(self, authorization: Callable[[], str]) -> None:
        self._authorization = authorization

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*authorized_metadata(self._authorization, details.metadata))
        return grpc.aio.ClientCallDetails(details.method, details.timeout, metadata, details.credentials, details.wait_for_ready)


class _AioUnaryUnary(_AioAuthorization, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(self._details(client_call_details), request)


class _AioUnaryStream(_AioAuthorization, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, client_call_details: Any, request: Any) -> Any:
        return await continuation(self._details(client_call_details), request)


class _AioStreamUnary(_AioAuthorization, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


class _AioStreamStream(_AioAuthorization, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, client_call_details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(client_call_details), request_iterator)


def aio_authorization_interceptors(authorization: Callable[[], str]) -> list[grpc.aio.ClientInterceptor]:
    """The interceptors that set `authorization` on every call of a plaintext grpc.aio channel."""
    return [kind(authorization) for kind in (_AioUnaryUnary, _AioUnaryStream, _AioStreamUnary, _AioStreamStream)]
