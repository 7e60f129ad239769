"""Attacks on the assistant, each kept as a regression test (docs/security.md)."""
