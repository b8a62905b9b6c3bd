/* SPDX-License-Identifier: MIT */
/*
 * The device table: one line per virtio device. vmm/config.c makes its
 * command-line options and --help from it; the machine places and creates
 * the devices from it. Home slots keep the reference hypervisor's layout
 * (0 9p, 1 keyboard, 2 tablet, 3 GPU); the rest fill slots from 4 in
 * command-line order.
 */
#include "virtio/devices.h"

const struct vdev_type vdev_types[VDEV_NR_KINDS] = {
	[VDEV_9P] = {
		.name = "virtio-9p", .option = "share", .home_slot = 0,
		.create = virtio_9p_create,
		.usage =
"  --share DIR[,tag=NAME][,ro]\n"
"                       share DIR over 9P2000.L (virtio-9p); the guest mounts\n"
"                       it with: mount -t 9p -o trans=virtio NAME /mnt\n"
"                       (default tag: share; share2, share3... for later ones)\n",
	},
	[VDEV_KEYBOARD] = {
		.name = "virtio-keyboard", .off_option = "no-input", .by_default = true,
		.max = 1, .home_slot = 1, .create = virtio_keyboard_create,
		.usage =
"  --no-input           no virtio keyboard and tablet (default: both)\n",
	},
	[VDEV_TABLET] = {
		.name = "virtio-tablet", .off_option = "no-input", .by_default = true,
		.max = 1, .home_slot = 2, .create = virtio_tablet_create,
	},
	[VDEV_BLK] = {
		.name = "virtio-blk", .option = "disk", .home_slot = -1,
		.create = virtio_blk_create,
		.usage =
"  --disk PATH[,ro][,cow][,serial=ID][,aio=sync]\n"
"                       a virtio-blk disk backed by a raw image or block device.\n"
"                       ro: read-only; cow: an instant copy-on-write clone\n"
"                       (FICLONE: btrfs, xfs) discarded at exit, leaving PATH\n"
"                       untouched; serial: the ID the guest reads, up to 20\n"
"                       bytes (default: bmvm-diskN); aio=sync: no io_uring\n",
	},
	[VDEV_NET] = {
		.name = "virtio-net", .option = "net", .home_slot = -1,
		.create = virtio_net_create,
		.usage =
"  --net user[,hostfwd=tcp|udp:[HOSTIP]:PORT-[GUESTIP]:PORT]...[,mac=MAC]\n"
"                       a virtio-net NIC on user-mode NAT (libslirp), as QEMU's\n"
"                       user networking: the guest gets 10.0.2.15 by DHCP;\n"
"                       10.0.2.2 is the host's loopback, 10.0.2.3 a DNS relay.\n"
"                       hostfwd forwards the host's HOSTIP:PORT (default: every\n"
"                       address) to the guest's GUESTIP:PORT (default:\n"
"                       10.0.2.15), e.g. hostfwd=tcp:127.0.0.1:2222-:22\n"
"  --net tap=NAME[,mac=MAC]\n"
"                       a virtio-net NIC on the host's tap interface NAME\n"
"                       (Linux; make one with: ip tuntap add NAME mode tap\n"
"                       user $USER). mac, for either kind: the NIC's address\n"
"                       (default: 52:54:00:XX:XX:NN, XX random per run, NN 56\n"
"                       for the first --net, 57 for the next...)\n",
	},
	[VDEV_CONSOLE] = {
		.name = "virtio-console", .option = "console", .max = 1, .home_slot = -1,
		.create = virtio_console_create,
		.usage =
"  --console BACKEND    a virtio-console (hvc0) on stdio, pty, file=PATH or\n"
"                       socket=PATH, as --serial\n",
	},
	[VDEV_RNG] = {
		.name = "virtio-rng", .off_option = "no-rng", .by_default = true, .max = 1,
		.home_slot = -1, .create = virtio_rng_create,
		.usage =
"  --no-rng             no virtio-rng (default: one, fed by getrandom)\n",
	},
	[VDEV_BALLOON] = {
		.name = "virtio-balloon", .off_option = "no-balloon", .by_default = true,
		.max = 1, .home_slot = -1, .create = virtio_balloon_create,
		.usage =
"  --no-balloon         no virtio-balloon (default: one, with statistics)\n",
	},
	/* Its options (--no-gpu, --resolution, --windowed...) are the display's: config.c. */
	[VDEV_GPU] = {
		.name = "virtio-gpu", .off_option = "no-gpu", .by_default = true, .max = 1,
		.home_slot = 3, .create = virtio_gpu_create,
	},
};
