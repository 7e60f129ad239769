"""Customer chat channels: Telegram (python-telegram-bot) and Zalo OA, as Rasa input channels.

- `bot.channels.telegram.TelegramInput` (Rasa channel name `telegram_ptb`)
- `bot.channels.zalo.ZaloInput` (Rasa channel name `zalo`)
- `bot.channels.outbound.send_text` sends to a customer outside a Rasa request.

See docs/channels.md for the operator guide and the conventions shared with the dialogue.
"""
