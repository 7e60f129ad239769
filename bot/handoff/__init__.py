"""Hand-off between the assistant and the human desk: tickets, call-center API, console."""
