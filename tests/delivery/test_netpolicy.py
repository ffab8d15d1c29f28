"""The webhook SSRF policy: which addresses a webhook URL may resolve to."""

from __future__ import annotations

import ipaddress

import pytest

from app.netpolicy import AddressClass, HostNotResolved, UrlNotAllowed, check_webhook_url, classify


def resolver_for(*addresses: str):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("8.8.8.8", AddressClass.GLOBAL),
        ("2606:4700::1111", AddressClass.GLOBAL),
        ("127.0.0.1", AddressClass.LOOPBACK),
        ("127.8.9.10", AddressClass.LOOPBACK),
        ("::1", AddressClass.LOOPBACK),
        ("10.0.0.1", AddressClass.PRIVATE),
        ("172.16.5.4", AddressClass.PRIVATE),
        ("192.168.1.1", AddressClass.PRIVATE),
        ("fd12:3456::1", AddressClass.PRIVATE),
        ("169.254.1.1", AddressClass.LINK_LOCAL),
        ("fe80::1", AddressClass.LINK_LOCAL),
        ("fe80::1%1", AddressClass.LINK_LOCAL),
        ("169.254.169.254", AddressClass.METADATA),
        ("fd00:ec2::254", AddressClass.METADATA),
        ("100.100.100.200", AddressClass.METADATA),
        ("100.64.0.1", AddressClass.SHARED),
        ("100.127.255.254", AddressClass.SHARED),
        ("224.0.0.1", AddressClass.MULTICAST),
        ("239.255.255.250", AddressClass.MULTICAST),
        ("ff02::1", AddressClass.MULTICAST),
        ("0.0.0.0", AddressClass.UNSPECIFIED),
        ("::", AddressClass.UNSPECIFIED),
        ("240.0.0.1", AddressClass.RESERVED),
        ("255.255.255.255", AddressClass.RESERVED),
        ("192.0.2.10", AddressClass.RESERVED),
        ("198.18.0.1", AddressClass.RESERVED),
        ("2001:db8::1", AddressClass.RESERVED),
        ("fec0::1", AddressClass.RESERVED),
    ],
)
def test_each_address_form_is_classified(address: str, expected: AddressClass) -> None:
    assert classify(ipaddress.ip_address(address)) is expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("::ffff:127.0.0.1", AddressClass.LOOPBACK),
        ("::ffff:10.1.2.3", AddressClass.PRIVATE),
        ("::ffff:169.254.169.254", AddressClass.METADATA),
        ("::ffff:8.8.8.8", AddressClass.GLOBAL),
        ("::127.0.0.1", AddressClass.LOOPBACK),
        ("64:ff9b::7f00:1", AddressClass.LOOPBACK),
        ("64:ff9b::a9fe:a9fe", AddressClass.METADATA),
        ("64:ff9b::6440:1", AddressClass.SHARED),
        ("64:ff9b::808:808", AddressClass.GLOBAL),
        ("64:ff9b:1::a00:1", AddressClass.UNSPECIFIED),  # other RFC 6052 layouts read 0.0.x.x
        ("2002:7f00:1::", AddressClass.LOOPBACK),
        ("2002:a9fe:a9fe::1", AddressClass.METADATA),
        ("2002:c0a8:101::1", AddressClass.PRIVATE),
        ("2002:808:808::1", AddressClass.GLOBAL),
        # Teredo: server 65.54.227.120, client 192.0.2.45 (obfuscated as 3fff:fdd2).
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", AddressClass.RESERVED),
        # Teredo: server 65.54.227.120, client 127.0.0.1.
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", AddressClass.LOOPBACK),
    ],
)
def test_ipv6_forms_carrying_ipv4_are_judged_by_the_ipv4(address: str, expected: AddressClass) -> None:
    assert classify(ipaddress.ip_address(address)) is expected


def test_global_host_is_allowed_and_its_addresses_returned() -> None:
    addresses = check_webhook_url(
        "https://hooks.example.com/x",
        allow_loopback=False,
        allow_private=False,
        resolver=resolver_for("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"),
    )
    assert [str(a) for a in addresses] == ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"]


def test_host_with_any_refused_address_is_refused() -> None:
    with pytest.raises(UrlNotAllowed, match=r"'hooks\.example\.com'.*10\.0\.0\.5 \(private network\)"):
        check_webhook_url(
            "https://hooks.example.com/x",
            allow_loopback=False,
            allow_private=False,
            resolver=resolver_for("93.184.215.14", "10.0.0.5"),
        )


def test_loopback_refused_unless_allowed() -> None:
    with pytest.raises(UrlNotAllowed, match="loopback"):
        check_webhook_url("http://localhost:8080/hook", allow_loopback=False, allow_private=False)
    addresses = check_webhook_url("http://localhost:8080/hook", allow_loopback=True, allow_private=False)
    assert all(a.is_loopback for a in addresses)


def test_private_refused_unless_allowed() -> None:
    with pytest.raises(UrlNotAllowed, match="private network"):
        check_webhook_url("http://192.168.0.10/hook", allow_loopback=True, allow_private=False)
    assert check_webhook_url("http://192.168.0.10/hook", allow_loopback=False, allow_private=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[::ffff:169.254.169.254]/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
    ],
)
def test_never_allowed_even_with_every_setting(url: str) -> None:
    with pytest.raises(UrlNotAllowed):
        check_webhook_url(url, allow_loopback=True, allow_private=True)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "example.com/x", "http:///x"])
def test_only_http_urls_with_a_host_are_accepted(url: str) -> None:
    with pytest.raises(UrlNotAllowed, match="webhook URL"):
        check_webhook_url(url, allow_loopback=True, allow_private=True)


def test_unresolvable_host_raises_host_not_resolved() -> None:
    with pytest.raises(HostNotResolved, match=r"'nowhere\.invalid'"):
        check_webhook_url("https://nowhere.invalid/x", allow_loopback=False, allow_private=False)


def test_message_names_the_host_but_not_credentials_or_query() -> None:
    with pytest.raises(UrlNotAllowed) as info:
        check_webhook_url(
            "http://user:hunter2@127.0.0.1/x?token=s3cret", allow_loopback=False, allow_private=False
        )
    message = str(info.value)
    assert "127.0.0.1" in message
    assert "hunter2" not in message
    assert "s3cret" not in message
