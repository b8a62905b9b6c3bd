# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Library for L1 case files (busybox ash; tests/l1/harness.sh sourced
# first): guest-side sequential throughput of a virtio-blk disk and a 9p
# share, the same L2 guest (Debian's generic kernel + the initramfs with
# bench/blk9p-guest.sh that bench/run-blk9p builds) under different VMMs.
#
#   blk9p_measure LABEL -- cmd...   one run: boot the guest with cmd (a VMM
#                                   command line using the variables below),
#                                   RESULT blk9p-LABEL-N; its figures kept
#                                   only if it passed, host side included
#   blk9p_qemu                      blk9p_measure qemu with QEMU (-accel kvm)
#   blk9p_bmvm                      blk9p_measure bmvm with bmvm --disk/--share
#                                   (a failure while bmvm's --help lacks --disk)
#   blk9p_report [A B]              medians of all runs: METRIC
#                                   blk9p_LABEL_<test> MB/s, blk9p_LABEL_boot
#                                   and _total s; with A B also
#                                   blk9p_ratio_<test> = A / B (bmvm qemu)
# Alternate the VMMs run by run (qemu, bmvm, qemu, bmvm...): the emulated
# host's speed drifts with the outer machine's load, by 2x at times.
#
# The guest sees one disk (BLK9P_DISK, raw, BLK9P_MB + 16 MiB, made afresh
# for each run) and one 9p share (BLK9P_SHARE, tag "share"), 1 vCPU and
# BLK9P_RAM MiB. Payload: /payload/blk9p/{Image,initrd.cpio.gz}; QEMU from
# tests/l1/mk-qemu-tree at /payload/qemu or on a disk at /mnt/vd*/.
BLK9P_MB=${BLK9P_MB:-256}
BLK9P_RAM=${BLK9P_RAM:-512}
BLK9P_TIMEOUT=${BLK9P_TIMEOUT:-600}
BLK9P_DIR=/tmp/blk9p
BLK9P_DISK=$BLK9P_DIR/disk.raw
BLK9P_SHARE=$BLK9P_DIR/share
BLK9P_KERNEL=/payload/blk9p/Image
BLK9P_INITRD=/payload/blk9p/initrd.cpio.gz
BLK9P_CMDLINE="console=ttyAMA0 quiet blk9p.mb=$BLK9P_MB"
BLK9P_TESTS="blk_write_direct blk_read_direct blk_write_buffered blk_read_buffered
9p_write_direct 9p_read_direct 9p_read_buffered 9p_write_buffered"

# blk9p_find_qemu: sets BLK9P_QEMU to the tree's wrapper ("" if none).
blk9p_find_qemu() {
	BLK9P_QEMU=''
	for _q in /payload/qemu/qemu /mnt/vd*/qemu; do
		if [ -x "$_q" ]; then BLK9P_QEMU=$_q; return 0; fi
	done
	return 1
}

