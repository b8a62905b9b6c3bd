# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Test-bed self-check (tests/l1/testbed-smoke): the L1 tools that the virtio
# tests stand on, each proven once, and QEMU (-accel kvm) in L1 booting
# Debian's generic kernel as L2 with every virtio device, so that the L2
# scripts are known good before bmvm serves the same devices.
#
# Payload: /payload/Image + /payload/l2-initrd.cpio.gz (cloud L2 guest),
# /payload/blk9p/{Image,initrd.cpio.gz} (generic kernel, blk9p guest),
# /payload/l2-virtio-check.cpio.gz (generic, tests/l1/l2-virtio-check.sh),
# /payload/blk9p.sh, and the QEMU tree (/payload/qemu or a disk /mnt/vd*/).
P=/payload

# --- 1. servers on L1's loopback (the slirp test's peer) ----------------------
run_case lo-up 0 5 'LOOPBACK,UP' -- ip link show lo
mkdir -p /tmp/www
echo "served by L1" >/tmp/www/l2.txt
httpd -p 127.0.0.1:8080 -h /tmp/www
run_case httpd-loopback 0 10 '^served by L1$' -- wget -q -O - http://127.0.0.1:8080/l2.txt
cat >/tmp/nc-case.sh <<'EOF'
nc -l -p 7777 >/tmp/nc.got &
s=$!
sleep 0.3
echo hello-nc | nc -w 2 127.0.0.1 7777
wait $s
cat /tmp/nc.got
EOF
run_case nc-loopback 0 10 '^hello-nc$' -- sh /tmp/nc-case.sh

# --- 2. disk images: loop + ext2 (ext4 is built into the cloud kernel) -------
cat >/tmp/loop-case.sh <<'EOF'
set -e
dd if=/dev/zero of=/tmp/e.img bs=1M count=8 2>/dev/null
# busybox mke2fs wants a block device
dev=$(losetup -f)
losetup "$dev" /tmp/e.img
mke2fs -q "$dev"
losetup -d "$dev"
mkdir -p /tmp/e
mount -o loop /tmp/e.img /tmp/e
echo "on ext2" >/tmp/e/f
md5sum /tmp/e/f >/tmp/e.sum
umount /tmp/e
mount -o loop,ro /tmp/e.img /tmp/e
md5sum -c /tmp/e.sum
cmp /tmp/e/f /tmp/e.sum && exit 1
umount /tmp/e
EOF
run_case loop-ext2 0 30 ': OK$' -- sh /tmp/loop-case.sh

# --- 3. l1tool: unix socket both ways -------------------------------------------
cat >/tmp/l1tool-case.sh <<'EOF'
l1tool listen /tmp/t.sock -t 10 -q -e ping -s 'pong\n' &
l=$!
l1tool connect /tmp/t.sock -t 10 -s ping -e pong
c=$?
wait $l
echo "connect $c listen $?"
EOF
run_case l1tool-unix 0 15 '^connect 0 listen 0$' -- sh /tmp/l1tool-case.sh

# --- 4. bmvm's serial console on a socket and a pty, read with l1tool ------------
# The cloud L2 guest boots; l1tool waits for its marker on the console.
cat >/tmp/console-case.sh <<'EOF'
# console-case.sh socket|pty
rm -f /tmp/con.sock /tmp/con.err
case $1 in
socket) be=socket=/tmp/con.sock ;;
pty) be=pty ;;
esac
bmvm /payload/Image --initrd /payload/l2-initrd.cpio.gz --cpus 1 --ram 256 \
	--cmdline "console=ttyAMA0 quiet" --serial "$be" --timeout 100 2>/tmp/con.err &
b=$!
if [ "$1" = socket ]; then
	l1tool connect /tmp/con.sock -t 100 -e 'L2 LINUX UP 1'
	r=$?
else
	i=0 path=''
	while [ -z "$path" ] && [ $i -lt 100 ]; do
		path=$(sed -n 's/.*serial console on //p' /tmp/con.err 2>/dev/null)
		[ -n "$path" ] || usleep 50000
		i=$((i + 1))
	done
	l1tool tty "$path" -t 100 -e 'L2 LINUX UP 1'
	r=$?
