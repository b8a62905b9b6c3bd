# bmvm integration cases, run inside the emulated arm64 KVM host by
# tests/l1/run-integration. Guests live in /payload/guests; each test kernel
# prints "<name>: PASS" and exits through the bmvm test device.
G=/payload/guests
B=/payload/bad

run_case version 0 10 '^bmvm [0-9]' -- bmvm --version
run_case help 0 10 '--timeout SEC' -- bmvm --help

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
# EC 0x25 (data abort, same EL), DFSC 0x10 (synchronous external abort).
# KVM 6.1 sign-extends the syndrome it injects into ESR_EL1's upper half.
grep -qE 'ESR 0x(ffffffff)?96000010 \(EC 0x25\)' "$CASE_OUT" ||
	fail mmio-unemulatable-guest "guest saw no external abort" "$CASE_OUT"

# --- serial backends ---------------------------------------------------------
run_case serial-file 0 30 '' -- bmvm $G/hello.elf --cpus 1 --serial file=/tmp/serial.txt
grep -q 'hello: PASS' /tmp/serial.txt || fail serial-file-content "no guest output in the file" /tmp/serial.txt
grep -q 'hello: PASS' "$CASE_OUT" && fail serial-file-stdout "guest output on stdout too" "$CASE_OUT"
# The pty keeps the guest's output until someone reads it.
run_case serial-pty 0 30 'hang: spinning forever' -- sh -c \
	"bmvm $G/hang.elf --cpus 1 --serial pty --timeout 4 2>/tmp/pty.err &
	 sleep 2; pty=\$(grep -o '/dev/pts/[0-9]*' /tmp/pty.err); timeout 1 cat \$pty; wait; true"

# --- Debian's arm64 Linux as a guest ---------------------------------------
# With 2 vCPUs the guest sometimes hangs in poweroff, both vCPUs idle in
# cpu_do_idle (about 1 run in 10 here; open, see README "Known issues"):
# such a timeout is reported as FLAKE and retried once.
for n in 1 2; do
	run_case_retry linux-$n 0 90 "L2 LINUX UP $n" -- bmvm /payload/Image \
		--initrd /payload/l2-initrd.cpio.gz --cmdline "console=ttyAMA0" --cpus $n --ram 256
	metric linux_${n}cpu_poweroff "$CASE_SECS" s
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
	CASE_RETRY_ON_TIMEOUT=1	# the 2-vCPU poweroff hang, as above
	asan_case asan-linux asan-linux 0 150 'L2 LINUX UP 2' -- $A /payload/Image \
		--initrd /payload/l2-initrd.cpio.gz --cmdline console=ttyAMA0 --cpus 2
	CASE_RETRY_ON_TIMEOUT=
	asan_case asan-bad-truncated asan-bad-truncated 2 60 'truncated' -- $A $B/truncated.elf
	asan_case asan-bad-gzip asan-bad-gzip 2 60 'gunzip' -- $A $B/compressed.gz
	asan_case asan-dump-dtb asan-dump-dtb 0 60 '' -- $A --dump-dtb /tmp/a.dtb
fi
