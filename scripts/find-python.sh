#!/usr/bin/env bash
# Print the path of a working Python 3.10 interpreter (Rasa 3.6 needs Python < 3.11).
# Order: $PYTHON, python3.10 on PATH, pyenv's versions, common system locations.
set -u
candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv /opt/pyenv; do
  [ -n "$root" ] || continue
  for p in "$root"/versions/3.10*/bin/python3.10; do [ -x "$p" ] && candidates+=("$p"); done
done
candidates+=(/usr/local/bin/python3.10 /usr/bin/python3.10)
for c in "${candidates[@]}"; do
  if [ -x "$c" ] || command -v "$c" >/dev/null 2>&1; then
    # A pyenv shim exists even when 3.10 is not selected: ask the interpreter itself.
    if "$c" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' >/dev/null 2>&1; then
      echo "$c"
      exit 0
    fi
  fi
done
cat >&2 <<'MSG'
ERROR: Python 3.10 was not found.
Rasa Open Source 3.6 runs on Python 3.8-3.10 only (this machine's python3 may be newer).
Install it, for example:
  pyenv install 3.10.13          (then run make again), or
  apt-get install python3.10 python3.10-venv
or point to one explicitly:  make PYTHON=/path/to/python3.10 ...
MSG
exit 1
