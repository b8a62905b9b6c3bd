# bmvm integration cases, run inside the emulated arm64 KVM host by
# tests/l1/run-integration. Guests live in /payload/guests; each test kernel
# prints "<name>: PASS" and exits through the bmvm test device.
G=/payload/guests
B=/payload/bad

run_case version 0 10 '^bmvm [0-9]' -- bmvm --version
run_case help 0 10 '--timeout SEC' -- bmvm --help
# Does the host's KVM hand PSCI calls to userspace (SMCCC filter, Linux
# 6.4+)? tests/l1/kvmprobe tries it on a VM of its own.
case $(uname -r) in
[0-5].*|6.[0-3].*) smccc='^PSCI_HVC kernel: ' ;;
*) smccc='^PSCI_HVC user: KVM_EXIT_HYPERCALL nr 0x84000000 flags 0x0 \(hvc\), guest got x0 0x10002$' ;;
esac
run_case kvm-smccc-filter 0 30 "$smccc" -- /payload/kvmprobe
grep -E '^(SMCCC_FILTER|PSCI_HVC)' "$CASE_OUT" | sed 's/^/    kvmprobe: /'

# --- test kernels ----------------------------------------------------------
run_case hello 0 60 'hello: PASS' -- bmvm $G/hello.elf --cpus 1
run_case hello-highva 0 60 'hello-highva: PASS' -- bmvm $G/hello-highva.elf --cpus 1
for n in 1 2 4; do
	run_case smp-$n 0 60 "smp: $n cpus online" -- bmvm $G/smp.elf --cpus $n
	grep -q 'smp: PASS' "$CASE_OUT" || fail smp-$n-pass "no 'smp: PASS'" "$CASE_OUT"
done
run_case vtimer 0 60 'vtimer: PASS' -- bmvm $G/vtimer.elf --cpus 1
run_case isv0 0 60 'isv0: PASS' -- bmvm $G/isv0.elf --cpus 1
run_case exit-status 42 60 'exiting with 42' -- bmvm $G/exitcode.elf --cpus 1
# On a kernel with the SMCCC filter, PSCI is bmvm's own (psci.c, the code the
# macOS backend runs) and the bare-metal guests end through bmvm's exit call.
run_case psci-vmm 0 60 'PSCI answered by vmm' -- bmvm $G/smp.elf --cpus 4 -v
grep -q 'smp: PASS' "$CASE_OUT" || fail psci-vmm-smp "no 'smp: PASS'" "$CASE_OUT"
grep -qE 'vCPU [0-9]+: exit call with status 0' "$CASE_OUT" ||
	fail psci-vmm-exit-call "the guest did not end through BMVM_SMCCC_EXIT" "$CASE_OUT"
run_case exit-call-status 3 60 'exit call with status 3' -- bmvm $G/mmio-bad.elf --cpus 1 -v
run_case timeout 124 60 'still running after 2 s' -- bmvm $G/hang.elf --cpus 2 --timeout 2
# ... and says where the guest was stuck: vCPU 0 in hang's WFI loop, vCPU 1 never started.
grep -qE 'vCPU 0 was at pc 0x4008[0-9a-f]{4} \(EL1, interrupts masked\)' "$CASE_OUT" ||
	fail timeout-where "no vCPU 0 position" "$CASE_OUT"
grep -q 'vCPU 1 was powered off' "$CASE_OUT" || fail timeout-where-off "no vCPU 1 state" "$CASE_OUT"
run_case reset-reboot 0 60 'reset: PASS' -- bmvm $G/reset.elf --cpus 2
run_case_not reset-exit 0 60 'back after' -- bmvm $G/reset.elf --cpus 2 --on-reset exit
# SIGTERM ends bmvm promptly, at any point, and bmvm dies of it (status 143)
# so a shell loop around it stops too; also while the vCPUs are still
# being created (a stop posted then used to be lost).
# hang.elf never armed the power button: SIGTERM stops it at once.
run_case sigterm-running 143 30 'stopped by signal 15' -- sh -c \
	"bmvm $G/hang.elf --cpus 2 & sleep 1; kill -TERM \$!; wait \$!"
