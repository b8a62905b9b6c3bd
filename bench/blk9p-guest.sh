#!/bin/sh
# SPDX-License-Identifier: MIT
# The L2 guest's side of the virtio-blk / 9p throughput benchmark: /test.sh
# of the initramfs bench/blk9p.sh builds (tests/l1/mk-l2-initrd L2_SCRIPT),
# run by its /init after the virtio modules are loaded. Busybox only.
#
# Sequential dd of N MiB (blk9p.mb) in 1 MiB blocks, written then read back,
# "direct" (the guest's page cache bypassed: each dd block becomes requests
# of up to 1 MiB for blk, msize for 9p) and "buffered" (through the page
# cache: write + fsync, then read after dropping the caches, so readahead
# and writeback shape the requests):
#   blk  the first virtio disk (/dev/vda, raw, no file system); direct is
#        O_DIRECT
#   9p   a file on the share (trans=virtio, 9P2000.L); direct is a default
#        mount (cache=none: every read and write an RPC), buffered a
#        cache=loose one. Linux 6.1 writes 9p's dirty pages back one 4 KiB
#        RPC at a time, ~50x slower than the rest under TCG, so
#        9p_write_buffered moves N/32 MiB (into a second file): a measure
#        of the cost per request.
# Zeros are written: every figure is VMM and transport cost, not the guest's
# data generation.
# Parameters on the kernel command line: blk9p.mb=N (default 256),
# blk9p.tag=NAME (default share), blk9p.msize=BYTES (default 524288).
# Prints, for the L1 side to parse:
#   BLK9P <test> <MB/s> <seconds> <MiB moved>    (MB = 10^6 bytes, as dd counts)
#   BLK9P-FAIL <test> <why>
#   BLK9P-INFO <text>

mb=256 tag=share msize=524288
read -r cmdline </proc/cmdline
for a in $cmdline; do
	case $a in
	blk9p.mb=*) mb=${a#*=} ;;
	blk9p.tag=*) tag=${a#*=} ;;
	blk9p.msize=*) msize=${a#*=} ;;
	esac
done

# cs: /proc/uptime in centiseconds
cs() {
	read -r u _ </proc/uptime
	echo "${u%.*}${u#*.}"
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

# measure TEST MIB dd-args...: one timed dd of MIB MiB.
measure() {
	t=$1 n=$2
	shift 2
	t0=$(cs)
	if ! dd bs=1M count="$n" "$@" >/tmp/dd.out 2>&1; then
		echo "BLK9P-FAIL $t $(tail -n1 /tmp/dd.out)"
		return 0
	fi
	t1=$(cs)
	if ! grep -q "^$n+0 records out" /tmp/dd.out; then
		echo "BLK9P-FAIL $t short: $(grep 'records out' /tmp/dd.out)"
		return 0
	fi
	awk -v n="$n" -v c=$((t1 - t0)) -v t="$t" 'BEGIN { s = c / 100; if (s <= 0) s = 0.01
		printf "BLK9P %s %.2f %.2f %d\n", t, n * 1048576 / s / 1e6, s, n }'
}

echo "BLK9P-INFO kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) cpu(s), $mb MiB per dd, up $(cut -d' ' -f1 /proc/uptime)s"

if [ -b /dev/vda ]; then
	size=$(($(cat /sys/block/vda/size) / 2048))
	if [ "$size" -lt "$mb" ]; then
		echo "BLK9P-FAIL blk disk has $size MiB, fewer than $mb"
	else
		measure blk_write_direct "$mb" if=/dev/zero of=/dev/vda oflag=direct
		measure blk_read_direct "$mb" if=/dev/vda of=/dev/null iflag=direct
		measure blk_write_buffered "$mb" if=/dev/zero of=/dev/vda conv=fsync
		drop_caches
		measure blk_read_buffered "$mb" if=/dev/vda of=/dev/null
	fi
else
	echo "BLK9P-FAIL blk no /dev/vda"
fi

opts="trans=virtio,version=9p2000.L,msize=$msize"
if mount -t 9p -o "$opts" "$tag" /mnt; then
	echo "BLK9P-INFO 9p $(grep " /mnt " /proc/mounts)"
	measure 9p_write_direct "$mb" if=/dev/zero of=/mnt/blk9p.dat conv=fsync
	measure 9p_read_direct "$mb" if=/mnt/blk9p.dat of=/dev/null
	umount /mnt
	if mount -t 9p -o "$opts,cache=loose" "$tag" /mnt; then
		drop_caches
		measure 9p_read_buffered "$mb" if=/mnt/blk9p.dat of=/dev/null
		small=$((mb / 32))
		[ "$small" -gt 0 ] || small=1
		measure 9p_write_buffered "$small" if=/dev/zero of=/mnt/blk9p-wb.dat conv=fsync
		rm -f /mnt/blk9p-wb.dat
		echo "BLK9P-INFO 9p file $(stat -c %s /mnt/blk9p.dat) bytes"
		umount /mnt
	else
		echo "BLK9P-FAIL 9p second mount (cache=loose) of tag $tag failed"
	fi
else
	echo "BLK9P-FAIL 9p mount of tag $tag failed"
fi
