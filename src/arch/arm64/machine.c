/* SPDX-License-Identifier: MIT */
#include "arch/arm64/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/vm.h"
#include "core/vm_gpu.h"
#include "hw/pl011.h"
#include "hw/pl061.h"
#include "hw/testdev.h"
#include "virtio/devices.h"

#define SZ_64K	0x10000ULL
#define SZ_2M	0x200000ULL

static uint64_t align_down(uint64_t v, uint64_t a)
{
	return v & ~(a - 1);
}

uint64_t arm64_cpu_mpidr(unsigned index)
{
	/* KVM's layout: 16 CPUs per cluster, as the GICv3 redistributors expect. */
	return (uint64_t)(index % 16) | ((uint64_t)(index / 16) << 8);
}

/* ---- boot images ------------------------------------------------------ */

/* Open @path and, if @data is given, map it read-only for the parser. */
static int open_image(const char *what, const char *path, int *fd, const uint8_t **data,
		      size_t *size, struct errbuf *err)
{
	struct stat st;
	void *p = NULL;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return err_set(err, errno, "cannot open %s '%s': %s", what, path, strerror(errno));
	if (fstat(*fd, &st) || !S_ISREG(st.st_mode)) {
		close(*fd);
		*fd = -1;
		return err_set(err, EINVAL, "%s '%s' is not a regular file", what, path);
	}
	if (data && st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, *fd, 0);
		if (p == MAP_FAILED) {
			int e = errno;

			close(*fd);
			*fd = -1;
			return err_set(err, e, "cannot map %s '%s': %s", what, path, strerror(e));
		}
	}
	if (data)
		*data = p;
	*size = (size_t)st.st_size;
	return 0;
}

static int plan_kernel(struct vm *vm, struct errbuf *err)
{
	struct machine *m = vm->machine;
	const uint8_t *data = NULL;
	size_t size = 0;
	struct errbuf why;
	int ret;

	ret = open_image("kernel", vm->config->kernel_path, &m->kernel_fd, &data, &size, err);
	if (ret)
		return ret;
	ret = loader_plan_kernel(data, size, vm->config->format, vm->mem.base, vm->mem.size,
				 &m->kernel, &why);
	if (size)
		munmap((void *)data, size);
	if (ret)
		return err_set(err, -ret, "kernel '%s': %s", vm->config->kernel_path, why.msg);
	return 0;
}

/*
 * The DTB goes at the start of the last 2 MiB block of RAM (booting.rst: the
 * kernel maps it with 2 MiB blocks), the initrd right below it.
 */
static int plan_initrd(struct vm *vm, struct errbuf *err)
{
	struct machine *m = vm->machine;
	uint64_t ram_end = vm->mem.base + vm->mem.size, gpa;
	size_t size = 0;
	struct errbuf why;
	int ret;

	m->fdt_gpa = align_down(ram_end - ARM64_FDT_MAX_SIZE, SZ_2M);
	if (!vm->config->initrd_path)
		goto check_kernel;
	/* Only its size matters here: the initrd is opaque to bmvm. */
	ret = open_image("initrd", vm->config->initrd_path, &m->initrd_fd, NULL, &size, err);
	if (ret)
		return ret;
	gpa = size < m->fdt_gpa - vm->mem.base ? align_down(m->fdt_gpa - size, SZ_64K) : 0;
	if (!gpa || gpa < m->kernel.end)
		return err_set(err, ENOMEM, "kernel (%llu MiB) and initrd (%llu MiB) do not fit "
			       "in %llu MiB of RAM; use a larger --ram",
			       (unsigned long long)((m->kernel.end - vm->mem.base) >> 20),
			       (unsigned long long)(size >> 20),
			       (unsigned long long)vm->config->ram_mib);
	ret = loader_plan_blob(size, gpa, vm->mem.base, vm->mem.size, &m->initrd, &why);
	if (ret)
		return err_set(err, -ret, "initrd '%s': %s", vm->config->initrd_path, why.msg);
check_kernel:
	if (vm->config->kernel_path && m->kernel.end > m->fdt_gpa)
		return err_set(err, ENOMEM, "kernel ends at 0x%llx, over the device tree at "
			       "0x%llx; use a larger --ram",
			       (unsigned long long)m->kernel.end, (unsigned long long)m->fdt_gpa);
	return 0;
}