grep -q 'power button' "$CASE_OUT" && fail sigterm-running-button "pressed a button nobody listens to" "$CASE_OUT"
run_case sigterm-at-start 143 30 '' -- sh -c \
	"bmvm $G/hang.elf --cpus 4 & kill -TERM \$!; wait \$!"
run_case sighup-running 129 30 'stopped by signal 1' -- sh -c \
	"bmvm $G/hang.elf --cpus 1 & sleep 1; kill -HUP \$!; wait \$!"
# Graceful stop: SIGTERM presses the PL061 power button (SPI 7) when the
# guest listens; the guest powers off (exit 0). One that listens but does
# nothing is stopped when --stop-timeout runs out, or by a second SIGTERM.
cat >/tmp/waitfor <<'EOS'
#!/bin/sh
# waitfor FILE PATTERN: until PATTERN shows in FILE, at most 60 s
i=0
while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
EOS
chmod +x /tmp/waitfor
run_case power-button 0 60 'powerbutton: PASS' -- sh -c \
	"bmvm $G/powerbutton.elf --cpus 1 >/tmp/pb.out 2>&1 & pid=\$!
	 /tmp/waitfor /tmp/pb.out waiting
	 kill -TERM \$pid; wait \$pid; rc=\$?; cat /tmp/pb.out; exit \$rc"
run_case power-button-grace 143 60 'did not power off within 2 s of SIGTERM' -- sh -c \
	"bmvm $G/powerbutton-deaf.elf --cpus 1 --stop-timeout 2 >/tmp/pbd.out 2>&1 & pid=\$!
	 /tmp/waitfor /tmp/pbd.out armed
	 kill -TERM \$pid; wait \$pid; rc=\$?; cat /tmp/pbd.out; exit \$rc"
run_case power-button-twice 143 60 'stopped by signal 15' -- sh -c \
	"bmvm $G/powerbutton-deaf.elf --cpus 1 >/tmp/pbt.out 2>&1 & pid=\$!
	 /tmp/waitfor /tmp/pbt.out armed
	 kill -TERM \$pid; sleep 1; kill -TERM \$pid; wait \$pid; rc=\$?; cat /tmp/pbt.out; exit \$rc"
run_case mmio-unemulatable 3 60 'cannot emulate the access to 0x90f0100: pc 0x[0-9a-f]+: unsupported instruction 0x[0-9a-f]{8} \(exclusive' -- bmvm $G/mmio-bad.elf --cpus 1
grep -q 'injecting an external abort' "$CASE_OUT" || fail mmio-unemulatable-abort "no abort injected" "$CASE_OUT"
# EC 0x25 (data abort, same EL), DFSC 0x10 (synchronous external abort),
# built by bmvm's arch code; FAR is the exclusive's address (its base register).
grep -qE 'ESR 0x96000010 \(EC 0x25\) ELR 0x[0-9a-f]+ FAR 0x90f0100 ' "$CASE_OUT" ||
	fail mmio-unemulatable-guest "guest saw no external abort at 0x90f0100" "$CASE_OUT"

