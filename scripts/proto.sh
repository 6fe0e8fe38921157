#!/usr/bin/env bash
# Protobuf contracts: code generation, drift check, lint and breaking-change check.
#
#   scripts/proto.sh gen       regenerate media/ (from proto/) and tests/gen/ (from tests/proto/)
#   scripts/proto.sh check     fail if the committed generated code differs from a fresh generation
#   scripts/proto.sh lint      buf lint (STANDARD + COMMENTS) and buf format check
#   scripts/proto.sh breaking  buf breaking (FILE) against the main branch of this repository
#
# Google's API protos are never committed: they are copied from the installed
# googleapis-common-protos wheel into proto/third_party/ (gitignored). The
# well-known types come from grpc_tools' bundled _proto directory. Generated
# Python for google/api is not emitted either: it ships in that same wheel.
set -euo pipefail

ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON="python3"; fi
fi
# protoc-gen-mypy and protoc-gen-mypy_grpc live next to the interpreter.
PATH="$(dirname -- "$PYTHON"):$PATH"
export PATH LC_ALL=C

THIRD_PARTY="proto/third_party"
GOOGLE_API_PROTOS=(annotations.proto http.proto httpbody.proto field_behavior.proto)

TMP_DIR=""
cleanup() { if [[ -n "$TMP_DIR" ]]; then rm -rf -- "$TMP_DIR"; fi; }
trap cleanup EXIT
make_tmp() { TMP_DIR="$(mktemp -d)"; }

die() { printf 'proto.sh: %s\n' "$*" >&2; exit 1; }

# Copy google/api/*.proto from the installed wheel, so protoc and buf can resolve the imports.
copy_third_party() {
  local src
  src="$("$PYTHON" -c 'import os, google.api.annotations_pb2 as m; print(os.path.dirname(m.__file__))')" \
    || die "googleapis-common-protos is not installed for $PYTHON"
  mkdir -p "$THIRD_PARTY/google/api"
  local name
  for name in "${GOOGLE_API_PROTOS[@]}"; do
    [[ -f "$src/$name" ]] || die "$src/$name not found; is googleapis-common-protos installed?"
    cp -- "$src/$name" "$THIRD_PARTY/google/api/$name"
  done
}

wkt_include() {
  "$PYTHON" -c 'import grpc_tools, os; print(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))'
}

# Every .proto under $1, sorted so the generation order never depends on the file system.
list_protos() {
  find "$1" -path "$THIRD_PARTY" -prune -o -type f -name '*.proto' -print | sort
}

# Add an __init__.py to every directory under $1 holding generated modules, and to their
# parents up to (not including) $1 itself; with $2 = "package", $1 gets one too.
add_init_files() {
  local root="$1" mode="${2:-}" dir
  while IFS= read -r dir; do
    while [[ "$dir" != "$root" ]]; do
      : >"$dir/__init__.py"
      dir="$(dirname -- "$dir")"
    done
  done < <(find "$root" -type f -name '*.py' ! -name '__init__.py' -exec dirname {} \; | sort -u)
  if [[ "$mode" == "package" ]]; then
    : >"$root/__init__.py"
  fi
}

# protoc SOURCE_ROOT OUT_DIR [extra -I roots...]: Python, gRPC and mypy stubs for every
# .proto under SOURCE_ROOT, written into OUT_DIR.
run_protoc() {
  local source_root="$1" out="$2"
  shift 2
  local -a files includes=(-I "$source_root")
  mapfile -t files < <(list_protos "$source_root")
  ((${#files[@]})) || return 0
  local inc
  for inc in "$@"; do includes+=(-I "$inc"); done
  includes+=(-I "$THIRD_PARTY" -I "$(wkt_include)")
  mkdir -p "$out"
  "$PYTHON" -m grpc_tools.protoc "${includes[@]}" \
    --python_out="$out" --grpc_python_out="$out" \
    --mypy_out=quiet:"$out" --mypy_grpc_out=quiet:"$out" \
    "${files[@]}"
}

# Generate everything into DEST (a directory laid out like the repository root).
generate_into() {
  local dest="$1"
  copy_third_party
  run_protoc proto "$dest"
  [[ -d "$dest/media" ]] || die "no media/ package was generated from proto/"
  add_init_files "$dest/media" package
  : >"$dest/media/py.typed"
  if [[ -d tests/proto ]]; then
    # Test-only protos form their own import root: tests/gen/<package>/...
    run_protoc tests/proto "$dest/tests/gen" proto
    [[ -d "$dest/tests/gen" ]] && add_init_files "$dest/tests/gen"
  fi
  return 0
}

cmd_gen() {
  make_tmp
  local tmp="$TMP_DIR"
  generate_into "$tmp"
  rm -rf -- media
  mv -- "$tmp/media" media
  if [[ -d "$tmp/tests/gen" ]]; then
    rm -rf -- tests/gen
    mv -- "$tmp/tests/gen" tests/gen
  fi
  echo "generated media/ from proto/ and tests/gen/ from tests/proto/"
}

cmd_check() {
  local status=0
  make_tmp
  local tmp="$TMP_DIR"
  generate_into "$tmp"
  mkdir -p "$tmp/tests/gen"
  local dir
  for dir in media tests/gen; do
    if ! diff -r -q -x __pycache__ -x '*.pyc' -x .mypy_cache -x .pytest_cache -x .ruff_cache -- "$tmp/$dir" "$dir" >&2 2>/dev/null; then
      [[ -d "$dir" ]] || echo "missing: $dir" >&2
      status=1
    fi
  done
  if ((status)); then
    echo "generated stubs drift from proto/: run make proto" >&2
    exit 1
  fi
  echo "generated stubs match proto/"
}

ensure_buf() {
  command -v npx >/dev/null || die "npx not found: install Node.js 20+"
  if [[ ! -x node_modules/.bin/buf ]]; then
    npm ci --no-audit --no-fund
  fi
}

cmd_lint() {
  copy_third_party
  ensure_buf
  npx --no-install buf lint
  npx --no-install buf format --diff --exit-code
  echo "buf lint: no findings"
}

cmd_breaking() {
  local branch="${BREAKING_AGAINST_BRANCH:-main}"
  if ! git rev-parse --verify --quiet "refs/heads/$branch^{commit}" >/dev/null; then
    echo "no $branch branch yet: nothing to compare against"
    return 0
  fi
  if ! git cat-file -e "$branch:buf.yaml" 2>/dev/null || ! git cat-file -e "$branch:proto/media" 2>/dev/null; then
    echo "no contracts on $branch yet: nothing to compare against"
    return 0
  fi
  copy_third_party
  ensure_buf
  # buf's own git input ('.git#branch=main') would miss proto/third_party, which is
  # gitignored; so export the branch's tree and add the third-party protos to it.
  make_tmp
  local tmp="$TMP_DIR"
  git archive --format=tar "$branch" -- buf.yaml proto | tar -x -C "$tmp"
  mkdir -p "$tmp/$THIRD_PARTY"
  cp -R -- "$THIRD_PARTY/." "$tmp/$THIRD_PARTY/"
  npx --no-install buf breaking --against "$tmp"
  echo "buf breaking: no breaking changes against $branch"
}

usage() {
  sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
}

case "${1:-}" in
  gen) cmd_gen ;;
  check) cmd_check ;;
  lint) cmd_lint ;;
  breaking) cmd_breaking ;;
  -h | --help | help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
