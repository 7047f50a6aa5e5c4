#!/usr/bin/env bash
# Builds `lake` in release mode and installs it as PREFIX/bin/lake, so it runs from any
# directory (the schema registry is built into the binary; a lake stores the versions it uses).
#
#   ./scripts/install.sh                    # /usr/local/bin if writable (or as root), else ~/.local/bin
#   PREFIX=$HOME/.local ./scripts/install.sh
#   ./scripts/install.sh --prefix /opt/lake
#   ./scripts/install.sh --uninstall        # removes PREFIX/bin/lake
set -euo pipefail
cd "$(dirname "$0")/.."

prefix="${PREFIX:-}"
uninstall=0
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$prefix" ]; then
  if [ -w /usr/local/bin ] || [ "$(id -u)" -eq 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
fi
bindir="$prefix/bin"

if [ "$uninstall" -eq 1 ]; then
  rm -f "$bindir/lake"
  echo "removed $bindir/lake"
  exit 0
fi

scripts/setup.sh   # the C libraries lake uses (libzstd, libsqlite3, zlib, libbrotli; libpq, libcurl when needed)
# The Swift runtime and Foundation linked in: the installed binary needs no Swift toolchain.
swift build -c release --static-swift-stdlib --product lake
mkdir -p "$bindir"
# Copy to a temporary name, then rename: a running `lake` keeps its old inode.
install -m 0755 .build/release/lake "$bindir/.lake.new"
mv -f "$bindir/.lake.new" "$bindir/lake"
echo "installed $bindir/lake"

case ":$PATH:" in
  *":$bindir:"*) ;;
  *) echo "note: $bindir is not on your PATH; add it, e.g.: echo 'export PATH=\"$bindir:\$PATH\"' >> ~/.bashrc" ;;
esac
