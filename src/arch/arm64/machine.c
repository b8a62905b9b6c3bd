/* SPDX-License-Identifier: MIT */
#include "arch/arm64/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "accel/arm64.h"
#include "core/chardev.h"
#include "core/guest_mem.h"
#include "host/entropy.h"
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

static int plan_kernel(struct machine *m, struct errbuf *err)
{
	const uint8_t *data = NULL;
	size_t size = 0;
	struct errbuf why;
	int ret;

	ret = open_image("kernel", m->params.kernel_path, &m->kernel_fd, &data, &size, err);
	if (ret)
		return ret;
	ret = loader_plan_kernel(data, size, m->params.format, m->mem->base, m->mem->size,
				 &m->kernel, &why);
	if (size)
		munmap((void *)data, size);
	if (ret)
		return err_set(err, -ret, "kernel '%s': %s", m->params.kernel_path, why.msg);
	return 0;
}

/*
 * The DTB goes at the start of the last 2 MiB block of RAM (booting.rst: the
 * kernel maps it with 2 MiB blocks), the initrd right below it.
 */
static int plan_initrd(struct machine *m, struct errbuf *err)
{
	uint64_t ram_end = m->mem->base + m->mem->size, gpa;
	size_t size = 0;
	struct errbuf why;
	int ret;

	m->fdt_gpa = align_down(ram_end - ARM64_FDT_MAX_SIZE, SZ_2M);
	if (!m->params.initrd_path)
		goto check_kernel;
	/* Only its size matters here: the initrd is opaque to bmvm. */
	ret = open_image("initrd", m->params.initrd_path, &m->initrd_fd, NULL, &size, err);
	if (ret)
		return ret;
	gpa = size < m->fdt_gpa - m->mem->base ? align_down(m->fdt_gpa - size, SZ_64K) : 0;
	if (!gpa || gpa < m->kernel.end)
		return err_set(err, ENOMEM, "kernel (%llu MiB) and initrd (%llu MiB) do not fit "
			       "in %llu MiB of RAM; use a larger --ram",
			       (unsigned long long)((m->kernel.end - m->mem->base) >> 20),
			       (unsigned long long)(size >> 20),
			       (unsigned long long)(m->mem->size >> 20));
	ret = loader_plan_blob(size, gpa, m->mem->base, m->mem->size, &m->initrd, &why);
	if (ret)
		return err_set(err, -ret, "initrd '%s': %s", m->params.initrd_path, why.msg);
check_kernel:
	if (m->params.kernel_path && m->kernel.end > m->fdt_gpa)
		return err_set(err, ENOMEM, "kernel ends at 0x%llx, over the device tree at "
			       "0x%llx; use a larger --ram",
			       (unsigned long long)m->kernel.end, (unsigned long long)m->fdt_gpa);
	return 0;
}

/* ---- devices ---------------------------------------------------------- */

static void machine_irq_set(void *opaque, unsigned intid, bool level)
{
	struct machine *m = opaque;

	if (m->accel)
		accel_irq_set(m->accel, intid, level);
}

static void console_rx_space(void *opaque)
{
	struct machine *m = opaque;

	m->params.events.console_room(m->params.events.opaque);
}

static void console_tx(void *opaque, uint8_t c)
{
	struct machine *m = opaque;

	chardev_write(m->params.serial, &c, 1);
}

static void testdev_exit(void *opaque, int status)
{
	struct machine *m = opaque;

	m->params.events.exit(m->params.events.opaque, status);
}

static unsigned testdev_resets(void *opaque)
{
	struct machine *m = opaque;

	return m->params.events.resets(m->params.events.opaque);
}

static int create_pl011(struct machine *m, const struct device_slot *slot,
			struct device **dev, struct errbuf *err)
{
	struct pl011_io io = { console_tx, console_rx_space, m };
	int ret = pl011_create(slot, &io, dev, err);

	if (!ret)
		m->console = *dev;
	return ret;
}

_Static_assert(PL061_PHANDLE != ARM64_PHANDLE_GIC && PL061_PHANDLE != ARM64_PHANDLE_APB_CLOCK,
	       "the PL061's fixed phandle collides with the machine's");

static int create_pl061(struct machine *m, const struct device_slot *slot,
			struct device **dev, struct errbuf *err)
{
	int ret = pl061_create(slot, dev, err);

