#!/bin/sh
# SPDX-License-Identifier: MIT
# The host side of the Linux virtio test, run in L1 by cases-bmvm.sh: boots
# Debian's generic kernel under bmvm with every virtio device, drives the
# guest script (tests/l1/l2-virtio.sh) step by step, checks each effect on
# the host, SIGKILLs bmvm while the guest still has its disks mounted and
# then checks the flushed data is in the images. Prints `virtio-linux: PASS`.
# Usage: virtio-linux.sh KERNEL INITRD [BMVM]
K=$1 I=$2 BMVM=${3:-bmvm}
D=/tmp/vt
fails=0
dead=''
: >$D.host
ok() { echo "HOST OK $1" | tee -a $D.host; }
bad() { echo "HOST FAIL $1: $2" | tee -a $D.host; fails=$((fails + 1)); }
# What each bmvm thread is doing (a hang's first clue).
threads() {
	for t in /proc/$pid/task/*; do
		echo "thread $(cat $t/comm): $(cat $t/wchan) syscall $(cut -d' ' -f1 $t/syscall)"
	done
}
# waitstep NAME [SEC]: until the guest prints `L2 STEP NAME`.
waitstep() {
	[ -z "$dead" ] || return 1
	echo "host: waiting for step $1"; i=0
	while ! grep -q "L2 STEP $1" $D/out; do
		if [ $i -ge $((${2:-90} * 10)) ] || ! kill -0 $pid 2>/dev/null; then
			bad "step-$1" "never came; the guest's last words:"
			threads >>$D.host
			[ -z "$VL_DEBUG" ] || tail -n 80 $D/out >>$D.host
			timeout 5 $BMVM ctl --socket $D/api.sock devices | grep -E '"kind"|"state"' | tr -d ' \n' >>$D.host
			dead=1
			return 1
		fi
		sleep 0.1; i=$((i + 1))
	done
}

rm -rf $D; mkdir -p $D/share $D/secret /tmp/www
echo "hello from the host" >$D/share/hello.txt
echo r >$D/share/rename-me.txt
echo d >$D/share/delete-me.txt
echo HOST-SECRET >$D/secret/secret.txt
ln -s $D/secret $D/share/escape
truncate -s 64M $D/vda.raw; truncate -s 16M $D/vdb.raw; truncate -s 8M $D/vdc.raw
echo l1-says-hello >/tmp/www/hello.txt
httpd -p 127.0.0.1:8080 -h /tmp/www
l1tool connect tcp:127.0.0.1:8080 -t 5 -q -s 'GET /hello.txt HTTP/1.0\r\n\r\n' -e l1-says-hello || bad l1-httpd "the host's own web server does not answer"

BMVM_BALLOON_TARGET_MIB=256 $BMVM "$K" --initrd "$I" --ram 512 --cpus ${VL_CPUS:-1} \
	--cmdline "console=ttyAMA0 ${VL_CMDLINE:-quiet}" \
	--share $D/share --disk $D/vda.raw --disk $D/vdb.raw,serial=test-serial \
	--disk $D/vdc.raw,ro --net user,hostfwd=tcp:127.0.0.1:2222-:8000 \
	--console pty --api-socket $D/api.sock >$D/out 2>&1 &
pid=$!

# BMVM_RAM_SHARED=1: RAM is the sealed memfd a local renderer would map.
ram_fd() {
	for f in /proc/$pid/fd/*; do
		case "$(readlink $f)" in /memfd:bmvm-guest-ram*) echo $f; return;; esac
	done
}
if waitstep 9p-done; then
	[ "$(cat $D/share/from-guest.txt 2>/dev/null)" = "written by the guest" ] && ok 9p-write || bad 9p-write "from-guest.txt"
	[ -f $D/share/renamed.txt ] && [ ! -e $D/share/rename-me.txt ] && ok 9p-rename || bad 9p-rename "host view"
	[ ! -e $D/share/delete-me.txt ] && ok 9p-delete || bad 9p-delete "still there"
	[ "$(cat $D/share/newdir/f 2>/dev/null)" = x ] && ok 9p-mkdir || bad 9p-mkdir "newdir/f"
	[ "$(readlink $D/share/link)" = renamed.txt ] && ok 9p-symlink || bad 9p-symlink "link"
	[ "$(cat $D/secret/secret.txt)" = HOST-SECRET ] && [ "$(ls $D/secret)" = secret.txt ] && ok 9p-confined || bad 9p-confined "the secret directory changed"
fi
if waitstep net-serving; then
	l1tool connect tcp:127.0.0.1:2222 -t 20 -q -s 'GET /x HTTP/1.0\r\n\r\n' -e from-l2 &&
		ok net-hostfwd || bad net-hostfwd "nothing from the guest's web server through 127.0.0.1:2222"
fi
if waitstep input-ready; then
	$BMVM ctl --socket $D/api.sock key a && ok input-inject || bad input-inject "bmvm ctl key a"
fi
if waitstep console-ready; then
	pty=$(sed -n 's/.*virtio console on \(\/dev\/pts\/[0-9]*\).*/\1/p' $D/out | head -n1)
	if [ -n "$pty" ] && l1tool tty "$pty" -t 20 -q -e 'HVC HELLO FROM L2' -s 'ping-from-host\n'; then
		ok console-tx
	else
		bad console-tx "pty '$pty'"
	fi
fi
if [ "$BMVM_RAM_SHARED" = 1 ] && waitstep done 60; then
	f=$(ram_fd)
	if [ -n "$f" ]; then
		ok ram-shared
		echo "host: $(( $(stat -L -c %b "$f") / 2048 )) MiB of the RAM memfd allocated after the balloon"
	else
		bad ram-shared "no memfd:bmvm-guest-ram among bmvm's descriptors"
	fi
fi
if waitstep done 60; then
	# The guest sleeps with its file systems mounted: nothing is flushed
	# from here on but what it already fsynced.
	kill -KILL $pid
	wait $pid
	n=$(grep -c BMVM-BLK-PATTERN $D/vda.raw)
	[ "$n" -ge 2048 ] && ok blk-fsync-survives-sigkill || bad blk-fsync-survives-sigkill "$n pattern lines in the image"
	yes BMVM-RAW-PATTERN | head -c 65536 >$D/pattern
	dd if=$D/vdb.raw bs=65536 skip=16 count=1 2>/dev/null | cmp -s - $D/pattern && ok blk-raw-on-host || bad blk-raw-on-host "cmp"
	[ "$(od -An -tx1 -N16 $D/vdc.raw | tr -d ' \n')" = 00000000000000000000000000000000 ] && ok blk-ro-untouched || bad blk-ro-untouched "vdc changed"
else
	kill -KILL $pid 2>/dev/null
	wait $pid
fi
[ ! -e $D/api.sock ] || rm -f $D/api.sock	# SIGKILL leaves it: nothing can remove it
# The guest's log, then the host's checks: a failure's tail shows both.
grep -v '^L2 OK' $D/out | tail -n 40
cat $D.host
g=$(grep -c '^L2 OK' $D/out)
gf=$(grep -c '^L2 FAIL' $D/out)
echo "guest: $g ok, $gf failed; host: $fails failed"
[ "$gf" = 0 ] && [ "$fails" = 0 ] && [ "$g" -ge 20 ] && echo "virtio-linux: PASS"
