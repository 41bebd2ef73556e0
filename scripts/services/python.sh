# shellcheck shell=bash
# The Python side of the stock-tools test (issue 24): a virtual environment with the packages a
# cloud data engineer would use (confluent-kafka with its schema-registry protobuf deserializer,
# protobuf, grpcio-tools' protoc, cassandra-driver), pinned in python/requirements.txt, created once
# in the cache outside the repository (keyed by the requirements' hash, like the jars).
# Sourced by services.sh, which sets HERE and CACHE.

# Prints the venv's python, creating the venv first when missing.
python_venv() {
  local req="$HERE/python/requirements.txt" key venv py started
  key=$(sha256sum "$req" | cut -c1-16)
  venv="$CACHE/python/venv-$key"
  if [[ -x "$venv/bin/python" && -f "$venv/.complete" ]]; then
    echo "$venv/bin/python"
    return 0
  fi
  py=$(command -v python3) || die "python3 not found (Debian packages: python3 python3-venv)"
  "$py" -c 'import ensurepip, venv' 2>/dev/null || die "$py has no venv/ensurepip (Debian package: python3-venv)"
  mkdir -p "$CACHE/python"
  # Created in place (a venv's scripts name its own path); `.complete` marks a finished install,
  # so an interrupted one is started over.
  rm -rf "$venv"
  started=$(now_s)
  say "python: creating $venv (pip install -r $req)"
  if ! { "$py" -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"; } >"$CACHE/python/pip.log" 2>&1; then
    tail -n 30 "$CACHE/python/pip.log" >&2
    rm -rf "$venv"
    die "python: pip could not install $req (log: $CACHE/python/pip.log)"
  fi
  touch "$venv/.complete"
  say "python: venv ready in $(($(now_s) - started)) s"
  echo "$venv/bin/python"
}
