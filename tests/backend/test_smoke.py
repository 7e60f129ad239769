"""Smoke test of the shared fixtures."""

from bot.backend import get_backend


def test_backend_fixture_is_the_process_instance(backend, clock):
    assert get_backend() is backend
    assert backend.subscribers.get("0901000001").full_name == "Nguyễn Văn An"
    assert backend.now() == clock()


def test_pg_url_is_migrated(pg_url):
    from bot.backend import Backend
    from bot.backend.seed import seed

    b = Backend(pg_url)
    try:
        assert seed(b).subscribers == 204
        assert b.subscribers.get("0901000015") is not None
    finally:
        b.dispose()


def test_pg_backend_fixture(pg_backend, clock):
    from bot.backend import get_backend

    assert get_backend() is pg_backend
    assert pg_backend.otp.issue("0901000002", "telegram", "telegram:1").status == "sent"
    assert pg_backend.otp.verify("0901000002", "123456", "telegram:1").status == "ok"
    assert pg_backend.identity.verified_number("telegram:1") == "0901000002"