/* ---- devices ---------------------------------------------------------- */

static void vm_irq_set(void *opaque, unsigned intid, bool level)
{
	struct vm *vm = opaque;

	if (vm->accel)
		accel_irq_set(vm->accel, intid, level);
}

static void console_rx_space(void *opaque)
{
	vm_wake(opaque);
}

static void testdev_exit(void *opaque, int status)
{
	vm_request_stop(opaque, status);
}

static unsigned testdev_resets(void *opaque)
{
	struct vm *vm = opaque;
	unsigned n;

	pthread_mutex_lock(&vm->lock);
	n = vm->resets;
	pthread_mutex_unlock(&vm->lock);
	return n;
}

static void console_tx(void *opaque, uint8_t c)
{
	struct vm *vm = opaque;

	chardev_write(&vm->serial, &c, 1);
}

static int create_pl011(struct vm *vm, const struct device_slot *slot, struct device **dev,
			struct errbuf *err)
{
	struct pl011_io io = { console_tx, console_rx_space, vm };
	int ret = pl011_create(slot, &io, dev, err);

	if (!ret)
		vm->machine->console = *dev;
	return ret;
}

_Static_assert(PL061_PHANDLE != ARM64_PHANDLE_GIC && PL061_PHANDLE != ARM64_PHANDLE_APB_CLOCK,
	       "the PL061's fixed phandle collides with the machine's");

static int create_pl061(struct vm *vm, const struct device_slot *slot, struct device **dev,
			struct errbuf *err)
{
	int ret = pl061_create(slot, dev, err);

	if (!ret)
		vm->machine->gpio = *dev;
	return ret;
}

static int create_testdev(struct vm *vm, const struct device_slot *slot, struct device **dev,
			  struct errbuf *err)
{
	struct testdev_ops ops = { testdev_exit, testdev_resets, vm };

	return testdev_create(slot, &ops, dev, err);
}

/* The machine's devices: one line each, in device-tree order. */
static const struct machine_device {
	uint64_t base, size;
	unsigned spi;
	int (*create)(struct vm *vm, const struct device_slot *slot, struct device **dev,
		      struct errbuf *err);
} machine_devices[] = {
	{ ARM64_PL011_BASE,   0x1000, ARM64_PL011_SPI, create_pl011 },
	{ ARM64_PL061_BASE,   0x1000, ARM64_PL061_SPI, create_pl061 },
	{ ARM64_TESTDEV_BASE, 0x1000, 0,               create_testdev },
};

/*
 * The virtio devices: one line each. The first device of a kind with a
 * home slot sits there (DESIGN.md: 0 9p, 1 keyboard, 2 tablet, 3 GPU);
 * everything else takes the next free slot from 4, in command-line order,
 * so the first --disk is the guest's first disk.
 */
static const struct virtio_kind {
	virtio_create_fn *create;
	int home_slot;		/* -1: none */
} virtio_kinds[VDEV_NR_KINDS] = {
	[VDEV_9P]	= { virtio_9p_create,		0 },
	[VDEV_KEYBOARD]	= { virtio_keyboard_create,	1 },
	[VDEV_TABLET]	= { virtio_tablet_create,	2 },
	[VDEV_BLK]	= { virtio_blk_create,		-1 },
	[VDEV_NET]	= { virtio_net_create,		-1 },
	[VDEV_CONSOLE]	= { virtio_console_create,	-1 },
	[VDEV_RNG]	= { virtio_rng_create,		-1 },
	[VDEV_BALLOON]	= { virtio_balloon_create,	-1 },
	[VDEV_GPU]	= { virtio_gpu_create,		ARM64_VIRTIO_SLOT_GPU },
};

static struct device_slot machine_slot(struct vm *vm, uint64_t base, uint64_t size,
				       unsigned spi)
{
	return (struct device_slot){
		.bus = &vm->bus, .mem = &vm->mem, .base = base, .size = size,
		.irq = { .set = vm_irq_set, .opaque = vm, .intid = 32 + spi },
	};
}

