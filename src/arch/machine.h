/* SPDX-License-Identifier: MIT */
#ifndef BMVM_ARCH_MACHINE_H
#define BMVM_ARCH_MACHINE_H

/*
 * The machine, as the VMM layer above sees it: whatever the architecture,
 * it lays out RAM and devices, writes the firmware tables (a device tree on
 * arm64), loads the boot images, and runs vCPUs one exit at a time. It never
 * includes the VMM's headers: what it must tell the layer above goes through
 * the struct machine_events it is handed, or comes back as a return value.
 *
 * One implementation per architecture (src/arch/arm64/ today).
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/loader.h"
#include "virtio/devices.h"

struct accel;
struct accel_config;
struct accel_vcpu;
struct bus;
struct chardev;
struct device;
struct gpu_display;
struct guest_mem;
struct machine;
struct machine_vcpu;

/* How the machine reaches the layer above. Any thread may call these. */
struct machine_events {
	void (*exit)(void *opaque, int status);	/* the test device ends the run */
	void (*console_room)(void *opaque);	/* the serial port takes input again */
	unsigned (*resets)(void *opaque);	/* guest resets so far */
	void *opaque;
};

/* Everything the machine is built from; it keeps a copy. */
struct machine_params {
	const char *kernel_path;	/* NULL only to write the device tree */
	enum kernel_format format;
	const char *initrd_path;	/* or NULL */
	const char *cmdline;
	unsigned nr_cpus;
	uint64_t ram_bytes;
	bool shared_ram;		/* RAM another process can map (guest_mem_init_shared) */
	bool verbose;			/* log power events and emulated accesses */
	const struct vdev_spec *vdev;	/* the virtio devices, in command-line order */
	unsigned nr_vdevs;
	struct guest_mem *mem;		/* filled in by machine_create() */
	struct bus *bus;		/* where devices claim their windows */
	struct chardev *serial;		/* the serial port's backend */
	struct gpu_display *display;	/* where virtio-gpu's picture goes; NULL: nowhere */
	struct machine_events events;
};

/* Reserve RAM and create the devices. On failure, machine_destroy() what is there. */
int machine_create(struct machine **machine, const struct machine_params *params,
		   struct errbuf *err);
void machine_destroy(struct machine *m);

/* Open and check the boot images, place them, write the firmware tables. */
int machine_prepare_boot(struct machine *m, struct errbuf *err);

/* Write the device tree to @path. */
int machine_dump_dtb(const struct machine *m, const char *path, struct errbuf *err);

/* What the accelerator must provide for this machine (points into @m). */
void machine_accel_config(struct machine *m, struct accel_config *config);

/* The accelerator exists: wire interrupts and give devices its fast paths. */
void machine_attach_accel(struct machine *m, struct accel *accel);

/* After machine_prepare_boot(): zero RAM, load images and tables, reset devices. */
int machine_load(struct machine *m, struct errbuf *err);

/*
 * A guest reset, while no vCPU runs: read the images again (a kernel rebuilt
 * in place boots now), load them and reset the interrupt controller.
 */
int machine_reset(struct machine *m, struct errbuf *err);

/*
 * Any thread: press the guest's power button, if the guest listens to it.
 * 0, -ENOTCONN when nobody listens, -EBUSY while a press is in progress.
 */
int machine_power_button(struct machine *m);

/* Any thread: release vCPUs that wait to be powered on (a stop or reset is pending). */
void machine_kick(struct machine *m);

/* Feed console input to the serial port; returns the number of bytes taken. */
size_t machine_console_input(struct machine *m, const uint8_t *buf, size_t len);

/* The devices, in device-tree order, and the @index-th virtio device of @kind (or NULL). */
unsigned machine_nr_devices(const struct machine *m);
struct device *machine_device(const struct machine *m, unsigned i);
struct device *machine_find_vdev(const struct machine *m, enum vdev_kind kind, unsigned index);

/* Which service answers the guest's PSCI calls: "vmm" (bmvm) or "kernel" (KVM). */
const char *machine_psci_provider(const struct machine *m);

/* ---- vCPUs -------------------------------------------------------------- */

/* Why vCPUs left the guest, counted per vCPU for /metrics. */
enum machine_exit_stat {
	MACHINE_STAT_MMIO,		/* a device access (decoded by the hardware) */
	MACHINE_STAT_MMIO_EMULATED,	/* a device access bmvm decoded (ISV=0) */
	MACHINE_STAT_TRAP,		/* a raw trap: HVC/PSCI, sysreg, WFI */
	MACHINE_STAT_KICK,		/* a request or signal interrupted the run */
	MACHINE_STAT_POWER,		/* PSCI power events handled by the accelerator */
	MACHINE_STAT_OTHER,
	MACHINE_STAT_NR,
};

/* What one machine_vcpu_run() asks of the layer above. */
enum machine_run_event {
	MACHINE_RUN_ON,		/* nothing: run again (after looking at pending requests) */
	MACHINE_POWER_OFF,	/* the guest powered the machine off */
	MACHINE_RESET,		/* the guest asked for a system reset */
	MACHINE_FAULT,		/* the vCPU cannot go on (reported on stderr) */
};

/*
 * On the vCPU's own thread, which then owns it: create vCPU @index, counting
 * its exits in @exits (MACHINE_STAT_NR counters, read by other threads).
 */
int machine_vcpu_create(struct machine *m, unsigned index, _Atomic uint64_t *exits,
			struct machine_vcpu **vcpu, struct errbuf *err);
void machine_vcpu_destroy(struct machine_vcpu *v);

/* The accelerator's vCPU, for kicks from other threads. */
struct accel_vcpu *machine_vcpu_accel(struct machine_vcpu *v);

/* Architectural reset, then the boot state (the boot CPU at the kernel's entry). */
int machine_vcpu_reset(struct machine_vcpu *v);

/*
 * Run until the next exit and handle it. A powered-off vCPU first waits for
 * the guest to power it on, or for machine_kick(). Returns what the layer
 * above must do; errors are reported on stderr and come back as FAULT.
 */
enum machine_run_event machine_vcpu_run(struct machine_vcpu *v);

/*
 * Around a pause: the guest's clock stands still meanwhile (as QEMU does on
 * stop/cont), so its timers neither fire in a burst nor see time jump.
 */
void machine_vcpu_clock_hold(struct machine_vcpu *v);
void machine_vcpu_clock_release(struct machine_vcpu *v);

/* A hung guest stopped from outside: say where this vCPU was, and why it may wait. */
void machine_vcpu_report(struct machine_vcpu *v);

#endif