	if (!ret)
		m->gpio = *dev;
	return ret;
}

static int create_testdev(struct machine *m, const struct device_slot *slot,
			  struct device **dev, struct errbuf *err)
{
	struct testdev_ops ops = { testdev_exit, testdev_resets, m };

	return testdev_create(slot, &ops, dev, err);
}

/* The machine's own devices: one line each, in device-tree order. */
static const struct machine_device {
	uint64_t base, size;
	unsigned spi;
	int (*create)(struct machine *m, const struct device_slot *slot, struct device **dev,
		      struct errbuf *err);
} machine_devices[] = {
	{ ARM64_PL011_BASE,   0x1000, ARM64_PL011_SPI, create_pl011 },
	{ ARM64_PL061_BASE,   0x1000, ARM64_PL061_SPI, create_pl061 },
	{ ARM64_TESTDEV_BASE, 0x1000, 0,               create_testdev },
};

static struct device_slot machine_slot(struct machine *m, uint64_t base, uint64_t size,
				       unsigned spi)
{
	return (struct device_slot){
		.bus = m->bus, .mem = m->mem, .base = base, .size = size,
		.irq = { .set = machine_irq_set, .opaque = m, .intid = 32 + spi },
	};
}

static int add_device(struct machine *m, struct device *dev, enum vdev_kind kind,
		      unsigned index, struct errbuf *err)
{
	if (m->nr_devices == ARM64_MAX_DEVICES) {
		dev->ops->destroy(dev);
		return err_set(err, ENOSPC, "more than %d devices", ARM64_MAX_DEVICES);
	}
	m->vdev_of[m->nr_devices].kind = kind;
	m->vdev_of[m->nr_devices].index = index;
	m->device[m->nr_devices++] = dev;
	return 0;
}

/*
 * The first device of a kind with a home slot sits there (the device table
 * says which: 0 9p, 1 keyboard, 2 tablet, 3 GPU); everything else takes the
 * next free slot from 4, in command-line order, so the first --disk is the
 * guest's first disk.
 */
static int virtio_slot_take(bool used[ARM64_VIRTIO_SLOTS], int home)
{
	if (home >= 0 && home < ARM64_VIRTIO_FIRST_FREE_SLOT && !used[home])
		return home;
	for (int n = ARM64_VIRTIO_FIRST_FREE_SLOT; n < ARM64_VIRTIO_SLOTS; n++)
		if (!used[n])
			return n;
	return -1;
}

static int create_virtio_devices(struct machine *m, struct errbuf *err)
{
	const struct machine_params *p = &m->params;
	bool used[ARM64_VIRTIO_SLOTS] = { false };
	unsigned count[VDEV_NR_KINDS] = { 0 };

	for (unsigned i = 0; i < p->nr_vdevs; i++) {
		enum vdev_kind kind = p->vdev[i].kind;
		const struct vdev_type *type = &vdev_types[kind];
		struct virtio_env env = { .index = count[kind]++, .verbose = p->verbose,
					  .display = p->display };
		int n = virtio_slot_take(used, type->home_slot);
		struct device_slot slot;
		struct device *dev;
		int ret;

		if (n < 0)
			return err_set(err, ENOSPC, "more than %d virtio devices", ARM64_VIRTIO_SLOTS);
		used[n] = true;
		slot = machine_slot(m, ARM64_VIRTIO_BASE + (uint64_t)n * ARM64_VIRTIO_SIZE,
				    ARM64_VIRTIO_SIZE, ARM64_VIRTIO_SPI + (unsigned)n);
		ret = type->create(&slot, &env, p->vdev[i].arg, &dev, err);
		if (!ret)
			ret = add_device(m, dev, kind, env.index, err);
		if (ret)
			return ret;
	}
	return 0;
}