static int add_device(struct machine *m, struct device *dev, struct errbuf *err)
{
	if (m->nr_devices == ARM64_MAX_DEVICES) {
		dev->ops->destroy(dev);
		return err_set(err, ENOSPC, "more than %d devices", ARM64_MAX_DEVICES);
	}
	m->device[m->nr_devices++] = dev;
	return 0;
}

static int virtio_slot_take(bool used[ARM64_VIRTIO_SLOTS], int home)
{
	if (home >= 0 && !used[home])
		return home;
	for (int n = ARM64_VIRTIO_FIRST_FREE_SLOT; n < ARM64_VIRTIO_SLOTS; n++)
		if (!used[n])
			return n;
	return -1;
}

static int create_virtio_devices(struct vm *vm, struct errbuf *err)
{
	const struct vm_config *c = vm->config;
	bool used[ARM64_VIRTIO_SLOTS] = { false };
	unsigned count[VDEV_NR_KINDS] = { 0 };

	for (unsigned i = 0; i < c->nr_vdevs; i++) {
		const struct virtio_kind *k = &virtio_kinds[c->vdev[i].kind];
		struct virtio_env env = { .index = count[c->vdev[i].kind]++,
					  .verbose = c->verbose, .display = vm_gpu_display(vm) };
		int n = virtio_slot_take(used, k->home_slot);
		struct device_slot slot;
		struct device *dev;
		int ret;

		if (n < 0)
			return err_set(err, ENOSPC, "more than %d virtio devices", ARM64_VIRTIO_SLOTS);
		used[n] = true;
		slot = machine_slot(vm, ARM64_VIRTIO_BASE + (uint64_t)n * ARM64_VIRTIO_SIZE,
				    ARM64_VIRTIO_SIZE, ARM64_VIRTIO_SPI + (unsigned)n);
		ret = k->create(&slot, &env, c->vdev[i].arg, &dev, err);
		if (ret)
			return ret;
		if (c->vdev[i].kind == VDEV_KEYBOARD)
			vm->machine->keyboard = dev;
		else if (c->vdev[i].kind == VDEV_TABLET)
			vm->machine->tablet = dev;
		else if (c->vdev[i].kind == VDEV_GPU)
			vm->machine->gpu = dev;
		ret = add_device(vm->machine, dev, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int create_devices(struct vm *vm, struct errbuf *err)
{
	for (size_t i = 0; i < sizeof(machine_devices) / sizeof(machine_devices[0]); i++) {
		const struct machine_device *d = &machine_devices[i];
		struct device_slot slot = machine_slot(vm, d->base, d->size, d->spi);
		struct device *dev;
		int ret;

		ret = d->create(vm, &slot, &dev, err);
		if (!ret)
			ret = add_device(vm->machine, dev, err);
		if (ret)
			return ret;
	}
	return create_virtio_devices(vm, err);
}

/* ---- device tree ------------------------------------------------------ */

static int fdt_cpus(void *fdt, unsigned nr_cpus)
{
	char name[24];
	int ret = 0;

	ret |= fdt_begin_node(fdt, "cpus");
	ret |= fdt_property_u32(fdt, "#address-cells", 1);
	ret |= fdt_property_u32(fdt, "#size-cells", 0);
	for (unsigned i = 0; i < nr_cpus; i++) {
		snprintf(name, sizeof(name), "cpu@%llx", (unsigned long long)arm64_cpu_mpidr(i));
		ret |= fdt_begin_node(fdt, name);
		ret |= fdt_property_string(fdt, "device_type", "cpu");
		ret |= fdt_property_string(fdt, "compatible", "arm,arm-v8");
		ret |= fdt_property_string(fdt, "enable-method", "psci");
		ret |= fdt_property_u32(fdt, "reg", (uint32_t)arm64_cpu_mpidr(i));
		ret |= fdt_end_node(fdt);
	}
	ret |= fdt_end_node(fdt);
	return ret;
}

static int fdt_gic(void *fdt, unsigned nr_cpus)
{
	fdt64_t reg[4] = {
		cpu_to_fdt64(ARM64_GIC_DIST_BASE), cpu_to_fdt64(ARM64_GIC_DIST_SIZE),
		cpu_to_fdt64(ARM64_GIC_REDIST_BASE),
		cpu_to_fdt64(ARM64_GIC_REDIST_SIZE * nr_cpus),
	};
	int ret = 0;

	ret |= fdt_begin_node(fdt, "intc@8000000");
	ret |= fdt_property_string(fdt, "compatible", "arm,gic-v3");
	ret |= fdt_property(fdt, "interrupt-controller", NULL, 0);
	ret |= fdt_property_u32(fdt, "#interrupt-cells", 3);
	ret |= fdt_property_u32(fdt, "#address-cells", 2);
	ret |= fdt_property_u32(fdt, "#size-cells", 2);
	ret |= fdt_property(fdt, "ranges", NULL, 0);
	ret |= fdt_property_u32(fdt, "#redistributor-regions", 1);
	ret |= fdt_property(fdt, "reg", reg, sizeof(reg));
	ret |= fdt_property_u32(fdt, "phandle", ARM64_PHANDLE_GIC);
	ret |= fdt_end_node(fdt);
	return ret;
}

static int fdt_timer_psci_clock(void *fdt)
{
	/* Secure, non-secure physical, virtual, hypervisor PPIs; level-high. */
	static const uint32_t timer_ppis[4] = { 13, 14, 11, 10 };
	fdt32_t timer_irqs[12];
	static const char psci_compat[] = "arm,psci-1.0\0arm,psci-0.2";
	int ret = 0;

	for (unsigned i = 0; i < 4; i++) {
		timer_irqs[3 * i] = cpu_to_fdt32(1);	/* PPI */
		timer_irqs[3 * i + 1] = cpu_to_fdt32(timer_ppis[i]);
		timer_irqs[3 * i + 2] = cpu_to_fdt32(4);
	}
	ret |= fdt_begin_node(fdt, "timer");
	ret |= fdt_property_string(fdt, "compatible", "arm,armv8-timer");
	ret |= fdt_property(fdt, "interrupts", timer_irqs, sizeof(timer_irqs));
	ret |= fdt_property(fdt, "always-on", NULL, 0);
	ret |= fdt_end_node(fdt);

	ret |= fdt_begin_node(fdt, "psci");
	ret |= fdt_property(fdt, "compatible", psci_compat, sizeof(psci_compat));
	ret |= fdt_property_string(fdt, "method", "hvc");
	ret |= fdt_end_node(fdt);

	ret |= fdt_begin_node(fdt, "apb-pclk");
	ret |= fdt_property_string(fdt, "compatible", "fixed-clock");
	ret |= fdt_property_u32(fdt, "#clock-cells", 0);
	ret |= fdt_property_u32(fdt, "clock-frequency", 24000000);
	ret |= fdt_property_string(fdt, "clock-output-names", "clk24mhz");
	ret |= fdt_property_u32(fdt, "phandle", ARM64_PHANDLE_APB_CLOCK);
	ret |= fdt_end_node(fdt);
	return ret;
}

static int fdt_chosen(void *fdt, const struct vm *vm)
{
	const struct machine *m = vm->machine;
	uint8_t seed[40];
	char console[32];
	int ret = 0;

	snprintf(console, sizeof(console), "/pl011@%llx", ARM64_PL011_BASE);
	ret |= fdt_begin_node(fdt, "aliases");
	ret |= fdt_property_string(fdt, "serial0", console);
	ret |= fdt_end_node(fdt);

	/* Fresh at every boot: entropy before any driver has some, and KASLR. */
	if (getentropy(seed, sizeof(seed)))
		return -1;
	ret |= fdt_begin_node(fdt, "chosen");
	ret |= fdt_property_string(fdt, "bootargs", vm->config->cmdline);
	ret |= fdt_property(fdt, "rng-seed", seed, 32);
	ret |= fdt_property(fdt, "kaslr-seed", seed + 32, 8);
	ret |= fdt_property_string(fdt, "stdout-path", console);
	if (vm->config->initrd_path) {
		ret |= fdt_property_u64(fdt, "linux,initrd-start", m->initrd.start);
		ret |= fdt_property_u64(fdt, "linux,initrd-end", m->initrd.end);
	}
	ret |= fdt_end_node(fdt);
	return ret;
}

static int fdt_build(struct vm *vm, struct errbuf *err)
{
	struct machine *m = vm->machine;
	struct fdt_env env = { .apb_clock_phandle = ARM64_PHANDLE_APB_CLOCK };
	void *fdt = m->fdt;
	int ret = 0;

	ret |= fdt_create(fdt, sizeof(m->fdt));
	ret |= fdt_finish_reservemap(fdt);
	ret |= fdt_begin_node(fdt, "");
	ret |= fdt_property_string(fdt, "compatible", "linux,dummy-virt");
	ret |= fdt_property_string(fdt, "model", "bmvm arm64 virt");
	ret |= fdt_property_u32(fdt, "#address-cells", 2);
	ret |= fdt_property_u32(fdt, "#size-cells", 2);
	ret |= fdt_property_u32(fdt, "interrupt-parent", ARM64_PHANDLE_GIC);

	ret |= fdt_begin_node(fdt, "memory@40000000");
	ret |= fdt_property_string(fdt, "device_type", "memory");
	ret |= fdt_prop_reg(fdt, vm->mem.base, vm->mem.size);
	ret |= fdt_end_node(fdt);

	ret |= fdt_cpus(fdt, vm->config->nr_cpus);
	ret |= fdt_gic(fdt, vm->config->nr_cpus);
	ret |= fdt_timer_psci_clock(fdt);
	for (unsigned i = 0; i < m->nr_devices && !ret; i++)
		ret |= m->device[i]->ops->fdt_node(m->device[i], fdt, &env);
	ret |= fdt_chosen(fdt, vm);
	ret |= fdt_end_node(fdt);
	ret |= fdt_finish(fdt);
	if (ret)
		return err_set(err, ENOSPC, "device tree exceeds %llu KiB (command line too long?)",
			       ARM64_FDT_MAX_SIZE >> 10);
	m->fdt_size = fdt_totalsize(fdt);
	return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

/*
 * A renderer on this host reads blob memory where it is: RAM it can map.
 * BMVM_RAM_SHARED=1 in the environment asks for such RAM anyway (a test
 * hook: the emulated-host suite runs KVM on it without a local renderer).
 */
static int ram_init(struct vm *vm)
{
	uint64_t size = vm->config->ram_mib << 20;
	const char *hook = getenv("BMVM_RAM_SHARED");

	if ((vm_gpu_wants_shared_ram(vm) || (hook && !strcmp(hook, "1"))) &&
	    !guest_mem_init_shared(&vm->mem, ARM64_RAM_BASE, size))
		return 0;
	return guest_mem_init(&vm->mem, ARM64_RAM_BASE, size);
}

int machine_create(struct vm *vm, struct errbuf *err)
{
	struct machine *m = calloc(1, sizeof(*m));
	int ret;

	if (!m)
		return err_set(err, ENOMEM, "out of memory");
	m->kernel_fd = m->initrd_fd = -1;
	vm->machine = m;
	ret = ram_init(vm);
	if (ret)
		return err_set(err, -ret, "cannot reserve %llu MiB for guest RAM: %s",
			       (unsigned long long)vm->config->ram_mib, strerror(-ret));
	ret = psci_cpus_init(&m->psci, vm->config->nr_cpus, arm64_cpu_mpidr, vm->mem.base,
			     vm->mem.size, err);
	if (ret)
		return ret;
	m->psci_ready = true;
	return create_devices(vm, err);
}

static void close_images(struct machine *m)
{
	if (m->kernel_fd >= 0)
		close(m->kernel_fd);
	if (m->initrd_fd >= 0)
		close(m->initrd_fd);
	m->kernel_fd = m->initrd_fd = -1;
}

/*
 * Open and check the boot images and write the device tree that describes
 * them. Runs at start-up and at every guest reset, so a kernel rebuilt in
 * place boots on the guest's next reboot.
 */
int machine_prepare_boot(struct vm *vm, struct errbuf *err)
{
	int ret = 0;

	close_images(vm->machine);
	if (vm->config->kernel_path)
		ret = plan_kernel(vm, err);
	if (!ret)
		ret = plan_initrd(vm, err);
	if (!ret)
		ret = fdt_build(vm, err);
	return ret;
}

void machine_destroy(struct vm *vm)
{
	struct machine *m = vm->machine;

	if (!m)
		return;
	for (unsigned i = 0; i < m->nr_devices; i++)
		m->device[i]->ops->destroy(m->device[i]);
	if (m->psci_ready)
		psci_cpus_destroy(&m->psci);
	close_images(m);
	free(m);
	vm->machine = NULL;
	guest_mem_destroy(&vm->mem);
}

int machine_dump_dtb(struct vm *vm, const char *path, struct errbuf *err)
{
	const struct machine *m = vm->machine;
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return err_set(err, errno, "cannot create '%s': %s", path, strerror(errno));
	ok = fwrite(m->fdt, 1, m->fdt_size, f) == m->fdt_size;
	if (fclose(f) || !ok)
		return err_set(err, EIO, "cannot write '%s'", path);
	return 0;
}

void machine_accel_config(const struct vm *vm, struct accel_config *config)
{
	*config = (struct accel_config){
		.nr_cpus = vm->config->nr_cpus,
		.ipa_limit = vm->mem.base + vm->mem.size,
		.gic_dist_base = ARM64_GIC_DIST_BASE,
		.gic_redist_base = ARM64_GIC_REDIST_BASE,
		.gic_nr_irqs = ARM64_GIC_NR_IRQS,
		.cpu_mpidr = arm64_cpu_mpidr,
	};
}

int machine_load(struct vm *vm, struct errbuf *err)
{
	struct machine *m = vm->machine;
	int ret;

	guest_mem_clear(&vm->mem, vm->mem.base, vm->mem.size);
	ret = loader_apply(&vm->mem, m->kernel_fd, &m->kernel, err);
	if (!ret && vm->config->initrd_path)
		ret = loader_apply(&vm->mem, m->initrd_fd, &m->initrd, err);
	close_images(m);
	if (ret)
		return ret;
	guest_mem_write(&vm->mem, m->fdt_gpa, m->fdt, m->fdt_size);
	for (unsigned i = 0; i < m->nr_devices; i++)
		m->device[i]->ops->reset(m->device[i]);
	psci_cpus_reset(&m->psci);
	return 0;
}

int machine_power_button(struct vm *vm)
{
	struct device *gpio = vm->machine->gpio;

	if (!pl061_line_armed(gpio, PL061_LINE_POWER))
		return -ENOTCONN;
	return pl061_pulse(gpio, PL061_LINE_POWER);
}

static int bind_ioeventfd(void *opaque, uint64_t addr, uint32_t datamatch, int fd)
{
	return accel_ioeventfd(opaque, addr, datamatch, fd);
}

static int bind_irqfd(void *opaque, unsigned intid, int fd)
{
	return accel_irqfd(opaque, intid, fd);
}

void machine_bind_devices(struct vm *vm)
{
	struct device_binder binder = { bind_ioeventfd, bind_irqfd, vm->accel };
	struct machine *m = vm->machine;

	for (unsigned i = 0; i < m->nr_devices; i++)
		if (m->device[i]->ops->bind)
			m->device[i]->ops->bind(m->device[i], &binder);
}

int machine_input(struct vm *vm, bool tablet, const struct virtio_input_event *ev, size_t n)
{
	struct device *dev = tablet ? vm->machine->tablet : vm->machine->keyboard;

	return dev ? virtio_input_inject(dev, ev, n) : -ENODEV;
}

int machine_gpu_report(struct vm *vm, uint32_t ctx, const struct bmgpu_error *err)
{
	return vm->machine->gpu ? virtio_gpu_report(vm->machine->gpu, ctx, err) : -ENODEV;
}

void machine_gpu_submit_done(struct vm *vm, uint32_t ctx, uint32_t submit)
{
	if (vm->machine->gpu)
		virtio_gpu_submit_done(vm->machine->gpu, ctx, submit);
}

void machine_gpu_lost(struct vm *vm)
{
	if (vm->machine->gpu)
		virtio_gpu_renderer_lost(vm->machine->gpu);
}

int machine_gpu_mode(struct vm *vm, uint32_t *width, uint32_t *height)
{
	if (!vm->machine->gpu)
		return -ENODEV;
	virtio_gpu_mode(vm->machine->gpu, width, height);
	return 0;
}

void machine_kick(struct vm *vm)
{
	if (vm->machine && vm->machine->psci_ready)
		psci_cpus_stop(&vm->machine->psci);
}

size_t machine_console_input(struct vm *vm, const uint8_t *buf, size_t len)
{
	return pl011_receive(vm->machine->console, buf, len);
}
