"""Agent accounts: scrypt hashes, login, sessions, disabling, the CLI."""

from __future__ import annotations

import io

import pytest

from bot.handoff.accounts import (
    AccountError,
    AgentAccounts,
    hash_password,
    token_hash,
    verify_password,
)


@pytest.fixture
def accounts(handoff_url, clock) -> AgentAccounts:
    return AgentAccounts(handoff_url, clock=clock)


def test_password_hash_is_salted_scrypt():
    first, second = hash_password("mật-khẩu-1"), hash_password("mật-khẩu-1")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert verify_password("mật-khẩu-1", first) and verify_password("mật-khẩu-1", second)
    assert not verify_password("mật-khẩu-2", first)
    assert not verify_password("x", "garbage") and not verify_password("x", "md5$1$2$3$4$5")


def test_add_and_authenticate(accounts):
    agent = accounts.add_agent("lan", "rat-bi-mat-123")
    assert agent.name == "lan"
    assert accounts.authenticate("lan", "rat-bi-mat-123") == agent
    assert accounts.authenticate("lan", "sai-mat-khau") is None
    assert accounts.authenticate("khong-co", "rat-bi-mat-123") is None
    with pytest.raises(AccountError):
        accounts.add_agent("lan", "khac-nua-123")
    with pytest.raises(AccountError):
        accounts.add_agent("hai", "ngan")
    with pytest.raises(AccountError):
        accounts.add_agent("có dấu cách", "rat-bi-mat-123")


def test_sessions_expire_and_end_when_disabled(accounts, clock):
    agent = accounts.add_agent("lan", "rat-bi-mat-123")
    token = accounts.start_session(agent)
    assert accounts.session_agent(token) == agent
    assert accounts.session_agent("forged") is None and accounts.session_agent(None) is None
    clock.advance(hours=13)
    assert accounts.session_agent(token) is None
    token = accounts.start_session(agent)
    accounts.disable_agent("lan")
    assert accounts.session_agent(token) is None
    assert accounts.authenticate("lan", "rat-bi-mat-123") is None
    accounts.set_password("lan", "mat-khau-moi-456")  # re-enables with a new password
    assert accounts.authenticate("lan", "mat-khau-moi-456") is not None


def test_only_the_token_hash_is_stored(accounts, handoff_url):
    from sqlalchemy import create_engine, text

    token = accounts.start_session(accounts.add_agent("lan", "rat-bi-mat-123"))
    engine = create_engine(handoff_url, future=True)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM handoff_sessions")).scalars().all()
    engine.dispose()
    assert stored == [token_hash(token)] and token not in stored


def test_cli_add_agent_and_list(handoff_url, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.setenv("BOT_DB_URL", handoff_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-cua-lan\n"))
    assert main(["handoff", "add-agent", "lan", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-cua-lan\n"))
    assert main(["handoff", "add-agent", "lan", "--password-stdin"]) == 1
    monkeypatch.setattr("sys.stdin", io.StringIO("mat-khau-cua-mai\n"))
    assert main(["handoff", "add-agent", "mai", "--role", "reviewer", "--role", "designer",
                 "--password-stdin"]) == 0
    assert main(["handoff", "set-roles", "lan", "agent", "campaigns"]) == 0
    assert main(["handoff", "agents"]) == 0
    out = capsys.readouterr()
    assert "Đã tạo tài khoản lan (vai trò: agent)." in out.out
    assert "Đã tạo tài khoản mai (vai trò: designer, reviewer)." in out.out
    assert "lan\thoạt động\tagent,campaigns" in out.out
    assert "mai\thoạt động\tdesigner,reviewer" in out.out
    assert AgentAccounts(handoff_url).authenticate("lan", "mat-khau-cua-lan") is not None
    assert main(["handoff", "disable-agent", "lan"]) == 0
    assert AgentAccounts(handoff_url).authenticate("lan", "mat-khau-cua-lan") is None


def test_roles_default_to_agent_and_are_checked(accounts):
    agent = accounts.add_agent("lan", "rat-bi-mat-123")
    assert agent.roles == frozenset({"agent"}) and agent.has_role("agent")
    assert not agent.has_role("reviewer")
    both = accounts.add_agent("mai", "rat-bi-mat-123", roles=["Reviewer", "designer"])
    assert both.roles == frozenset({"reviewer", "designer"}) and not both.has_role("agent")
    with pytest.raises(AccountError):
        accounts.add_agent("tu", "rat-bi-mat-123", roles=["admin"])
    with pytest.raises(AccountError):
        accounts.add_agent("tu", "rat-bi-mat-123", roles=[])
    assert {a.name: a.roles for a in accounts.agents()}["mai"] == both.roles


def test_changing_roles_ends_the_accounts_sessions(accounts):
    agent = accounts.add_agent("lan", "rat-bi-mat-123")
    token = accounts.start_session(agent)
    changed = accounts.set_roles("lan", ["reviewer"])
    assert changed.roles == frozenset({"reviewer"})
    assert accounts.session_agent(token) is None
    fresh = accounts.start_session(accounts.authenticate("lan", "rat-bi-mat-123"))
    assert accounts.session_agent(fresh).roles == frozenset({"reviewer"})
    with pytest.raises(AccountError):
        accounts.set_roles("khong-co", ["agent"])