static int create_devices(struct machine *m, struct errbuf *err)
{
	for (size_t i = 0; i < sizeof(machine_devices) / sizeof(machine_devices[0]); i++) {
		const struct machine_device *d = &machine_devices[i];
		struct device_slot slot = machine_slot(m, d->base, d->size, d->spi);
		struct device *dev;
		int ret;

		ret = d->create(m, &slot, &dev, err);
		if (!ret)
			ret = add_device(m, dev, VDEV_NR_KINDS, 0, err);
		if (ret)
			return ret;
	}
	return create_virtio_devices(m, err);
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

static int fdt_chosen(void *fdt, const struct machine *m)
{
	uint8_t seed[40];
	char console[32];
	int ret = 0;

	snprintf(console, sizeof(console), "/pl011@%llx", ARM64_PL011_BASE);
	ret |= fdt_begin_node(fdt, "aliases");
	ret |= fdt_property_string(fdt, "serial0", console);
	ret |= fdt_end_node(fdt);

	/* Fresh at every boot: entropy before any driver has some, and KASLR. */
	if (entropy_fill(seed, sizeof(seed), false))
		return -1;
	ret |= fdt_begin_node(fdt, "chosen");
	ret |= fdt_property_string(fdt, "bootargs", m->params.cmdline);
	ret |= fdt_property(fdt, "rng-seed", seed, 32);
	ret |= fdt_property(fdt, "kaslr-seed", seed + 32, 8);
	ret |= fdt_property_string(fdt, "stdout-path", console);
	if (m->params.initrd_path) {
		ret |= fdt_property_u64(fdt, "linux,initrd-start", m->initrd.start);
		ret |= fdt_property_u64(fdt, "linux,initrd-end", m->initrd.end);
	}
	ret |= fdt_end_node(fdt);
	return ret;
}

static int fdt_build(struct machine *m, struct errbuf *err)
{
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
	ret |= fdt_prop_reg(fdt, m->mem->base, m->mem->size);
	ret |= fdt_end_node(fdt);

	ret |= fdt_cpus(fdt, m->params.nr_cpus);
	ret |= fdt_gic(fdt, m->params.nr_cpus);
	ret |= fdt_timer_psci_clock(fdt);
	for (unsigned i = 0; i < m->nr_devices && !ret; i++)
		ret |= m->device[i]->ops->fdt_node(m->device[i], fdt, &env);
	ret |= fdt_chosen(fdt, m);
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
static int ram_init(struct machine *m)
{
	const char *hook = getenv("BMVM_RAM_SHARED");

	if ((m->params.shared_ram || (hook && !strcmp(hook, "1"))) &&
	    !guest_mem_init_shared(m->mem, ARM64_RAM_BASE, m->params.ram_bytes))
		return 0;
	return guest_mem_init(m->mem, ARM64_RAM_BASE, m->params.ram_bytes);
}

int machine_create(struct machine **machine, const struct machine_params *params,
		   struct errbuf *err)
{
	struct machine *m = calloc(1, sizeof(*m));
	int ret;

	*machine = m;
	if (!m)
		return err_set(err, ENOMEM, "out of memory");
	m->params = *params;
	m->mem = params->mem;
	m->bus = params->bus;
	m->kernel_fd = m->initrd_fd = -1;
	ret = ram_init(m);
	if (ret)
		return err_set(err, -ret, "cannot reserve %llu MiB for guest RAM: %s",
			       (unsigned long long)(params->ram_bytes >> 20), strerror(-ret));
	m->mem_ready = true;
	ret = psci_cpus_init(&m->psci, params->nr_cpus, arm64_cpu_mpidr, m->mem->base,
			     m->mem->size, err);
	if (ret)
		return ret;
	m->psci_ready = true;
	return create_devices(m, err);
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
int machine_prepare_boot(struct machine *m, struct errbuf *err)
{
	int ret = 0;

	close_images(m);
	if (m->params.kernel_path)
		ret = plan_kernel(m, err);
	if (!ret)
		ret = plan_initrd(m, err);
	if (!ret)
		ret = fdt_build(m, err);
	return ret;
}

void machine_destroy(struct machine *m)
{
	if (!m)
		return;
	for (unsigned i = 0; i < m->nr_devices; i++)
		m->device[i]->ops->destroy(m->device[i]);
	if (m->psci_ready)
		psci_cpus_destroy(&m->psci);
	close_images(m);
	if (m->mem_ready)
		guest_mem_destroy(m->mem);
	free(m);
}

int machine_dump_dtb(const struct machine *m, const char *path, struct errbuf *err)
{
	FILE *f = fopen(path, "wb");
	int ok;

	if (!f)
		return err_set(err, errno, "cannot create '%s': %s", path, strerror(errno));
	ok = fwrite(m->fdt, 1, m->fdt_size, f) == m->fdt_size;
	if (fclose(f) || !ok)
		return err_set(err, EIO, "cannot write '%s'", path);
	return 0;
}

/*
 * PSCI goes to bmvm's own implementation (psci.c, the code Hypervisor.framework
 * needs) wherever the accelerator can forward it. BMVM_PSCI=kernel keeps it in
 * KVM (a test and benchmark hook for the path kernels before 6.4 take).
 */
static bool psci_to_vmm_wanted(void)
{
	const char *hook = getenv("BMVM_PSCI");

	return !(hook && !strcmp(hook, "kernel"));
}

void machine_accel_config(struct machine *m, struct accel_config *config)
{
	m->accel_arm64 = (struct accel_arm64_config){
		.gic_dist_base = ARM64_GIC_DIST_BASE,
		.gic_redist_base = ARM64_GIC_REDIST_BASE,
		.gic_nr_irqs = ARM64_GIC_NR_IRQS,
		.psci_to_vmm = psci_to_vmm_wanted(),
		.vendor_calls_base = BMVM_SMCCC_BASE,
		.vendor_calls_count = BMVM_SMCCC_COUNT,
	};
	for (unsigned i = 0; i < m->params.nr_cpus && i < ACCEL_ARM64_MAX_CPUS; i++)
		m->accel_arm64.mpidr[i] = arm64_cpu_mpidr(i);
	*config = (struct accel_config){
		.nr_cpus = m->params.nr_cpus,
		.ipa_limit = m->mem->base + m->mem->size,
		.arm64 = &m->accel_arm64,
	};
}

int machine_load(struct machine *m, struct errbuf *err)
{
	int ret;

	guest_mem_clear(m->mem, m->mem->base, m->mem->size);
	ret = loader_apply(m->mem, m->kernel_fd, &m->kernel, err);
	if (!ret && m->params.initrd_path)
		ret = loader_apply(m->mem, m->initrd_fd, &m->initrd, err);
	close_images(m);
	if (ret)
		return ret;
	guest_mem_write(m->mem, m->fdt_gpa, m->fdt, m->fdt_size);
	for (unsigned i = 0; i < m->nr_devices; i++)
		m->device[i]->ops->reset(m->device[i]);
	psci_cpus_reset(&m->psci);
	return 0;
}

int machine_reset(struct machine *m, struct errbuf *err)
{
	int ret = machine_prepare_boot(m, err);

	if (!ret)
		ret = machine_load(m, err);
	if (!ret)
		ret = accel_irqchip_reset(m->accel, err);
	return ret;
}

int machine_power_button(struct machine *m)
{
	if (!pl061_line_armed(m->gpio, PL061_LINE_POWER))
		return -ENOTCONN;
	return pl061_pulse(m->gpio, PL061_LINE_POWER);
}

static int bind_ioeventfd(void *opaque, uint64_t addr, uint32_t datamatch, int fd)
{
	return accel_ioeventfd(opaque, addr, datamatch, fd);
}

static int bind_irqfd(void *opaque, unsigned intid, int fd)
{
	return accel_irqfd(opaque, intid, fd);
}

void machine_attach_accel(struct machine *m, struct accel *accel)
{
	struct device_binder binder = { bind_ioeventfd, bind_irqfd, accel };

	m->accel = accel;
	for (unsigned i = 0; i < m->nr_devices; i++)
		if (m->device[i]->ops->bind)
			m->device[i]->ops->bind(m->device[i], &binder);
}

const char *machine_psci_provider(const struct machine *m)
{
	return m->accel && accel_psci_in_kernel(m->accel) ? "kernel" : "vmm";
}

unsigned machine_nr_devices(const struct machine *m)
{
	return m->nr_devices;
}

struct device *machine_device(const struct machine *m, unsigned i)
{
	return i < m->nr_devices ? m->device[i] : NULL;
}

struct device *machine_find_vdev(const struct machine *m, enum vdev_kind kind, unsigned index)
{
	for (unsigned i = 0; i < m->nr_devices; i++)
		if (m->vdev_of[i].kind == kind && m->vdev_of[i].index == index)
			return m->device[i];
	return NULL;
}

void machine_kick(struct machine *m)
{
	if (m && m->psci_ready)
		psci_cpus_kick(&m->psci);
}

size_t machine_console_input(struct machine *m, const uint8_t *buf, size_t len)
{
	return pl011_receive(m->console, buf, len);
}
