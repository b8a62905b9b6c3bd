#!/bin/sh
# SPDX-License-Identifier: MIT
# L2 guest script (tests/l1/mk-l2-initrd L2_SCRIPT, generic kernel, the
# virtio modules loaded) for tests/l1/testbed-smoke: exercises each virtio
# device the VMM gives it with the stock drivers, non-interactively, and
# prints one line per check,
#   L2CHECK PASS name | L2CHECK FAIL name: why | L2CHECK SKIP name: why
# for the L1 side (tests/l1/cases-testbed.sh l2check_report) to turn into
# RESULT lines. A device that is absent is a SKIP, so one script serves any
# VMM and any subset of devices. Parameters from /proc/cmdline:
#   l2.tag=NAME        9p mount tag (default share)
#   l2.http=HOST:PORT  a web server reached through the NIC (default
#                      10.0.2.2:8080: slirp's alias for the host's loopback)
#   l2.mkfs            make an ext2 file system on /dev/vda and leave
#                      /hello.txt on it (else the disk is only read)

tag=share http=10.0.2.2:8080 mkfs=''
read -r cmdline </proc/cmdline
for a in $cmdline; do
	case $a in
	l2.tag=*) tag=${a#*=} ;;
	l2.http=*) http=${a#*=} ;;
	l2.mkfs) mkfs=1 ;;
	esac
done

pass() { echo "L2CHECK PASS $1"; }
fail() { echo "L2CHECK FAIL $1: $2"; }
skip() { echo "L2CHECK SKIP $1: $2"; }

# has_dev ID: a virtio device of that ID (0x0004...) with a driver bound
has_dev() {
	for d in /sys/bus/virtio/devices/*; do
		[ "$(cat "$d/device" 2>/dev/null)" = "$1" ] && [ -e "$d/driver" ] && return 0
	done
	return 1
}

# /init printed L2 INSMOD FAIL for any module that failed
echo "L2CHECK INFO modules: $(lsmod | awk 'NR > 1 { printf "%s ", $1 }')"
devs=''
for d in /sys/bus/virtio/devices/*; do
	[ -e "$d" ] || continue
	drv=$(readlink "$d/driver" 2>/dev/null)
	devs="$devs $(cat "$d/device"):${drv##*/}"
done
echo "L2CHECK INFO virtio devices (ID:driver):$devs"

# rng (ID 4): the hw_random core exposes it as /dev/hwrng
if has_dev 0x0004; then
	n=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | wc -c)
	if [ "$n" -eq 64 ] && [ "$(cat /sys/class/misc/hw_random/rng_current)" != none ]; then
		pass rng
	else
		fail rng "read $n of 64 bytes from /dev/hwrng ($(cat /sys/class/misc/hw_random/rng_current))"
	fi
else skip rng "no virtio-rng device"; fi

# console (ID 3): port 0 is /dev/hvc0
if has_dev 0x0003; then
	if [ -c /dev/hvc0 ]; then
		echo "L2 HVC0 HELLO" >/dev/hvc0 && pass console
	else fail console "no /dev/hvc0"; fi
else skip console "no virtio-console device"; fi

# input (ID 18): one evdev node per device, named by the device's config
if has_dev 0x0012; then
	names=$(cat /sys/class/input/event*/device/name 2>/dev/null | tr '\n' ',')
	if [ -n "$names" ]; then pass "input ($names)"; else fail input "no /dev/input/event*"; fi
else skip input "no virtio-input device"; fi

# balloon (ID 5): the driver bound
if has_dev 0x0005; then pass balloon
else skip balloon "no virtio-balloon device"; fi

# blk (ID 2)
if [ -b /dev/vda ]; then
	if [ -n "$mkfs" ]; then
		if mke2fs -q /dev/vda >/tmp/mkfs.out 2>&1 && mount -t ext2 /dev/vda /mnt &&
			echo "hello from L2" >/mnt/hello.txt && sync && umount /mnt; then
			pass blk-mkfs
		else fail blk-mkfs "$(tail -n1 /tmp/mkfs.out)"; fi
	else
		if dd if=/dev/vda of=/dev/null bs=64k count=16 2>/dev/null; then pass blk-read
		else fail blk-read "cannot read /dev/vda"; fi
	fi
else skip blk "no /dev/vda"; fi

# 9p (ID 9): read what L1 put there; write, rename, delete (L1 checks the result)
if has_dev 0x0009; then
	if mount -t 9p -o trans=virtio,version=9p2000.L "$tag" /mnt; then
		if echo "written by L2" >/mnt/new.txt && mv /mnt/new.txt /mnt/renamed.txt &&
			echo gone >/mnt/delete-me && rm /mnt/delete-me && mkdir /mnt/dir &&
			[ "$(cat /mnt/host.txt 2>/dev/null)" = "from L1" ]; then
			pass 9p
		else fail 9p "file operations on the share failed"; fi
		umount /mnt
	else fail 9p "mount of tag $tag failed"; fi
else skip 9p "no virtio-9p device"; fi

# net (ID 1): DHCP, then TCP to the host's loopback through the NAT
if has_dev 0x0001; then
	ip link set eth0 up
	if udhcpc -i eth0 -q -n -t 5 -T 1 >/tmp/dhcp.out 2>&1; then
		addr=$(ip -4 addr show eth0 | awk '/inet / { print $2 }')
		# not wget -T: Debian's busybox 1.35 lacks it and segfaults on it
		got=$(timeout 15 wget -O - "http://$http/l2.txt" 2>/tmp/wget.err)
		rc=$?
		if [ "$got" = "served by L1" ]; then pass "net ($addr, http://$http)"
		else
			fail net "DHCP gave $addr, but http://$http/l2.txt gave '$got' (wget status $rc: $(tr '\n' ' ' </tmp/wget.err); routes: $(ip route | tr '\n' ';'))"
		fi
	else fail net "no DHCP lease: $(tail -n1 /tmp/dhcp.out)"; fi
else skip net "no virtio-net device"; fi
