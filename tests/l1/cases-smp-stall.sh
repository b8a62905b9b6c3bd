# SPDX-License-Identifier: MIT
# Repro for the open 2-vCPU stall (README, Known issues): the same Debian
# guest, virtio devices and workload (tests/l1/l2-virtio.sh up to its
# net-serving step) under QEMU (-accel kvm) and under bmvm, alternating,
# 2 vCPUs each; then bmvm runs with --timeout -v so a stalled run reports
# each vCPU's PC and virtual timer. Needs the QEMU tree on a disk and the
# virtio payload of run-integration:
#   tests/l1/run --bmvm build/arm64-bmvm/bmvm --payload build/l1/payload \
#     --cases tests/l1/cases-smp-stall.sh --disk build/arm64/qemu-tree.ext4 --timeout 1800
# Measured 2026-11-22: QEMU 6 of 6 reached the step, bmvm 4 of 6. A stalled
# bmvm run showed both vCPUs in the idle loop's WFI with their virtual
# timers enabled, unmasked and firing for over 70 s: the timer interrupt
# was never delivered, and neither vCPU woke.
cat >/tmp/waitfor <<'EOS'
#!/bin/sh
i=0
while ! grep -q "$2" "$1" 2>/dev/null && [ $i -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
EOS
chmod +x /tmp/waitfor
cat >/tmp/reach <<'EOS'
#!/bin/sh
m=$1; shift
"$@" >/tmp/reach.out 2>&1 & p=$!
/tmp/waitfor /tmp/reach.out "$m"
kill -KILL $p; wait $p 2>/dev/null
grep -q "$m" /tmp/reach.out && echo REACHED || { tail -n 8 /tmp/reach.out; }
EOS
chmod +x /tmp/reach
Q=$(ls /mnt/vd*/qemu | head -n1)
mkdir -p /tmp/sh; echo "hello from the host" >/tmp/sh/hello.txt
for n in 1 2 3 4 5 6; do
rm -rf /tmp/sh/*; echo "hello from the host" >/tmp/sh/hello.txt; echo r >/tmp/sh/rename-me.txt; echo d >/tmp/sh/delete-me.txt
rm -f /tmp/d1 /tmp/d2 /tmp/d3; truncate -s 64M /tmp/d1; truncate -s 16M /tmp/d2; truncate -s 8M /tmp/d3
run_case qemu-long-$n 0 150 'REACHED' -- /tmp/reach 'L2 STEP net-serving' $Q -M virt,gic-version=3 -accel kvm -cpu host -smp 2 -m 512 -nodefaults -no-user-config -display none -serial stdio -kernel /payload/virtio/Image -initrd /payload/virtio/initrd.cpio.gz -append "console=ttyAMA0 quiet" -global virtio-mmio.force-legacy=false -drive if=none,id=d1,format=raw,file=/tmp/d1 -device virtio-blk-device,drive=d1 -drive if=none,id=d2,format=raw,file=/tmp/d2 -device virtio-blk-device,drive=d2 -drive if=none,id=d3,format=raw,file=/tmp/d3,readonly=on -device virtio-blk-device,drive=d3 -netdev user,id=n0 -device virtio-net-device,netdev=n0 -fsdev local,id=f0,path=/tmp/sh,security_model=none -device virtio-9p-device,fsdev=f0,mount_tag=share -device virtio-rng-device -device virtio-keyboard-device -device virtio-tablet-device -device virtio-balloon-device -chardev pty,id=c0 -device virtio-serial-device -device virtconsole,chardev=c0
rm -rf /tmp/sh/*; echo "hello from the host" >/tmp/sh/hello.txt; echo r >/tmp/sh/rename-me.txt; echo d >/tmp/sh/delete-me.txt
rm -f /tmp/d1 /tmp/d2 /tmp/d3; truncate -s 64M /tmp/d1; truncate -s 16M /tmp/d2; truncate -s 8M /tmp/d3
run_case bmvm-long-$n 0 150 'REACHED' -- /tmp/reach 'L2 STEP net-serving' bmvm /payload/virtio/Image --initrd /payload/virtio/initrd.cpio.gz --cpus 2 --ram 512 --cmdline "console=ttyAMA0 quiet" --disk /tmp/d1 --disk /tmp/d2 --disk /tmp/d3,ro --net user --share /tmp/sh --console pty
done

# The same under bmvm alone, reporting where each vCPU sleeps.
for n in 1 2 3 4 5 6; do
rm -rf /tmp/sh/*; echo "hello from the host" >/tmp/sh/hello.txt; echo r >/tmp/sh/rename-me.txt; echo d >/tmp/sh/delete-me.txt
rm -f /tmp/d1 /tmp/d2 /tmp/d3; truncate -s 64M /tmp/d1; truncate -s 16M /tmp/d2; truncate -s 8M /tmp/d3
run_case stall-diag-$n any 150 'vCPU' -- sh -c 'bmvm /payload/virtio/Image --initrd /payload/virtio/initrd.cpio.gz --cpus 2 --ram 512 --cmdline "console=ttyAMA0 quiet" --disk /tmp/d1 --disk /tmp/d2 --disk /tmp/d3,ro --net user --share /tmp/sh --console pty --timeout 75 -v 2>&1 | grep -E "L2 STEP|vCPU|timer|still running"'
sed 's/^/    /' "$CASE_OUT"
done
