// SPDX-License-Identifier: MIT
/*
 * kvm-bare - the smallest honest KVM runner for bmvm's bare-metal guests,
 * the baseline of the MMIO-exit benchmark (guests/mmio-loop.c).
 *
 *   kvm-bare [--gic] GUEST.elf
 *
 * One vCPU, 64 MiB of RAM at 0x4000_0000, the ELF's PT_LOAD segments copied
 * in at their physical addresses, PC at the entry point, x0 = 0 (no DTB).
 * The KVM_RUN loop serves only what the guests need: PL011 DR writes go to
 * stdout, FR reads as 0 (never full), the testdev ID, scratch and EXIT
 * registers, and PSCI SYSTEM_OFF. Anything else stops the run, so a guest
 * cannot silently take a path bmvm would serve differently.
 *
 * --gic adds an in-kernel vgic-v3 at bmvm's addresses. bmvm always has one,
 * and KVM then saves and restores the vgic state on every exit, so this is
 * the like-for-like baseline; without it the figure is KVM's floor.
 *
 * Build: aarch64-linux-gnu-gcc -static -O2 -o kvm-bare bench/kvm-bare.c
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define RAM_BASE	0x40000000ULL
#define RAM_SIZE	(64ULL << 20)
#define GICD_BASE	0x08000000ULL
#define GICR_BASE	0x080a0000ULL
#define UART_BASE	0x09000000ULL
#define UART_DR		0x00
#define UART_FR		0x18
#define TESTDEV_BASE	0x090f0000ULL
#define TESTDEV_EXIT	0x000
#define TESTDEV_ID	0x010
#define TESTDEV_SCRATCH	0x100
#define TESTDEV_SCRATCH_SIZE 0x100
#define TESTDEV_MAGIC	0x4d564d42	/* "BMVM" */

struct bare {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	uint8_t *ram;
	uint8_t scratch[TESTDEV_SCRATCH_SIZE];
	unsigned long mmio_exits;
};

static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("kvm-bare: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void xioctl(int fd, unsigned long req, void *arg, const char *what)
{
	if (ioctl(fd, req, arg) < 0)
		die("%s: %s", what, strerror(errno));
}

/* Copies each PT_LOAD segment to RAM; returns the entry point. */
static uint64_t load_elf(struct bare *b, const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	uint8_t *img;
	Elf64_Ehdr *eh;
	uint64_t entry;
	int i;

	if (fd < 0 || fstat(fd, &st))
		die("cannot open %s: %s", path, strerror(errno));
	img = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img == MAP_FAILED)
		die("cannot map %s: %s", path, strerror(errno));
	close(fd);
	eh = (Elf64_Ehdr *)img;
	if ((size_t)st.st_size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_machine != EM_AARCH64 ||
	    eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > (uint64_t)st.st_size)
		die("%s: not an arm64 ELF64 image", path);
	for (i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr *ph = (Elf64_Phdr *)(img + eh->e_phoff) + i;

		if (ph->p_type != PT_LOAD)
			continue;
		if (ph->p_paddr < RAM_BASE || ph->p_memsz > RAM_SIZE ||
		    ph->p_paddr - RAM_BASE > RAM_SIZE - ph->p_memsz ||
		    ph->p_filesz > ph->p_memsz ||
		    ph->p_offset + ph->p_filesz > (uint64_t)st.st_size)
			die("%s: segment %d does not fit in RAM", path, i);
		memcpy(b->ram + (ph->p_paddr - RAM_BASE), img + ph->p_offset, ph->p_filesz);
	}
	entry = eh->e_entry;
	munmap(img, (size_t)st.st_size);
	return entry;
}

static void set_core_reg(struct bare *b, uint64_t off, uint64_t val)
{
	struct kvm_one_reg reg = {
		.id = KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE |
		      (off / sizeof(uint32_t)),
		.addr = (uint64_t)(uintptr_t)&val,
	};

	xioctl(b->vcpu, KVM_SET_ONE_REG, &reg, "KVM_SET_ONE_REG");
}

static int gic_attr(int fd, uint32_t group, uint64_t attr, void *val)
{
	struct kvm_device_attr da = {
		.group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)val,
	};

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &da);
}

/* Same vgic-v3 layout as bmvm; call before creating the vCPU. */
static int create_gic(struct bare *b)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	uint64_t dist = GICD_BASE, redist = GICR_BASE;

	xioctl(b->vm, KVM_CREATE_DEVICE, &cd, "KVM_CREATE_DEVICE (vgic-v3)");
	if (gic_attr((int)cd.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist) ||
	    gic_attr((int)cd.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist))
		die("cannot place the vgic-v3: %s", strerror(errno));
	return (int)cd.fd;
}

