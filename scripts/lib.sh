# Shared by scripts/demo, scripts/test, scripts/lock and bench/run.

find_python() {  # print a working python executable for version $1 (e.g. 3.11), or fail
  local v=$1 candidate
  for candidate in "$(pyenv root 2>/dev/null)/versions/$v"*/bin/"python$v" "$(command -v "python$v" || true)" python3; do
    if [ -x "$candidate" ] || command -v "$candidate" >/dev/null 2>&1; then
      if "$candidate" -c "import sys; sys.exit(sys.version_info[:2] != tuple(map(int, '$v'.split('.'))))" 2>/dev/null; then
        echo "$candidate"; return 0
      fi
    fi
  done
  return 1
}

# Each lane's exact versions, hashes included (scripts/lock writes them from pyproject.toml).
LOCK_PY311=requirements/py311-django52.txt
LOCK_PY313=requirements/py313-django61.txt
LOCK_LOWEST=requirements/py311-lowest.txt

ensure_venv() {  # venv dir, python, lock file: the lock's exact versions, then this checkout (editable)
  local venv=$1 python=$2 lock=$3 stamp
  stamp="$(cat pyproject.toml "$lock" | sha1sum | cut -c1-12) $lock"
  if [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$stamp" ]; then return 0; fi
  echo "== installing $lock into $venv ($("$python" -V))"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r "$lock"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e .
  echo "$stamp" > "$venv/.installed"
}

ensure_newest_venv() {  # venv dir, python: the newest release of every dependency today, not the lock
  local venv=$1 python=$2
  echo "== resolving the newest releases into $venv ($("$python" -V))"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade --upgrade-strategy eager -e ".[dev]" django
}
