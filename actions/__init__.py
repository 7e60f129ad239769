"""rasa-sdk custom actions: thin classes that read the tracker, call
`bot.backend.get_backend()` and answer with responses from domain.yml."""
