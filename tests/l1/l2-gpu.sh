#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs inside the L2 Debian guest (generic kernel, its own virtio_gpu module)
# that bmvm boots with its virtio-gpu (2D path): the stock driver must bring
# up a DRM device with bmvm's EDID mode and fbcon on it. Then it keeps
# writing text to the console so that bmvm's --capture has frames showing it.
ok() { echo "L2 OK $1"; }
bad() { echo "L2 FAIL $1: $2"; }

# bmvm.drm=N: instead, draw N frames of the triangle with drm-triangle,
# a Linux program using the stock driver's 3D uAPI (CONTEXT_INIT, EXECBUFFER).
frames=$(sed -n 's/.*bmvm.drm=\([0-9]*\).*/\1/p' /proc/cmdline)
if [ -n "$frames" ]; then
	drm-triangle "$frames" && ok gpu-drm-triangle || bad gpu-drm-triangle "exit $?"
	exit 0
fi

want=$(sed -n 's/.*bmvm.mode=\([0-9x]*\).*/\1/p' /proc/cmdline)
conn=$(ls -d /sys/class/drm/card0-*-1 2>/dev/null | head -n1)
if [ -n "$conn" ]; then
	ok gpu-drm
	[ "$(cat "$conn/status")" = connected ] && ok gpu-connected || bad gpu-connected "$(cat "$conn/status")"
	# The EDID's preferred mode comes first.
	mode=$(head -n1 "$conn/modes")
	[ "$mode" = "$want" ] && ok gpu-mode || bad gpu-mode "first mode $mode, want $want"
	[ "$(wc -c <"$conn/edid")" -ge 128 ] && ok gpu-edid || bad gpu-edid "$(wc -c <"$conn/edid") bytes"
else
	bad gpu-drm "no DRM connector"
fi
[ -c /dev/fb0 ] && ok gpu-fbdev || bad gpu-fbdev "no /dev/fb0"
grep -q "virtio_gpudrmfb\|virtiodrmfb" /proc/fb && ok gpu-fbcon || bad gpu-fbcon "$(cat /proc/fb)"
echo "L2 STEP gpu-ready"
i=0
while [ $i -lt 3000 ]; do
	echo "BMVM FBCON TEST LINE $i: the quick brown fox jumps over the lazy dog" >/dev/tty0
	i=$((i + 1))
done
echo "L2 STEP gpu-text-done"
sleep 30
