# SPDX-License-Identifier: MIT
# The GPU benchmark's part (c), run in the emulated host by bench/run-gpu:
# guests/draws under bmvm, its renderer native on the outer machine behind
# the virtio-serial port host.0. The guest times its own fenced frames.
G=/payload/guests
PORT=$(virtio_port host.0)
if [ -z "$PORT" ]; then
	fail gpu-port "no virtio-serial port named host.0 (run through bench/run-gpu)"
else
	# A run that failed, or drew with errors, gives no figure.
	for n in 1 2 3; do
		run_case gpu-draws-$n 0 300 'frames/s' -- \
			bmvm $G/draws.elf --cpus 1 --gpu-renderer "$PORT"
		[ "$CASE_OK" = 1 ] || continue
		if ! grep -q 'draws: first frame sent, 0 errors' "$CASE_OUT"; then
			fail gpu-draws-$n-errors "the status page reported errors" "$CASE_OUT"
			continue
		fi
		metric gpu_draws_guest_fps_$n \
			"$(sed -n 's/.*: \([0-9.]*\) frames\/s$/\1/p' "$CASE_OUT" | tail -n1)" frames/s
	done
fi