# blk9p_prepare: a fresh sparse disk and an empty share.
blk9p_prepare() {
	rm -rf "$BLK9P_DIR"
	mkdir -p "$BLK9P_SHARE"
	truncate -s "$((BLK9P_MB + 16))M" "$BLK9P_DISK"
	# Stamps the moment the guest's marker arrives; runs the VMM in the
	# background so a TERM from the harness's timeout reaches it too.
	cat >"$BLK9P_DIR/stamp.sh" <<'EOF'
read -r t0 _ </proc/uptime
f=${0%/*}/out
mkfifo "$f"
"$@" >"$f" 2>&1 </dev/null &
vmm=$!
trap 'kill $vmm 2>/dev/null' TERM INT
while IFS= read -r l; do
	printf '%s\n' "$l"
	case $l in *"L2 LINUX UP"*)
		read -r t1 _ </proc/uptime
		echo "BLK9P-L1 marker $t0 $t1" ;;
	esac
done <"$f"
wait $vmm
EOF
}

# blk9p_keep NAME VALUE: one run's figure, for blk9p_report.
blk9p_keep() {
	echo "$1 $2" >>/tmp/blk9p-runs
}

# blk9p_measure LABEL -- cmd...: see the top.
blk9p_measure() {
	_bl=$1
	shift 2
	BLK9P_RUN=$((${BLK9P_RUN:-0} + 1))
	_bn=blk9p-$_bl-$BLK9P_RUN
	blk9p_prepare
	run_case "$_bn" 0 "$BLK9P_TIMEOUT" 'L2 TEST EXIT 0' -- sh "$BLK9P_DIR/stamp.sh" "$@"
	_ok=$CASE_OK _secs=$CASE_SECS
	_bo=/tmp/$_bn.out
	cp "$CASE_OUT" "$_bo"
	grep '^BLK9P-\(INFO\|FAIL\)' "$_bo" | sed "s/^/INFO blk9p $_bl: /"
	# What the guest wrote must be on the emulated host: the disk's blocks
	# allocated, the 9p file there at its full size.
	_kib=$(du -k "$BLK9P_DISK" | cut -f1)
	_sz=$(stat -c %s "$BLK9P_SHARE/blk9p.dat" 2>/dev/null || echo 0)
	if [ "$_kib" -ge $((BLK9P_MB * 1024)) ] && [ "$_sz" -eq $((BLK9P_MB * 1048576)) ]; then
		pass "$_bn-host-side" 0
	else
		fail "$_bn-host-side" "disk has $_kib KiB allocated, 9p file $_sz bytes (want $BLK9P_MB MiB each)"
		_ok=0
	fi
	rm -rf "$BLK9P_DIR"
	# A run that failed gives no figures: they would go into the medians.
	if [ "$_ok" != 1 ]; then
		echo "INFO blk9p $_bl run $BLK9P_RUN: failed, no figures kept"
		return 0
	fi
	grep '^BLK9P ' "$_bo" | while read -r _ _t _v _; do
		blk9p_keep "blk9p_${_bl}_$_t" "$_v"
	done
	sed -n 's/^BLK9P-L1 marker \([0-9.]*\) \([0-9.]*\).*/\1 \2/p' "$_bo" | head -n1 |
		while read -r _a _b; do
			blk9p_keep "blk9p_${_bl}_boot" "$(awk -v a="$_a" -v b="$_b" 'BEGIN { printf "%.2f", b - a }')"
		done
	blk9p_keep "blk9p_${_bl}_total" "$_secs"
	echo "INFO blk9p $_bl run $BLK9P_RUN: $(grep '^BLK9P ' "$_bo" | awk '{ printf "%s %s  ", $2, $3 }')"
}

blk9p_qemu() {
	if ! blk9p_find_qemu; then
		fail blk9p-qemu "no QEMU tree at /payload/qemu or /mnt/vd*/qemu"
		return 0
	fi
	# Modern (version 2) virtio-mmio transports, as bmvm has: QEMU's
	# virtio-*-device default to the legacy ones, and not PCI.
	blk9p_measure qemu -- "$BLK9P_QEMU" -M virt,gic-version=3 -accel kvm -cpu host \
		-global virtio-mmio.force-legacy=false \
		-smp 1 -m "$BLK9P_RAM" -nodefaults -no-user-config -display none \
		-serial stdio -kernel "$BLK9P_KERNEL" -initrd "$BLK9P_INITRD" \
		-append "$BLK9P_CMDLINE" \
		-drive "if=none,id=d0,format=raw,file=$BLK9P_DISK" \
		-device virtio-blk-device,drive=d0 \
		-fsdev "local,id=f0,path=$BLK9P_SHARE,security_model=none" \
		-device virtio-9p-device,fsdev=f0,mount_tag=share
}

blk9p_bmvm() {
	if ! bmvm --help 2>&1 | grep -q -- --disk; then
		fail blk9p-bmvm "this bmvm's --help offers no --disk: its half was not measured"
		return 0
	fi
	blk9p_measure bmvm -- bmvm "$BLK9P_KERNEL" --initrd "$BLK9P_INITRD" \
		--cmdline "$BLK9P_CMDLINE" --cpus 1 --ram "$BLK9P_RAM" \
		--disk "$BLK9P_DISK" --share "$BLK9P_SHARE"
}

# blk9p_median NAME: the median of NAME's kept figures ("" if none).
blk9p_median() {
	sed -n "s/^$1 //p" /tmp/blk9p-runs 2>/dev/null | sort -n |
		awk '{ v[NR] = $1 } END { if (NR) printf "%g", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# blk9p_report [A B]: see the top.
blk9p_report() {
	[ -s /tmp/blk9p-runs ] || return 0
	# shellcheck disable=SC2013  # words: one figure's name each
	for _k in $(cut -d' ' -f1 /tmp/blk9p-runs | sort -u); do
		case $_k in *_boot|*_total) _u=s ;; *) _u=MB/s ;; esac
		metric "$_k" "$(blk9p_median "$_k")" "$_u"
	done
	[ $# -eq 2 ] || return 0
	for _t in $BLK9P_TESTS; do
		_x=$(blk9p_median "blk9p_${1}_$_t")
		_y=$(blk9p_median "blk9p_${2}_$_t")
		if [ -z "$_x" ] || [ -z "$_y" ]; then continue; fi
		metric "blk9p_ratio_$_t" "$(awk -v a="$_x" -v b="$_y" 'BEGIN { printf "%.3f", a / b }')" x
	done
}
