# Shared by scripts/demo and scripts/test.

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

ensure_venv() {  # venv dir, python, django requirement, package spec; reinstalls when pyproject changes
  local venv=$1 python=$2 django=$3 spec=$4 stamp
  stamp="$(sha1sum pyproject.toml | cut -c1-12) $django $spec"
  if [ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$stamp" ]; then return 0; fi
  echo "== installing $spec with $django into $venv ($("$python" -V))"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$spec" "$django"
  echo "$stamp" > "$venv/.installed"
}