static void setup(struct bare *b, const char *path, int want_gic)
{
	struct kvm_userspace_memory_region mem = {
		.slot = 0, .guest_phys_addr = RAM_BASE, .memory_size = RAM_SIZE,
	};
	struct kvm_vcpu_init init;
	int run_size, gic = -1;
	uint64_t entry;

	b->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (b->kvm < 0)
		die("cannot open /dev/kvm: %s", strerror(errno));
	b->vm = ioctl(b->kvm, KVM_CREATE_VM, 0UL);
	if (b->vm < 0)
		die("KVM_CREATE_VM: %s", strerror(errno));
	b->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b->ram == MAP_FAILED)
		die("cannot allocate RAM: %s", strerror(errno));
	mem.userspace_addr = (uint64_t)(uintptr_t)b->ram;
	xioctl(b->vm, KVM_SET_USER_MEMORY_REGION, &mem, "KVM_SET_USER_MEMORY_REGION");
	entry = load_elf(b, path);
	if (want_gic)
		gic = create_gic(b);

	b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0UL);
	if (b->vcpu < 0)
		die("KVM_CREATE_VCPU: %s", strerror(errno));
	run_size = ioctl(b->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	b->run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu, 0);
	if (run_size <= 0 || b->run == MAP_FAILED)
		die("cannot map kvm_run: %s", strerror(errno));
	xioctl(b->vm, KVM_ARM_PREFERRED_TARGET, &init, "KVM_ARM_PREFERRED_TARGET");
	memset(init.features, 0, sizeof(init.features));
	init.features[0] = 1u << KVM_ARM_VCPU_PSCI_0_2;
	xioctl(b->vcpu, KVM_ARM_VCPU_INIT, &init, "KVM_ARM_VCPU_INIT");
	if (gic >= 0 && gic_attr(gic, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL))
		die("cannot initialise the vgic-v3: %s", strerror(errno));

	/* VCPU_INIT left PSTATE at EL1h with DAIF masked, as bmvm enters. */
	set_core_reg(b, offsetof(struct kvm_regs, regs.pc), entry);
	set_core_reg(b, offsetof(struct kvm_regs, regs.regs[0]), 0);
}

static uint64_t mmio_get(const uint8_t *data, uint32_t len)
{
	uint64_t v = 0;

	memcpy(&v, data, len);		/* little-endian host and guest */
	return v;
}

/* Serves one MMIO exit; returns -1 to keep running, else the exit status. */
static int mmio(struct bare *b)
{
	uint64_t addr = b->run->mmio.phys_addr;
	uint32_t len = b->run->mmio.len;
	uint8_t *data = b->run->mmio.data;
	int wr = b->run->mmio.is_write;

	b->mmio_exits++;
	if (len > 8)
		die("MMIO access of %u bytes at 0x%llx", len, (unsigned long long)addr);
	if (addr >= TESTDEV_BASE + TESTDEV_SCRATCH &&
	    addr + len <= TESTDEV_BASE + TESTDEV_SCRATCH + TESTDEV_SCRATCH_SIZE) {
		uint8_t *p = &b->scratch[addr - TESTDEV_BASE - TESTDEV_SCRATCH];

		if (wr)
			memcpy(p, data, len);
		else
			memcpy(data, p, len);
		return -1;
	}
	if (wr && addr == UART_BASE + UART_DR) {
		putchar((int)(data[0]));
		return -1;
	}
	if (!wr && addr == UART_BASE + UART_FR) {
		memset(data, 0, len);
		return -1;
	}
	if (!wr && addr == TESTDEV_BASE + TESTDEV_ID && len == 4) {
		uint32_t magic = TESTDEV_MAGIC;

		memcpy(data, &magic, 4);
		return -1;
	}
	if (wr && addr == TESTDEV_BASE + TESTDEV_EXIT)
		return (int)(mmio_get(data, len) & 0xff);
	die("unexpected MMIO %s of %u bytes at 0x%llx", wr ? "write" : "read", len,
	    (unsigned long long)addr);
	return 2;
}

static int run_loop(struct bare *b)
{
	int status;

	for (;;) {
		if (ioctl(b->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			die("KVM_RUN: %s", strerror(errno));
		}
		switch (b->run->exit_reason) {
		case KVM_EXIT_MMIO:
			status = mmio(b);
			if (status >= 0)
				return status;
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			if (b->run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
				return 0;
			die("system event %u", b->run->system_event.type);
			break;
		default:
			die("unexpected exit reason %u", b->run->exit_reason);
		}
	}
}

int main(int argc, char **argv)
{
	struct bare b = { 0 };
	int want_gic = 0, status;

	if (argc > 1 && !strcmp(argv[1], "--gic")) {
		want_gic = 1;
		argc--;
		argv++;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: kvm-bare [--gic] GUEST.elf\n");
		return 2;
	}
	setup(&b, argv[1], want_gic);
	status = run_loop(&b);
	fflush(stdout);
	fprintf(stderr, "kvm-bare: exit status %d after %lu MMIO exits\n",
		status, b.mmio_exits);
	return status;
}
