"""The webhook transport checks the address at send time and connects to the address it checked."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from app.netpolicy import UrlNotAllowed
from tests.delivery.support import Receiver
from worker.delivery.transport import PinnedTransport

pytestmark = pytest.mark.integration


def client(resolver: object, *, allow_loopback: bool) -> httpx.Client:
    return httpx.Client(
        transport=PinnedTransport(allow_loopback=allow_loopback, allow_private=False, resolver=resolver),  # type: ignore[arg-type]
        follow_redirects=False,
    )


def test_connects_to_the_checked_address_with_the_original_host_header(receiver: Receiver) -> None:
    calls: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    with client(resolve, allow_loopback=True) as http:
        response = http.post(f"http://hooks.example.test:{receiver.port}/hook", content=b"{}")
    assert response.status_code == 200
    assert calls == ["hooks.example.test"]
    assert receiver.received[0].headers["host"] == f"hooks.example.test:{receiver.port}"


def test_a_name_resolving_to_the_metadata_address_is_refused_before_connecting() -> None:
    with (
        client(lambda host, port: ["169.254.169.254"], allow_loopback=True) as http,
        pytest.raises(UrlNotAllowed, match="cloud metadata"),
    ):
        http.post("http://innocent.example.test/hook", content=b"{}")


def test_dns_rebinding_after_the_save_time_check_is_caught_when_sending(receiver: Receiver) -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    from app.netpolicy import check_webhook_url

    url = f"http://rebind.example.test:{receiver.port}/hook"
    check_webhook_url(url, allow_loopback=False, allow_private=False, resolver=rebinding)  # save time: fine
    with client(rebinding, allow_loopback=False) as http, pytest.raises(UrlNotAllowed, match="loopback"):
        http.post(url, content=b"{}")
    assert receiver.received == []


def test_the_next_address_is_tried_when_one_refuses_connections(receiver: Receiver) -> None:
    down = Receiver()  # a port nobody listens on
    with (
        client(lambda host, port: ["127.0.0.1"], allow_loopback=True) as http,
        pytest.raises(httpx.ConnectError),
    ):
        http.post(down.url, content=b"{}")
    with client(lambda host, port: ["127.0.0.2", "127.0.0.1"], allow_loopback=True) as http:
        assert http.post(f"http://two.example.test:{receiver.port}/hook", content=b"{}").status_code == 200


def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _TlsServer:
    """An HTTPS server on 127.0.0.1 that records the SNI name each handshake asked for."""

    def __init__(self, cert: Path, key: Path) -> None:
        import http.server
        import ssl
        import threading

        self.sni: list[str | None] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda sock, name, ctx: self.sni.append(name)  # type: ignore[assignment,misc]

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(204)
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def test_https_to_the_pinned_address_keeps_sni_and_verifies_the_certificate_name(tmp_path: Path) -> None:
    import ssl

    cert, key = _certificate(tmp_path, "hooks.example.test")
    server = _TlsServer(cert, key)
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        transport = PinnedTransport(
            allow_loopback=True, allow_private=False, resolver=lambda host, port: ["127.0.0.1"], verify=trust
        )
        with httpx.Client(transport=transport) as http:
            assert http.post(f"https://hooks.example.test:{server.port}/h", content=b"{}").status_code == 204
            with pytest.raises(httpx.ConnectError):  # the certificate does not name this host
                http.post(f"https://other.example.test:{server.port}/h", content=b"{}")
    finally:
        server.stop()
    assert server.sni[0] == "hooks.example.test"
