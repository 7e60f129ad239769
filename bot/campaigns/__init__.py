"""Campaigns: the assistant speaks first (Decree-49 reminders) on the chats customers
proved are theirs, within the operator's rules; docs/campaigns.md.

    store.py    the tables (campaigns, deliveries, opt-outs) behind `CampaignStore`
    rules.py    operator.yml `campaigns:` (sending hours, caps, Zalo window, opt-out phrases)
    engine.py   targeting and sending (`CampaignEngine.run_once`)
    replies.py  opt-outs and replies seen on the way in (`connect_channels`)
    report.py   the numbers of a campaign
    cli.py      `bot campaign ...`
"""
