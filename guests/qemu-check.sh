#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Dry run of the guests under QEMU's TCG "virt" machine, which has the same
# map as bmvm minus the testdev (bm_exit() then powers off through PSCI).
# Guests are run as flat binaries so QEMU passes the DTB in x0 as bmvm does.
#
#   guests/qemu-check.sh O	(O as given to make; builds O/isv0-ram too)
set -u
O=${1:-$(dirname "$0")/../build/guests}
here=$(dirname "$0")
CROSS=${CROSS:-aarch64-linux-gnu-}
fails=0

make -s -C "$here" O="$(realpath "$O")" || exit 1
make -s -C "$here" O="$(realpath "$O")/isv0-ram" ISV0_SCRATCH=0x44000000 \
	"$(realpath "$O")/isv0-ram/isv0.elf" || exit 1

# run NAME ELF SMP EXTRA-QEMU-ARGS: prints the serial output
run() {
	${CROSS}objcopy -O binary "$2" "$2.bin"
	timeout 20 qemu-system-aarch64 -M virt,gic-version=3 -cpu cortex-a72 \
		-smp "$3" -m 256 -nographic -monitor none -serial stdio -net none \
		-kernel "$2.bin" $4 2>&1
}

# check NAME ELF SMP EXTRA EXPECTED-LINE...: all lines must appear
check() {
	name=$1 elf=$2 smp=$3 extra=$4
	shift 4
	out=$(run "$name" "$elf" "$smp" "$extra")
	for want in "$@"; do
		if ! printf '%s\n' "$out" | grep -qxF "$want"; then
			echo "FAIL $name -smp $smp: no line \"$want\""
			printf '%s\n' "$out" | sed 's/^/    | /'
			fails=$((fails + 1))
			return
		fi
	done
	echo "ok   $name -smp $smp"
}

check hello "$O/hello.elf" 1 "" "hello: PASS"
check hello-highva "$O/hello-highva.elf" 1 "" \
	"hello-highva: linked at 0xffff000040080000, running at 0x40080000" \
	"hello-highva: PASS"
for n in 1 2 4; do
	check smp "$O/smp.elf" $n "" "smp: $n cpus online" "smp: PASS"
done
check vtimer "$O/vtimer.elf" 1 "" "vtimer: PASS"
check exitcode "$O/exitcode.elf" 1 "" "exitcode: exiting with 42" \
	"bm: no bmvm testdev; exit status 42, powering off"
check reset "$O/reset.elf" 1 "-no-reboot" "reset: first boot, resetting"
check isv0-ram "$O/isv0-ram/isv0.elf" 1 "" "isv0: PASS"
check mmio-bad "$O/mmio-bad.elf" 1 "" "mmio-bad: about to fault" \
	"bm: no bmvm testdev; exit status 3, powering off"

[ $fails = 0 ] && echo "all passed" || echo "$fails failed"
[ $fails = 0 ]
