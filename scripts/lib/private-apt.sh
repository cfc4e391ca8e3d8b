# Private APT, shared by scripts/fetch-qemu10.sh and scripts/fetch-qemu10-source.sh
# (sourced, not run). It asks the mirror this machine's own APT sources use for
# `bookworm` about another suite, with a private sources file, lists folder and
# cache, so no host name is written into the project, nothing is installed and the
# system's lists are untouched. Works as an ordinary user.
#
#   private_apt_setup SUITE TYPES   -> sets $apt_dir (removed on exit) and the
#                                      array apt_opts, and runs `apt-get update`
#   apt-get "${apt_opts[@]}" download|source ...

# The mirror that serves bookworm, from deb822 or one-line sources.
private_apt_mirror() {
  {
    awk '/^URIs:/ {u=$2} /^Suites:/ {for (i=2; i<=NF; i++) if ($i == "bookworm") print u}' \
      /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    awk '$1 == "deb" && $3 == "bookworm" {print $2}' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true
  } | head -n 1
}

# private_apt_setup SUITE TYPES ("deb", "deb-src" or "deb deb-src")
private_apt_setup() {
  local suite=$1 types=$2 mirror i
  mirror=$(private_apt_mirror)
  if [ -z "$mirror" ]; then
    echo "private-apt: no APT source for bookworm on this machine" >&2
    return 1
  fi
  apt_dir=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: the folder is known
  trap "rm -rf '$apt_dir'" EXIT
  mkdir -p "$apt_dir/parts" "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial"
  cat >"$apt_dir/parts/private.sources" <<EOF
Types: $types
URIs: $mirror
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt_opts=(
    -o "Dir::Etc::SourceList=/dev/null"
    -o "Dir::Etc::SourceParts=$apt_dir/parts"
    -o "Dir::State::Lists=$apt_dir/lists"
    -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Sandbox::User=$(id -un)"
  )
  # A mirror that is syncing fails an index now and then: try again.
  for i in 1 2 3 4 5; do
    if apt-get "${apt_opts[@]}" update -q >"$apt_dir/update.log" 2>&1 &&
      ! grep -q '^E:' "$apt_dir/update.log"; then
      return 0
    fi
    echo "private-apt: apt-get update failed (attempt $i), retrying" >&2
    [ "$i" = 5 ] && { cat "$apt_dir/update.log" >&2; return 1; }
    sleep $((i * 3))
  done
}