# --- serial backends ---------------------------------------------------------
run_case serial-file 0 30 '' -- bmvm $G/hello.elf --cpus 1 --serial file=/tmp/serial.txt
grep -q 'hello: PASS' /tmp/serial.txt || fail serial-file-content "no guest output in the file" /tmp/serial.txt
grep -q 'hello: PASS' "$CASE_OUT" && fail serial-file-stdout "guest output on stdout too" "$CASE_OUT"
# The pty keeps the guest's output until someone reads it; bmvm then ends
# at its --timeout (124), and the case's status is bmvm's.
run_case serial-pty 124 30 'hang: spinning forever' -- sh -c \
	"bmvm $G/hang.elf --cpus 1 --serial pty --timeout 4 2>/tmp/pty.err & pid=\$!
	 sleep 2; pty=\$(grep -o '/dev/pts/[0-9]*' /tmp/pty.err)
	 [ -n \"\$pty\" ] && timeout 1 cat \$pty; wait \$pid"

# --- Debian's arm64 Linux as a guest ---------------------------------------
# -v: a guest that hangs is stopped at the timeout with each vCPU's place,
# timer and GIC state reported.
for n in 1 2; do
	run_case linux-$n 0 90 "L2 LINUX UP $n" -- bmvm /payload/Image \
		--initrd /payload/l2-initrd.cpio.gz --cmdline "console=ttyAMA0" --cpus $n --ram 256 -v
	metric linux_${n}cpu_poweroff "$CASE_SECS" s
	grep -q 'PSCI answered by vmm' "$CASE_OUT" ||
		fail linux-$n-psci-vmm "PSCI was not bmvm's on $(uname -r)" "$CASE_OUT"
done

# Linux hears the power button too (bmvm.wait: the L2 init waits for it).
run_case linux-power-button 0 180 'L2 POWER BUTTON' -- sh -c \
	"bmvm /payload/Image --initrd /payload/l2-initrd.cpio.gz --cpus 1 --ram 256 \
	   --cmdline 'console=ttyAMA0 quiet bmvm.wait' >/tmp/lpb.out 2>&1 & pid=\$!
	 /tmp/waitfor /tmp/lpb.out 'L2 LINUX UP'
	 kill -TERM \$pid; wait \$pid; rc=\$?; cat /tmp/lpb.out; exit \$rc"

# --- bad input: one clear line, exit 2, no crash ---------------------------
run_case bad-missing 2 10 "cannot open kernel '/nope'" -- bmvm /nope
run_case bad-directory 2 10 'not a regular file' -- bmvm /payload
run_case bad-empty 2 10 'empty' -- bmvm $B/empty
run_case bad-truncated 2 10 'kernel .*truncated.elf' -- bmvm $B/truncated.elf
run_case bad-garbage 2 10 '--format raw' -- bmvm $B/garbage.bin
run_case bad-gzip 2 10 'gunzip' -- bmvm $B/compressed.gz
run_case bad-below-ram 2 10 'outside RAM' -- bmvm $B/below-ram.elf
run_case bad-too-small-ram 2 10 'use --ram' -- bmvm /payload/Image --ram 16
run_case bad-ram-word 2 10 "--ram: 'lots'" -- bmvm $G/hello.elf --ram lots
run_case bad-cpus 2 10 "--cpus: '0'" -- bmvm $G/hello.elf --cpus 0
run_case bad-option 2 10 "unknown option '--bogus'" -- bmvm $G/hello.elf --bogus
run_case bad-initrd 2 10 "cannot open initrd" -- bmvm /payload/Image --initrd /nope
run_case_not no-crash-seen any 10 'Segmentation|Aborted|Illegal' -- cat /tmp/*.out

# --- device tree -----------------------------------------------------------
run_case dump-dtb 0 10 '^d00dfeed$' -- sh -c \
	'bmvm --dump-dtb /tmp/virt.dtb --cpus 2 && od -An -tx1 -N4 /tmp/virt.dtb | tr -d " "'

# --- virtio ------------------------------------------------------------------
# The transport's edge cases from a bare-metal guest, with KVM ioeventfd and
# irqfd in the path.
run_case virtio-transport 0 60 'virtio: PASS' -- bmvm $G/virtio.elf --cpus 1
# Debian's generic kernel with every virtio device and 2 vCPUs, checked on
# both sides (tests/l1/virtio-linux.sh).
V=/payload/virtio
run_case virtio-linux 0 300 'virtio-linux: PASS' -- env VL_CPUS=2 \
	sh /payload/virtio-linux.sh $V/Image $V/initrd.cpio.gz
mkdir -p /tmp/vshare; truncate -s 16M /tmp/vd1
# Bad device options: one line, exit 2, nothing started.
run_case bad-disk-missing 2 10 "cannot open" -- bmvm $G/hello.elf --disk /nope.raw
run_case bad-disk-option 2 10 "--disk" -- bmvm $G/hello.elf --disk /tmp/vd1,bogus
run_case bad-disk-cow 2 10 "cannot clone" -- bmvm $G/hello.elf --disk /tmp/vd1,cow
run_case bad-share-missing 2 10 "--share" -- bmvm $G/hello.elf --share /nope
run_case bad-net 2 10 "--net" -- bmvm $G/hello.elf --net bogus
run_case bad-net-hostfwd 2 10 "--net" -- bmvm $G/hello.elf --net user,hostfwd=tcp:1.2.3.4:99999-:22
run_case bad-console 2 10 "--console" -- bmvm $G/hello.elf --console nowhere
run_case bad-console-stdio 2 10 "serial port elsewhere" -- bmvm $G/hello.elf --console stdio
run_case bad-api-uri 2 10 "--restful-uri" -- bmvm $G/hello.elf --restful-uri tcp://localhost:8081

# --- the same machine under AddressSanitizer + UndefinedBehaviorSanitizer ---
# Any report fails the case: ASan exits 99, UBSan halts, and the output is
# searched for reports as well.
if [ -x /payload/bmvm-asan ]; then
	export ASAN_OPTIONS=exitcode=99:detect_leaks=1:abort_on_error=0
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	A=/payload/bmvm-asan
	SAN='AddressSanitizer|LeakSanitizer|runtime error'
	asan_case() {
		name=$1; shift
		run_case "$@"
		if grep -qE "$SAN" "$CASE_OUT"; then
			fail "$name-sanitizer" "sanitizer report (first lines below)"
			grep -m1 -A24 -E "$SAN" "$CASE_OUT" | sed 's/^/    /'
		fi
	}
	asan_case asan-hello asan-hello 0 120 'hello: PASS' -- $A $G/hello.elf --cpus 2
	asan_case asan-smp asan-smp 0 120 'smp: 4 cpus online' -- $A $G/smp.elf --cpus 4
	asan_case asan-isv0 asan-isv0 0 120 'isv0: PASS' -- $A $G/isv0.elf --cpus 1
	asan_case asan-reset asan-reset 0 120 'reset: PASS' -- $A $G/reset.elf --cpus 2
	asan_case asan-timeout asan-timeout 124 120 'still running' -- $A $G/hang.elf --timeout 3
	asan_case asan-mmio-bad asan-mmio-bad 3 120 'injecting an external abort' -- $A $G/mmio-bad.elf --cpus 1
	asan_case asan-linux asan-linux 0 150 'L2 LINUX UP 2' -- $A /payload/Image \
		--initrd /payload/l2-initrd.cpio.gz --cmdline console=ttyAMA0 --cpus 2
	asan_case asan-virtio asan-virtio 0 120 'virtio: PASS' -- $A $G/virtio.elf --cpus 1
	# On shared RAM (a memfd, as with a renderer on the same host): KVM, every
	# device and the balloon's hole punching on it.
	asan_case asan-virtio-linux asan-virtio-linux 0 400 'virtio-linux: PASS' -- \
		env BMVM_RAM_SHARED=1 sh /payload/virtio-linux.sh $V/Image $V/initrd.cpio.gz $A
	grep -q 'HOST OK ram-shared' "$CASE_OUT" ||
		fail asan-virtio-linux-ram-shared "guest RAM was not the shared memfd" "$CASE_OUT"
	asan_case asan-api asan-api 0 60 'gone' -- sh -c \
		"$A $G/hello.elf --cpus 1 --api-socket /tmp/asan-api.sock >/dev/null; [ ! -e /tmp/asan-api.sock ] && echo gone"
	asan_case asan-bad-truncated asan-bad-truncated 2 60 'truncated' -- $A $B/truncated.elf
	asan_case asan-bad-gzip asan-bad-gzip 2 60 'gunzip' -- $A $B/compressed.gz
	asan_case asan-dump-dtb asan-dump-dtb 0 60 '' -- $A --dump-dtb /tmp/a.dtb
else
	# Not a silent gap in the count: these cases did not run.
	fail asan "no /payload/bmvm-asan: the sanitizer cases did not run (run-integration's third argument, which make integration gives)"
fi

# --- control API (--api-socket) --------------------------------------------
# The ticker guest counts its own virtual time; bmvm ctl drives the VM.
cat >/tmp/api-state.sh <<'EOS'
#!/bin/sh
# The state machine through bmvm ctl, incl. refused transitions (exit 1 = 409).
S=/tmp/api.sock
bmvm /payload/guests/ticker.elf --cpus 2 --api-socket $S >/tmp/api.out 2>&1 &
pid=$!
/tmp/waitfor /tmp/api.out 'tick 2 '
check() { want=$1; shift; "$@"; rc=$?; [ $rc = $want ] || { echo "FAIL: $* -> $rc, wanted $want"; exit 1; }; }
[ "$(stat -c %a $S)" = 600 ] || { echo "FAIL: socket mode $(stat -c %a $S)"; exit 1; }
echo "state: $(bmvm ctl --socket $S state)"
check 1 bmvm ctl --socket $S resume            # not paused: 409
check 0 bmvm ctl --socket $S pause
sleep 0.5
echo "paused-state: $(bmvm ctl --socket $S state)"
check 1 bmvm ctl --socket $S pause             # already paused: 409
check 1 bmvm ctl --socket $S stop              # a paused guest cannot hear the button
before=$(grep -c tick /tmp/api.out)
sleep 3
after=$(grep -c tick /tmp/api.out)
[ "$before" = "$after" ] || { echo "FAIL: $((after - before)) ticks while paused"; exit 1; }
check 0 bmvm ctl --socket $S resume
n=$(grep -c tick /tmp/api.out)
/tmp/waitfor /tmp/api.out "tick $((n + 3)) "
# No jump in the guest's own time across the 3 s pause: every gap between
# ticks stays well under the pause.
awk '/ticker: tick/ { t = $6; if (seen && t - last > maxgap) maxgap = t - last; last = t; seen = 1 }
     END { print "max-gap-ms:", maxgap; exit !(maxgap < 1500) }' /tmp/api.out || { echo "FAIL: time jumped"; exit 1; }
bmvm ctl --socket $S inspect | grep -q '"vcpus": 2' || { echo "FAIL: inspect"; exit 1; }
bmvm ctl --socket $S inspect | grep -q '"psci": "vmm"' || { echo "FAIL: inspect psci"; exit 1; }
bmvm ctl --socket $S metrics | grep -q '"mmio"' || { echo "FAIL: metrics"; exit 1; }
check 1 bmvm ctl --socket $S screenshot /tmp/x.png   # no display: 404
check 1 bmvm ctl --socket $S key ctrl+alt+f2          # no keyboard driver in this guest: 503
check 0 bmvm ctl --socket $S hard-stop
wait $pid; rc=$?
[ -e $S ] && { echo "FAIL: socket left after HardStop"; exit 1; }
echo "bmvm exited $rc; api-state done"
exit $rc
EOS
chmod +x /tmp/api-state.sh
run_case api-state-machine 0 90 'api-state done' -- /tmp/api-state.sh
grep -q '^state: Running' "$CASE_OUT" || fail api-state-running "state was not Running" "$CASE_OUT"
grep -q '^paused-state: Paused' "$CASE_OUT" || fail api-state-paused "state was not Paused" "$CASE_OUT"

# Hostile clients and 100 at once: bmvm keeps serving.
cat >/tmp/api-hostile.sh <<'EOS'
#!/bin/sh
S=/tmp/api2.sock
bmvm /payload/guests/ticker.elf --cpus 1 --api-socket $S >/tmp/api2.out 2>&1 &
pid=$!
/tmp/waitfor /tmp/api2.out 'tick 1 '
# Garbage gets a 400 or a closed connection; either way bmvm serves on.
l1tool connect $S -t 5 -s 'GARBAGE \x01\x02\r\n\r\n'
bmvm ctl --socket $S state | grep -q Running || echo "FAIL: garbage"
l1tool connect $S -t 5 -s 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n' -e 'HTTP/1.1 404' || echo "FAIL: 404"
l1tool connect $S -t 5 -s 'DELETE /vm/state HTTP/1.1\r\nHost: x\r\n\r\n' -e 'HTTP/1.1 405' || echo "FAIL: 405"
l1tool connect $S -t 5 -s 'POST /vm/state HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{nope' -e 'HTTP/1.1 400' || echo "FAIL: bad json"
l1tool connect $S -t 5 -s 'POST /vm/state HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n' -e 'HTTP/1.1 413' || echo "FAIL: 413"
pids=''; i=0
while [ $i -lt 100 ]; do bmvm ctl --socket $S state >/tmp/c.$i 2>&1 & pids="$pids $!"; i=$((i + 1)); done
for p in $pids; do wait $p; done
ok=$(grep -l '^Running$' /tmp/c.* | wc -l)
echo "concurrent-ok: $ok"
bmvm ctl --socket $S state | grep -q Running || echo "FAIL: not serving after hostile clients"
bmvm ctl --socket $S hard-stop
wait $pid
[ -e $S ] && echo "FAIL: socket left"
echo "api-hostile done"
EOS
chmod +x /tmp/api-hostile.sh
run_case api-hostile 0 120 'concurrent-ok: 100' -- /tmp/api-hostile.sh
grep -q FAIL "$CASE_OUT" && fail api-hostile-checks "a hostile-client check failed" "$CASE_OUT"

# The socket goes when the guest powers off by itself, and a second bmvm
# refuses a live socket.
run_case api-socket-gone 0 30 'gone' -- sh -c \
	"bmvm $G/hello.elf --cpus 1 --api-socket /tmp/api3.sock >/dev/null; [ ! -e /tmp/api3.sock ] && echo gone"
run_case api-socket-in-use 2 30 'in use' -- sh -c \
	"bmvm $G/hang.elf --cpus 1 --api-socket /tmp/api4.sock & pid=\$!; sleep 1
	 bmvm $G/hang.elf --cpus 1 --api-socket /tmp/api4.sock; rc=\$?; kill -TERM \$pid; wait \$pid; exit \$rc"
run_case api-restful-uri 0 30 'gone' -- sh -c \
	"bmvm $G/hello.elf --cpus 1 --restful-uri unix:///tmp/api5.sock >/dev/null; [ ! -e /tmp/api5.sock ] && echo gone"
# Stop through the API is graceful: the Linux guest hears its power button,
# powers off, bmvm exits 0 and the socket is gone.
run_case api-stop-linux 0 180 'socket gone' -- sh -c \
	"bmvm /payload/Image --initrd /payload/l2-initrd.cpio.gz --cpus 1 --ram 256 \
	   --cmdline 'console=ttyAMA0 quiet bmvm.wait' --api-socket /tmp/api6.sock >/tmp/as.out 2>&1 & pid=\$!
	 /tmp/waitfor /tmp/as.out 'L2 LINUX UP'
	 bmvm ctl --socket /tmp/api6.sock stop; wait \$pid; rc=\$?; cat /tmp/as.out
	 [ -e /tmp/api6.sock ] || echo 'socket gone'; exit \$rc"
grep -q 'L2 POWER BUTTON' "$CASE_OUT" || fail api-stop-linux-button "the guest did not see the button" "$CASE_OUT"
# The serial port on a unix socket: a client reads the guest's output.
run_case serial-socket 0 60 'tick 1 ' -- sh -c \
	"bmvm $G/ticker.elf --cpus 1 --serial socket=/tmp/ser.sock --api-socket /tmp/api7.sock 2>/dev/null & pid=\$!
	 l1tool connect /tmp/ser.sock -t 30 -e 'tick 1 '; rc=\$?
	 bmvm ctl --socket /tmp/api7.sock hard-stop; wait \$pid; exit \$rc"

# --- GPU: virtio-gpu 2D with Linux's stock driver, rendered on the x86 host -
# tests/l1/run-integration starts bmvm-render natively and gives L1 a
# virtio-serial port to it (name host.0); its captures land on the x86 side,
# where run-integration checks them. Without the port (a plain tests/l1/run)
# these cases say so and fail.
GPU_PORT=$(virtio_port host.0)
if [ -z "$GPU_PORT" ]; then
	fail gpu-port "no virtio-serial port named host.0 (run through tests/l1/run-integration)"
else
	# fbcon on the stock virtio_gpu driver. Once the guest has reported and
	# is writing text, the API takes a screenshot and SIGUSR1 captures the
	# next frame (bmvm-PID-1.png on the
	# renderer's side); SIGTERM then stops it cleanly (whole messages only on
	# the shared port, which the next case uses).
	cat >/tmp/gpu-fbcon.sh <<EOS
#!/bin/sh
bmvm /payload/virtio/Image --initrd /payload/gpu/initrd.cpio.gz --cpus 1 --ram 512 \\
	--cmdline "console=tty0 console=ttyAMA0 bmvm.mode=1024x768" --no-balloon \\
	--resolution 1024x768 --gpu-renderer $GPU_PORT --stop-timeout 1 -v \\
	--api-socket /tmp/gapi.sock >/tmp/gpu.out 2>&1 & pid=\$!
/tmp/waitfor /tmp/gpu.out 'L2 STEP gpu-ready'
# The control API's screenshot: a PNG from the renderer, across the serial port.
bmvm ctl --socket /tmp/gapi.sock screenshot /tmp/shot.png &&
	[ "\$(dd if=/tmp/shot.png bs=1 skip=1 count=3 2>/dev/null)" = PNG ] &&
	echo "screenshot ok \$(wc -c </tmp/shot.png) bytes"
# A renderer across a serial port cannot map guest RAM: /metrics says so.
bmvm ctl --socket /tmp/gapi.sock metrics | tr -d ' \n' | grep -o '"gpu":{[^}]*}' >/tmp/gm.txt
cat /tmp/gm.txt
grep -q '"ramShared":false' /tmp/gm.txt && echo "metrics gpu ok"
kill -USR1 \$pid
/tmp/waitfor /tmp/gpu.out 'captured to bmvm-'
kill -TERM \$pid; wait \$pid; rc=\$?
cat /tmp/gpu.out
exit \$rc
EOS
	chmod +x /tmp/gpu-fbcon.sh
	# The guest's init does not listen for the power button: SIGTERM ends
	# bmvm after --stop-timeout, status 143 (128 + SIGTERM).
	run_case gpu-fbcon 143 300 'frame [0-9]* captured to bmvm-[0-9]*-1.png' -- /tmp/gpu-fbcon.sh
	grep -q 'screenshot ok' "$CASE_OUT" ||
		fail gpu-api-screenshot "GET /vm/screenshot gave no PNG" "$CASE_OUT"
	grep -q 'metrics gpu ok' "$CASE_OUT" ||
		fail gpu-api-metrics "GET /metrics has no gpu object saying ramShared false" "$CASE_OUT"
	for c in gpu-drm gpu-connected gpu-mode gpu-edid gpu-fbdev gpu-fbcon; do
		tr -d '\r' <"$CASE_OUT" | grep -q "L2 OK $c\$" ||
			fail "$c" "the guest did not report L2 OK $c" "$CASE_OUT"
	done
	# The same run traced: the trace file is the renderer link's own stream.
	run_case gpu-trace 0 300 'frame 3 captured' -- \
		bmvm /payload/virtio/Image --initrd /payload/gpu/initrd.cpio.gz --cpus 1 --ram 512 \
		--cmdline "console=tty0 console=ttyAMA0 bmvm.mode=1280x800" --no-balloon \
		--gpu-renderer "$GPU_PORT" --gpu-trace /tmp/run.bmgt --capture 1,3 trace -v
	[ -s /tmp/run.bmgt ] && head -c 4 /tmp/run.bmgt | grep -q BMGT ||
		fail gpu-trace-file "no trace written" "$CASE_OUT"
	# The 3D path from a bare-metal guest: guests/triangle's 4x MSAA triangle,
	# checked by bmvm, drawn by Vulkan (lavapipe) in the renderer on the x86
	# side; frame 3 goes to triangle.png there, compared with a golden image.
	run_case gpu-triangle 0 120 'frame 3 captured to triangle.png' -- \
		bmvm $G/triangle.elf --cpus 1 --gpu-renderer "$GPU_PORT" --capture 3 triangle.png -v
	grep -q 'first frame sent, 0 errors' "$CASE_OUT" ||
		fail gpu-triangle-errors "the status page reported errors" "$CASE_OUT"
	# Hostile streams from a bare-metal guest (guests/gpubad): a handle that
	# names nothing, SPIR-V the renderer refuses, an oversize upload, a draw
	# past its data, use after destroy: one error record each, and on.
	run_case gpu-bad-streams 0 120 'gpubad: PASS' -- \
		bmvm $G/gpubad.elf --cpus 1 --gpu-renderer "$GPU_PORT"
	# Textures and compute from a bare-metal guest: guests/plasma's compute
	# pass paints a texture that a quad samples under an uploaded tile.
	run_case gpu-plasma 0 120 'frame 5 captured to plasma.png' -- \
		bmvm $G/plasma.elf --cpus 1 --gpu-renderer "$GPU_PORT" --capture 5 plasma.png -v
	grep -q 'plasma: first frame sent, 0 errors' "$CASE_OUT" ||
		fail gpu-plasma-errors "the status page reported errors" "$CASE_OUT"
	# The triangle again, from a Linux program through the stock virtio_gpu
	# DRM driver (CONTEXT_INIT with capset 30, blob status page, EXECBUFFER
	# with out-fences). No console on tty0, so frames after boot are its
	# own; frame 150 goes to drm-triangle.png, checked on the x86 side.
	run_case gpu-drm-triangle 0 300 'frame 150 captured to drm-triangle.png' -- \
		bmvm /payload/virtio/Image --initrd /payload/gpu/initrd.cpio.gz --cpus 1 --ram 512 \
		--cmdline "console=ttyAMA0 quiet vt.global_cursor_default=0 bmvm.drm=100000" \
		--no-balloon --gpu-renderer "$GPU_PORT" --capture 150 drm-triangle.png -v
	grep -q 'drm-triangle: first frame sent, 0 errors' "$CASE_OUT" ||
		fail gpu-drm-triangle-errors "drm-triangle did not report a clean first frame" \
			"$CASE_OUT"
	# A frame the guest never draws: it powers off after 600; bmvm waits for
	# the renderer to finish what was sent, then names the missing frame.
	run_case gpu-triangle-late 1 120 'stopped after 600 frames; frame 700 never came' -- \
		bmvm $G/triangle.elf --cpus 1 --gpu-renderer "$GPU_PORT" --capture 700 late.png
	# Its submits were fenced and waited for: each was done by the renderer.
	grep -q '600 frames, 0 errors, 600 submits done by the host$' "$CASE_OUT" ||
		fail gpu-triangle-fences "not every fenced submit was done by the host" "$CASE_OUT"
fi
# Bad GPU options: one line, exit 2.
# A renderer on the same host: the arm64 bmvm-render tests/l1/run puts
# beside bmvm (no Vulkan in the emulated host: every 3D submit is a host
# error record, so plasma fails, exit 1). What is checked is the way there:
# RAM is a memfd the renderer maps, and plasma's blob-backed quad reaches
# it as places in RAM, every frame, with nothing copied.
if [ -x /bin/bmvm-render ]; then
	run_case gpu-shared-ram 1 120 \
		'GPU: [1-9][0-9]* bytes of blob memory read in place by the renderer, 0 copied' -- \
		bmvm $G/plasma.elf --headless --cpus 1 -v
	! grep -q 'renderer lost' "$CASE_OUT" ||
		fail gpu-shared-ram-link "the renderer dropped the link" "$CASE_OUT"
else
	fail gpu-shared-ram "no arm64 bmvm-render beside /bin/bmvm"
fi
run_case gpu-bad-resolution 2 30 'not a display size' -- bmvm $G/hello.elf --resolution 99999x1
run_case gpu-no-gpu-capture 2 30 'no-gpu' -- bmvm $G/hello.elf --no-gpu --capture 1 x.png
run_case gpu-bad-renderer 2 30 'cannot open' -- bmvm $G/hello.elf --gpu-renderer /nonexistent
run_case gpu-bad-capture 2 30 'frame numbers' -- bmvm $G/hello.elf --capture 5,2 x
