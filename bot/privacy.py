"""Personal data: the one place that masks numbers and redacts free text.

- `mask_msisdn('0901000002')` -> `'090***0002'` (what customers and agents see).
- `redact_text(text)` replaces what looks like personal data in free text (ID numbers,
  phone numbers, one-time codes, dates) with masked forms. Used for log lines and for the
  transcripts copied into hand-off tickets. Names cannot be recognised in free text, so
  code must never put a name into a log line in the first place; this is the safety net
  for the numbers and dates customers type.
"""

from __future__ import annotations

import logging
import re

# Digit runs of 6 or more (OTP 6, CMND 9, phone 10-11, CCCD 12), allowing the separators
# people type inside numbers ("0901 000 002", "0901.000.002", "+84 901-000-002").
# Not inside a path or file name ("models/20261130-105911-x.tar.gz" stays readable).
_NUMBER = re.compile(r"(?<![\w/\-])\+?\d(?:[ .\-]?\d){5,}(?![\w])")
# Dates: 01/02/1990, 1-2-90, 1990-02-01, 01.02.1990.
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_DATE = re.compile(r"(?<!\d)(?:\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2})(?!\d)")


def mask_msisdn(msisdn: str | None) -> str:
    """'0901000002' -> '090***0002'; '' for nothing; short values are fully hidden."""
    if not msisdn:
        return ""
    if len(msisdn) < 7:
        return "***"
    return msisdn[:3] + "***" + msisdn[-4:]


def _mask_number(match: re.Match[str]) -> str:
    if _IPV4.fullmatch(match.group(0)):
        return match.group(0)  # an IP address in a server's log line, not personal data
    digits = re.sub(r"\D", "", match.group(0))
    if len(digits) <= 6:
        return "******"
    return "*" * (len(digits) - 3) + digits[-3:]


def redact_text(text: str) -> str:
    """Free text with dates and long numbers masked (last 3 digits of a number kept)."""
    if not text:
        return text
    text = _DATE.sub("**/**/****", text)
    return _NUMBER.sub(_mask_number, text)


# Quoted text in a warning: Rasa's warnings quote what the customer typed ("Failed to parse
# arguments in line '/inform{...}'"); a name in it could not be recognised, so it goes.
_QUOTED = re.compile(r"'[^'\n]{3,}'")


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message of every record it sees (and
    drops quoted text from warnings)."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging API
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is passed on untouched
            return True
        redacted = redact_text(message)
        if record.name == "py.warnings":
            redacted = _QUOTED.sub("'<…>'", redacted)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info))
        return True


def install_log_redaction() -> None:
    """Redact every log record of this process (root handlers and every handler added
    later through the root logger). Idempotent."""
    root = logging.getLogger()
    if any(isinstance(f, RedactingFilter) for f in root.filters):
        return
    # Warnings (Rasa reports unparsable typed payloads as warnings, with the text) go
    # through logging too, so they are redacted like every other line.
    logging.captureWarnings(True)
    redacting = RedactingFilter()
    root.addFilter(redacting)
    for handler in root.handlers:
        handler.addFilter(redacting)
    # Records of child loggers do not pass the root logger's filters, only its handlers':
    # wrap handler creation so handlers added later (Rasa, Sanic) redact too.
    original_init = logging.Handler.__init__

    def init(self: logging.Handler, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        self.addFilter(redacting)

    if not getattr(logging.Handler.__init__, "_redacting", False):
        init._redacting = True  # type: ignore[attr-defined]
        logging.Handler.__init__ = init  # type: ignore[method-assign]
