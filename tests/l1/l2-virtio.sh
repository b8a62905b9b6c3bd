#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs inside the L2 Debian guest (generic kernel, busybox) that bmvm boots
# with every virtio device: tests/l1/virtio-linux.sh drives the host side.
# Each check prints `L2 OK name` or `L2 FAIL name: why`; markers the host
# waits for start with `L2 STEP`.
ok() { echo "L2 OK $1"; }
bad() { echo "L2 FAIL $1: $2"; }
step() { echo "L2 STEP $1"; }

# --- 9p: the host put hello.txt and a symlink to a host-only directory ----
mkdir -p /mnt/share
if mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 share /mnt/share; then
	ok 9p-mount
else
	bad 9p-mount "mount failed"
fi
[ "$(cat /mnt/share/hello.txt 2>/dev/null)" = "hello from the host" ] && ok 9p-read || bad 9p-read "hello.txt"
echo "written by the guest" >/mnt/share/from-guest.txt && ok 9p-write || bad 9p-write "create"
mv /mnt/share/rename-me.txt /mnt/share/renamed.txt && ok 9p-rename || bad 9p-rename "mv"
rm /mnt/share/delete-me.txt && ok 9p-delete || bad 9p-delete "rm"
mkdir /mnt/share/newdir && echo x >/mnt/share/newdir/f && ok 9p-mkdir || bad 9p-mkdir "mkdir"
ln -s renamed.txt /mnt/share/link && [ "$(readlink /mnt/share/link)" = renamed.txt ] && ok 9p-symlink || bad 9p-symlink "ln -s"
# The host's symlink to its own /tmp/secret is content: the guest follows it
# in its own namespace, never into the host's directory.
if cat /mnt/share/escape/secret.txt 2>/dev/null | grep -q HOST-SECRET; then
	bad 9p-escape "read the host's secret through a symlink"
else
	ok 9p-escape
fi
ls /mnt/share/.. >/dev/null 2>&1	# the guest's own /mnt: harmless
sync
step 9p-done

# --- virtio-blk: vda gets a file system, vdb a raw pattern, both flushed --
if mkfs.ext2 -q /dev/vda >/dev/null 2>&1 || mke2fs -q /dev/vda >/dev/null 2>&1; then
	mkdir -p /mnt/vda
	if mount -t ext2 /dev/vda /mnt/vda; then
		i=0
		# 64-byte records: none straddles a file-system block, so the host
		# can count them in the raw image.
		while [ $i -lt 2048 ]; do printf 'BMVM-BLK-PATTERN-%05d-%040d\n' $i 0; i=$((i + 1)); done >/mnt/vda/data.txt
		fsync /mnt/vda/data.txt 2>/dev/null || sync
		[ "$(wc -l </mnt/vda/data.txt)" = 2048 ] && ok blk-ext2 || bad blk-ext2 "short file"
	else
		bad blk-ext2 "mount failed"
	fi
else
	bad blk-ext2 "mkfs failed"
fi
# A raw pattern at 1 MiB of vdb, written with O_DIRECT and fsync.
yes BMVM-RAW-PATTERN | head -c 65536 >/tmp/pattern
dd if=/tmp/pattern of=/dev/vdb bs=65536 seek=16 count=1 oflag=direct conv=fsync 2>/dev/null && ok blk-raw || bad blk-raw "dd"
dd if=/dev/vdb bs=65536 skip=16 count=1 iflag=direct 2>/dev/null | cmp -s - /tmp/pattern && ok blk-readback || bad blk-readback "cmp"
[ "$(cat /sys/block/vdb/serial 2>/dev/null)" = test-serial ] && ok blk-serial || bad blk-serial "serial $(cat /sys/block/vdb/serial 2>/dev/null)"
if [ "$(cat /sys/block/vdc/ro 2>/dev/null)" = 1 ] && ! dd if=/tmp/pattern of=/dev/vdc bs=4096 count=1 conv=fsync 2>/dev/null; then
	ok blk-ro
else
	bad blk-ro "vdc writable"
fi
step blk-synced

# --- virtio-rng ------------------------------------------------------------
[ "$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)" = virtio_rng.0 ] && ok rng-current || bad rng-current "$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
n=$(dd if=/dev/hwrng bs=64 count=4 2>/dev/null | wc -c)
[ "$n" = 256 ] && ok rng-read || bad rng-read "$n bytes"

# --- virtio-net through slirp ---------------------------------------------
ip link set lo up
ip link set eth0 up
if udhcpc -i eth0 -n -q -t 5 -T 2 >/dev/null 2>&1 && ip addr show eth0 | grep -q 'inet 10.0.2.15/'; then
	ok net-dhcp
else
	bad net-dhcp "no 10.0.2.15"
fi
if l1tool connect tcp:10.0.2.2:8080 -t 20 -q -s 'GET /hello.txt HTTP/1.0\r\n\r\n' -e l1-says-hello; then
	ok net-tcp
else
	bad net-tcp "no answer from the host's loopback web server through 10.0.2.2:8080"
fi
mkdir -p /www && echo from-l2 >/www/x && httpd -p 8000 -h /www && step net-serving

# --- virtio-input: the host types through the API --------------------------
kbd=''
for e in /sys/class/input/event*; do
	grep -q 'bmvm keyboard' "$e/device/name" 2>/dev/null && kbd=/dev/input/${e##*/}
done
if [ -n "$kbd" ]; then
	ok input-found
	dd if="$kbd" bs=24 count=2 of=/tmp/events 2>/dev/null &
	reader=$!
	sleep 1
	step input-ready
	i=0
	while kill -0 $reader 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
	# struct input_event on arm64: 16 bytes of time, type, code, value.
	ev=$(od -An -tu2 -j16 -N4 /tmp/events 2>/dev/null | tr -s ' ')
	if [ "$ev" = " 1 30" ]; then
		ok input-key
	else
		bad input-key "type and code '$ev'; $(od -An -tx1 /tmp/events | tr -s ' ' | tr '\n' '|')"
	fi
else
	bad input-found "no bmvm keyboard in /sys/class/input"
fi

# --- virtio-console: a line from the host's pty and one back ---------------
if [ -c /dev/hvc0 ]; then
	echo "HVC HELLO FROM L2" >/dev/hvc0
	step console-ready
	read -r line </dev/hvc0
	[ "$line" = ping-from-host ] && ok console-rx || bad console-rx "got '$line'"
else
	bad console "no /dev/hvc0"
fi

# --- virtio-balloon: the host asked for 128 MiB back ----------------------
i=0
while [ $i -lt 100 ]; do
	free=$(awk '/MemFree/ { print int($2 / 1024) }' /proc/meminfo)
	[ "$free" -lt 300 ] && break
	sleep 0.2; i=$((i + 1))
done
echo "L2 memfree ${free} MiB"
[ "$free" -lt 300 ] && ok balloon-inflate || bad balloon-inflate "MemFree still $free MiB"

step done
# The host SIGKILLs bmvm now, with vda still mounted (see virtio-linux.sh).
sleep 600
