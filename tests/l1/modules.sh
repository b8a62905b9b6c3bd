# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Bash library (sourced by tests/l1/mk-l2-initrd and tests/l1/run): copies
# kernel modules out of a Debian modules tree (scripts/fetch-arm64's
# OUTDIR/kernel*/modules) together with their dependencies, in load order.
# Debian's kernel package has no modules.dep (depmod makes it on install), so
# the dependencies come from each .ko's own modinfo strings. Newer kernels
# (bookworm-backports' 6.12) ship each module as .ko.xz: it is unpacked here,
# so DIR always holds plain .ko files (busybox insmod loads those).
#
#   MODS=TREE             the modules tree (lib/modules/<release>) to take from
#   mods_add DIR NAME     copy NAME.ko into DIR after its dependencies and
#                         append each module's file name (no .ko) to DIR/load;
#                         a module built into the kernel (modules.builtin) is
#                         skipped; one that is neither is an error (exit 1)
# A module goes into the first DIR that asks for it only: a second list loaded
# after the first (mk-l2-initrd's power-button modules) does not repeat it.

declare -A mods_ko_cache=() mods_added=()

# mods_ko NAME: sets KO to the .ko or .ko.xz of module NAME, "" if none. File
# names mix - and _ (virtio-rng.ko is module virtio_rng, rng-core.ko is rng_core).
mods_ko() {
  local m=$1 n args=()
  if [ -z "${mods_ko_cache[$m]+set}" ]; then
    for n in "$m" "${m//_/-}" "${m//-/_}"; do
      args+=(-o -name "$n.ko" -o -name "$n.ko.xz")
    done
    mods_ko_cache[$m]=$(find "$MODS/kernel" \( "${args[@]:1}" \) -print -quit)
  fi
  KO=${mods_ko_cache[$m]}
}

# mods_cat KO: the module's ELF on stdout, unpacked if it is .ko.xz.
mods_cat() {
  case $1 in
    *.ko.xz) xz -dc "$1" ;;
    *) cat "$1" ;;
  esac
}

# mods_builtin NAME: true if module NAME is built into the kernel.
mods_builtin() {
  grep -qE "/${1//[-_]/[-_]}\.ko\$" "$MODS/modules.builtin" 2>/dev/null
}

# mods_add DIR NAME [soft]: see above. A soft dependency (softdep pre:) names
# an alias such as crypto-crc32c: NAME and NAME_generic are tried without
# the crypto- prefix, and one not found is left out.
mods_add() {
  local dir=$1 m=$2 soft=${3:-} ko dep info
  mods_ko "$m"; ko=$KO
  if [ -z "$ko" ] && [ -n "$soft" ]; then
    m=${m#crypto-}
    mods_ko "$m"; ko=$KO
    [ -n "$ko" ] || { mods_ko "${m}_generic"; ko=$KO; }
    [ -n "$ko" ] || return 0
  fi
  if [ -z "$ko" ]; then
    mods_builtin "$m" && return 0
    echo "modules: no module $m in $MODS (neither a .ko nor built in)" >&2
    exit 1
  fi
  m=$(basename "${ko%.xz}" .ko)
  [ -z "${mods_added[$m]:-}" ] || return 0
  mods_added[$m]=1
  info=$(mods_cat "$ko" | strings -a)
  for dep in $(sed -n 's/^depends=//p' <<<"$info" | tr ',' ' '); do
    mods_add "$dir" "$dep"
  done
  # shellcheck disable=SC2013  # words: one module name each
  for dep in $(sed -n 's/^softdep=.*pre: *//p' <<<"$info" | sed 's/ *post:.*//'); do
    mods_add "$dir" "$dep" soft
  done
  mkdir -p "$dir"
  mods_cat "$ko" >"$dir/$m.ko"
  echo "$m" >>"$dir/load"
}
