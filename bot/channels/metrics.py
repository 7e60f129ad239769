"""Prometheus metrics of the channels, on prometheus-client's DEFAULT registry (whoever
serves /metrics exposes them; this module only defines and updates them).

Label `channel`: `telegram` | `zalo` (bot.conversation_ids names).

- `bot_channel_messages_in_total`: inbound messages stored in the inbox (re-deliveries
  not counted: `bot_channel_inbound_duplicates_total`);
- `bot_channel_messages_out_total`: messages the provider accepted;
- `bot_channel_inbox_depth{state}`: inbox rows `pending` (waiting or being processed) and
  `parked` (failed too often: `bot channels inbox`); refreshed by every worker;
- `bot_channel_outbound_retries_total`: sends retried after a transient refusal;
- `bot_channel_failures_total{kind}`: `turn` (a failed or too slow assistant turn, retried),
  `parked`, `send_failed` (a send given up), `send_unknown` (a send whose outcome is unknown,
  not re-sent), `unavailable_notice` (the "try again shortly" line sent).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

MESSAGES_IN = Counter("bot_channel_messages_in_total",
                      "Inbound messages stored in the channel inbox", ["channel"])
DUPLICATES = Counter("bot_channel_inbound_duplicates_total",
                     "Re-delivered inbound messages recognised and dropped", ["channel"])
MESSAGES_OUT = Counter("bot_channel_messages_out_total",
                       "Outbound messages accepted by the provider", ["channel"])
INBOX_DEPTH = Gauge("bot_channel_inbox_depth",
                    "Inbox rows by state (pending includes processing, parked)",
                    ["channel", "state"])
OUTBOUND_RETRIES = Counter("bot_channel_outbound_retries_total",
                           "Outbound sends retried after a transient failure", ["channel"])
FAILURES = Counter("bot_channel_failures_total",
                   "Channel failures by kind (turn, parked, send_failed, send_unknown, "
                   "unavailable_notice)", ["channel", "kind"])

DEPTH_STATES = ("pending", "parked")


def set_inbox_depth(channel: str, counts: dict[tuple[str, str], int]) -> None:
    """Set the depth gauges of `channel` from `InboxStore.counts()`."""
    pending = counts.get((channel, "pending"), 0) + counts.get((channel, "processing"), 0)
    INBOX_DEPTH.labels(channel, "pending").set(pending)
    INBOX_DEPTH.labels(channel, "parked").set(counts.get((channel, "parked"), 0))