fi
wait $b
echo
echo "l1tool $r bmvm $?"
cat /tmp/con.err
EOF
run_case serial-socket 0 120 '^l1tool 0 bmvm 0$' -- sh /tmp/console-case.sh socket
run_case serial-pty 0 120 '^l1tool 0 bmvm 0$' -- sh /tmp/console-case.sh pty

# --- 5. QEMU in L1: the generic L2 kernel with every virtio device ---------------
# l2check_report NAME FILE: RESULT lines from the L2CHECK lines in FILE.
l2check_report() {
	grep '^L2CHECK INFO' "$2" | sed "s/^/INFO $1: /"
	grep '^L2 INSMOD FAIL' "$2" | while read -r _ _ _ _m; do
		fail "$1-insmod-$_m" "insmod failed in L2"
	done
	grep '^L2CHECK \(PASS\|FAIL\|SKIP\) ' "$2" | while read -r _ _k _rest; do
		case $_k in
		PASS) pass "$1-${_rest%% *}" 0 ;;
		FAIL) fail "$1-${_rest%%:*}" "${_rest#*: }" ;;
		SKIP) echo "INFO $1: skipped $_rest" ;;
		esac
	done
}

# shellcheck source=bench/blk9p.sh
. "$P/blk9p.sh"
if blk9p_find_qemu; then
	run_case qemu-version 0 30 'QEMU emulator version' -- "$BLK9P_QEMU" --version
	rm -rf /tmp/qv
	mkdir -p /tmp/qv/share
	echo "from L1" >/tmp/qv/share/host.txt
	truncate -s 64M /tmp/qv/disk.raw
	run_case qemu-l2-virtio 0 300 'L2 TEST EXIT 0' -- "$BLK9P_QEMU" \
		-M virt,gic-version=3 -accel kvm -cpu host -smp 1 -m 256 \
		-global virtio-mmio.force-legacy=false \
		-nodefaults -no-user-config -display none -serial stdio \
		-kernel "$BLK9P_KERNEL" -initrd "$P/l2-virtio-check.cpio.gz" \
		-append "console=ttyAMA0 quiet l2.mkfs" \
		-drive if=none,id=d0,format=raw,file=/tmp/qv/disk.raw \
		-device virtio-blk-device,drive=d0 \
		-fsdev local,id=f0,path=/tmp/qv/share,security_model=none \
		-device virtio-9p-device,fsdev=f0,mount_tag=share \
		-device virtio-rng-device \
		-device virtio-serial-device -chardev file,id=c0,path=/tmp/qv/hvc0.out \
		-device virtconsole,chardev=c0 \
		-device virtio-balloon-device \
		-device virtio-keyboard-device -device virtio-tablet-device \
		-netdev user,id=n0 -device virtio-net-device,netdev=n0
	metric qemu_l2_virtio_total "$CASE_SECS" s
	grep '^L2 LINUX UP' "$CASE_OUT" >/dev/null || sed 's/^/    /' "$CASE_OUT" | tail -n 30
	l2check_report qemu-l2 "$CASE_OUT"
	# What L2 did, seen from L1
	run_case qemu-l2-hvc0-file 0 5 'L2 HVC0 HELLO' -- cat /tmp/qv/hvc0.out
	# shellcheck disable=SC2016  # expanded by the inner sh
	run_case qemu-l2-9p-host-side 0 5 '^ok$' -- sh -c \
		'cd /tmp/qv/share && [ "$(cat renamed.txt)" = "written by L2" ] && [ ! -e new.txt ] &&
		 [ ! -e delete-me ] && [ -d dir ] && echo ok'
	run_case qemu-l2-ext2-on-l1 0 20 '^hello from L2$' -- sh -c \
		'mkdir -p /tmp/qv/m && mount -o loop,ro /tmp/qv/disk.raw /tmp/qv/m &&
		 cat /tmp/qv/m/hello.txt; umount /tmp/qv/m'
	rm -rf /tmp/qv

	# --- 6. the blk9p benchmark under QEMU, small ------------------------------------
	blk9p_qemu
	# shellcheck disable=SC2119  # no VMM pair to compare here
	blk9p_report
else
	fail qemu "no QEMU tree at /payload/qemu or /mnt/vd*/qemu"
fi
metric l1_uptime_at_end "$(now)" s
