/* SPDX-License-Identifier: MIT */
/*
 * Linux KVM on arm64: the VM, its memory slot, the in-kernel vGICv3 and the
 * vCPUs. PSCI and bmvm's own SMCCC calls come to bmvm through KVM's SMCCC
 * filter (Linux 6.4+), as every call does under Hypervisor.framework; older
 * kernels answer PSCI themselves. Data aborts without a valid syndrome come
 * to us too (KVM_CAP_ARM_NISV_TO_USER) for the arch emulator. A kick is a
 * signal plus kvm_run.immediate_exit, so a kick that races with KVM_RUN is
 * never lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "accel/arm64.h"

#define KICK_SIGNAL	SIGUSR2

/*
 * KVM's SMCCC filter (Linux 6.4, arch/arm64/include/uapi/asm/kvm.h); Debian
 * 12's headers are 6.1's, so the ABI's values are spelled out here.
 */
#ifndef KVM_ARM_VM_SMCCC_CTRL
#define KVM_ARM_VM_SMCCC_CTRL		0
#define KVM_ARM_VM_SMCCC_FILTER		0
#define KVM_SMCCC_FILTER_FWD_TO_USER	2
struct kvm_smccc_filter {
	__u32 base;
	__u32 nr_functions;
	__u8 action;
	__u8 pad[15];
};
#endif

#ifndef KVM_HYPERCALL_EXIT_SMC
#define KVM_HYPERCALL_EXIT_SMC		(1u << 0)	/* the guest used SMC, not HVC */
#define KVM_HYPERCALL_EXIT_16BIT	(1u << 1)	/* a 16-bit (T32) instruction */
#endif

/* PSCI's function ids: SMC32 and SMC64 ranges (Arm DEN 0022). */
#define PSCI_FN32_FIRST		0x84000000u
#define PSCI_FN64_FIRST		0xc4000000u
#define PSCI_FN_COUNT		0x20u
#define PSCI_FN_CPU_SUSPEND	0x01u	/* left to KVM: see kvm_forward_psci() */

/* ESR_EL2 of an HVC64 #0 or SMC64 #0 (EC 0x16 / 0x17, IL), as a forwarded call is reported. */
#define ESR_HVC64_IMM0		((0x16ULL << 26) | (1ULL << 25))
#define ESR_SMC64_IMM0		((0x17ULL << 26) | (1ULL << 25))

struct accel {
	int kvm_fd, vm_fd, gic_fd;
	int run_size;
	struct kvm_vcpu_init target;
	struct accel_config config;
	struct accel_arm64_config arm64;
	bool psci_in_kernel;	/* the SMCCC filter could not forward PSCI */
};

struct accel_vcpu {
	struct accel *accel;
	int fd;
	unsigned index;
	struct kvm_run *run;
	pthread_t thread;
	bool mmio_read_pending;
	bool mmio_pending;	/* KVM completes an MMIO exit only at the next KVM_RUN */
};

const char *accel_name(void)
{
	return "kvm";
}

static void kick_handler(int sig)
{
	(void)sig;	/* its only job is to interrupt KVM_RUN */
}

static unsigned ipa_bits_for(uint64_t limit)
{
	unsigned bits = 32;

	while (bits < 64 && (1ULL << bits) < limit)
		bits++;
	return bits;
}

static int kvm_create_vm(struct accel *a, struct errbuf *err)
{
	unsigned need = ipa_bits_for(a->config.ipa_limit);
	int max_ipa = ioctl(a->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_VM_IPA_SIZE);
	unsigned long type = 0;

	if (max_ipa > 0) {
		if ((unsigned)max_ipa < need)
			return err_set(err, E2BIG, "guest RAM needs a %u-bit address space but "
				       "this host's KVM offers %d bits; use a smaller --ram",
				       need, max_ipa);
		/* KVM's usual 40 bits where the host has them, more only if needed. */
		type = KVM_VM_TYPE_ARM_IPA_SIZE(need < 40 && max_ipa >= 40 ? 40 : need);
	} else if (need > 40) {
		return err_set(err, E2BIG, "guest RAM needs more than the 40-bit address space "
			       "this host's KVM offers; use a smaller --ram");
	}
	do
		a->vm_fd = ioctl(a->kvm_fd, KVM_CREATE_VM, type);
	while (a->vm_fd < 0 && errno == EINTR);
	if (a->vm_fd < 0)
		return err_set(err, errno, "KVM_CREATE_VM failed: %s", strerror(errno));
	return 0;
}

static int kvm_set_gic_attr(struct accel *a, uint32_t group, uint64_t attr, void *val)
{
	struct kvm_device_attr da = { .group = group, .attr = attr,
				      .addr = (uint64_t)(uintptr_t)val };

	return ioctl(a->gic_fd, KVM_SET_DEVICE_ATTR, &da) ? -errno : 0;
}

static int kvm_create_gic(struct accel *a, struct errbuf *err)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	uint64_t dist = a->arm64.gic_dist_base, redist = a->arm64.gic_redist_base;
	uint32_t nr_irqs = a->arm64.gic_nr_irqs;
	int ret;

	if (ioctl(a->vm_fd, KVM_CREATE_DEVICE, &cd))
		return err_set(err, errno, "cannot create the in-kernel GICv3 (%s); bmvm needs "
			       "a host with a GICv3 and KVM's vgic-v3", strerror(errno));
	a->gic_fd = (int)cd.fd;
	ret = kvm_set_gic_attr(a, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist);
	if (!ret)
		ret = kvm_set_gic_attr(a, KVM_DEV_ARM_VGIC_GRP_ADDR,
				       KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist);
	if (!ret)
		ret = kvm_set_gic_attr(a, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs);
	if (ret)
		return err_set(err, -ret, "cannot configure the in-kernel GICv3: %s",
			       strerror(-ret));
	return 0;
}

static int kvm_open(struct accel *a, struct errbuf *err)
{
	a->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (a->kvm_fd < 0)
		return err_set(err, errno, "cannot open /dev/kvm: %s (is KVM enabled, and may "
			       "this user use it? try: sudo usermod -aG kvm $USER)",
			       strerror(errno));
	if (ioctl(a->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return err_set(err, ENOTSUP, "/dev/kvm speaks an unknown KVM API version");
	a->run_size = ioctl(a->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (a->run_size <= 0)
		return err_set(err, errno, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
	return 0;
}

/* Have KVM hand the SMCCC calls [base, base + count) to bmvm. 0, or -errno. */
static int kvm_smccc_forward(struct accel *a, uint32_t base, uint32_t count)
{
	struct kvm_smccc_filter filter = {
		.base = base, .nr_functions = count, .action = KVM_SMCCC_FILTER_FWD_TO_USER,
	};
	struct kvm_device_attr da = {
		.group = KVM_ARM_VM_SMCCC_CTRL, .attr = KVM_ARM_VM_SMCCC_FILTER,
		.addr = (uint64_t)(uintptr_t)&filter,
	};

	return ioctl(a->vm_fd, KVM_SET_DEVICE_ATTR, &da) ? -errno : 0;
}

/*
 * One PSCI range to bmvm, all but CPU_SUSPEND: KVM's own suspend sleeps in
 * the kernel until an interrupt (a real WFI), which a vCPU thread in bmvm
 * cannot do under KVM; answered in bmvm it would return at once, and a
 * guest idling through it would spin.
 */
static int kvm_forward_psci(struct accel *a, uint32_t first)
{
	int ret = kvm_smccc_forward(a, first, PSCI_FN_CPU_SUSPEND);

	if (!ret)
		ret = kvm_smccc_forward(a, first + PSCI_FN_CPU_SUSPEND + 1,
					PSCI_FN_COUNT - PSCI_FN_CPU_SUSPEND - 1);
	return ret;
}

/*
 * PSCI in bmvm (psci.c, the code Hypervisor.framework runs on) wherever KVM
 * can forward it: Linux 6.4+. Before that, KVM's own PSCI answers (ENXIO:
 * no SMCCC filter), and says so in GET /vm/inspect. bmvm's vendor calls are
 * forwarded where KVM lets us; a guest finds out by calling them.
 */
static int kvm_setup_psci(struct accel *a, struct errbuf *err)
{
	const struct accel_arm64_config *c = &a->arm64;
	int ret;

	a->psci_in_kernel = true;
	if (!c->psci_to_vmm)
		return 0;
	ret = kvm_forward_psci(a, PSCI_FN32_FIRST);
	if (ret == -ENXIO || ret == -EINVAL)
		return 0;	/* no SMCCC filter on this kernel */
	if (!ret)
		ret = kvm_forward_psci(a, PSCI_FN64_FIRST);
	if (ret)
		return err_set(err, -ret, "cannot forward PSCI calls to bmvm (KVM's SMCCC "
			       "filter): %s; BMVM_PSCI=kernel leaves them to KVM", strerror(-ret));
	a->psci_in_kernel = false;
	if (c->vendor_calls_count)
		kvm_smccc_forward(a, c->vendor_calls_base, c->vendor_calls_count);
	return 0;
}

static int kvm_setup(struct accel *a, struct errbuf *err)
{
	struct kvm_enable_cap nisv = { .cap = KVM_CAP_ARM_NISV_TO_USER };
	struct sigaction sa = { .sa_handler = kick_handler };
	int ret;

	ret = kvm_open(a, err);
	if (!ret)
		ret = kvm_create_vm(a, err);
	if (ret)
		return ret;
	if (ioctl(a->vm_fd, KVM_ARM_PREFERRED_TARGET, &a->target))
		return err_set(err, errno, "KVM_ARM_PREFERRED_TARGET failed: %s", strerror(errno));
	/* Without it, ISV=0 aborts (LDP/STP, writeback) to MMIO kill the guest. */
	if (ioctl(a->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_NISV_TO_USER) > 0 &&
	    ioctl(a->vm_fd, KVM_ENABLE_CAP, &nisv))
		return err_set(err, errno, "cannot enable KVM_CAP_ARM_NISV_TO_USER: %s",
			       strerror(errno));
	ret = kvm_create_gic(a, err);
	if (!ret)
		ret = kvm_setup_psci(a, err);
	if (ret)
		return ret;
	sigemptyset(&sa.sa_mask);
	if (sigaction(KICK_SIGNAL, &sa, NULL))
		return err_set(err, errno, "cannot install the vCPU kick handler");
	return 0;
}

int accel_create(struct accel **accel, const struct accel_config *config,
		 struct errbuf *err)
{
	struct accel *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return err_set(err, ENOMEM, "out of memory");
	a->kvm_fd = a->vm_fd = a->gic_fd = -1;
	a->config = *config;
	a->arm64 = *config->arm64;
	a->config.arm64 = &a->arm64;
	ret = kvm_setup(a, err);
	if (ret) {
		accel_destroy(a);
		return ret;
	}
	*accel = a;
	return 0;
}

void accel_destroy(struct accel *a)
{
	if (a->gic_fd >= 0)
		close(a->gic_fd);
	if (a->vm_fd >= 0)
		close(a->vm_fd);
	if (a->kvm_fd >= 0)
		close(a->kvm_fd);
	free(a);
}

int accel_map_memory(struct accel *a, uint64_t gpa, void *hva, uint64_t size,
		     struct errbuf *err)
{
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)hva,
	};

	if (ioctl(a->vm_fd, KVM_SET_USER_MEMORY_REGION, &region))
		return err_set(err, errno, "cannot give %llu MiB of RAM to KVM: %s",
			       (unsigned long long)(size >> 20), strerror(errno));
	return 0;
}

static int kvm_vcpu_init(struct accel_vcpu *v)
{
	struct kvm_vcpu_init init = v->accel->target;

	memset(init.features, 0, sizeof(init.features));
	init.features[0] = 1u << KVM_ARM_VCPU_PSCI_0_2;
	/* KVM's PSCI holds secondaries off until CPU_ON; bmvm's holds them itself. */
	if (v->index && v->accel->psci_in_kernel)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	return ioctl(v->fd, KVM_ARM_VCPU_INIT, &init) ? -errno : 0;
}

int accel_vcpu_create(struct accel *a, unsigned index, struct accel_vcpu **vcpu,
		      struct errbuf *err)
{
	struct accel_vcpu *v = calloc(1, sizeof(*v));
	int ret;

	if (!v)
		return err_set(err, ENOMEM, "out of memory");
	v->accel = a;
	v->index = index;
	v->thread = pthread_self();
	v->fd = ioctl(a->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		ret = err_set(err, errno, "cannot create vCPU %u: %s (the host may allow fewer "
			      "vCPUs; try a smaller --cpus)", index, strerror(errno));
		free(v);
		return ret;
	}
	v->run = mmap(NULL, (size_t)a->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	ret = v->run == MAP_FAILED ? -errno : kvm_vcpu_init(v);
	if (ret) {
		if (v->run != MAP_FAILED)
			munmap(v->run, (size_t)a->run_size);
		close(v->fd);
		free(v);
		return err_set(err, -ret, "cannot initialise vCPU %u: %s", index, strerror(-ret));
	}
	*vcpu = v;
	return 0;
}

void accel_vcpu_destroy(struct accel_vcpu *v)
{
	munmap(v->run, (size_t)v->accel->run_size);
	close(v->fd);
	free(v);
}

int accel_finalize(struct accel *a, struct errbuf *err)
{
	int ret = kvm_set_gic_attr(a, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT,
				   NULL);

	if (ret)
		return err_set(err, -ret, "cannot initialise the in-kernel GICv3: %s",
			       strerror(-ret));
	return 0;
}

int accel_vcpu_reset(struct accel_vcpu *v, struct errbuf *err)
{
	int ret;

	/*
	 * A vCPU parked right after an MMIO exit still owes KVM that exit's
	 * completion (register write-back, PC + 4), and VCPU_INIT does not
	 * cancel it: left alone, it would land on the fresh boot state and skip
	 * the entry instruction. Complete it now without running guest code.
	 */
	if (v->mmio_pending) {
		v->run->immediate_exit = 1;
		ioctl(v->fd, KVM_RUN, 0);
		v->run->immediate_exit = 0;
		v->mmio_pending = false;
	}
	ret = kvm_vcpu_init(v);
	v->mmio_read_pending = false;
	if (ret)
		return err_set(err, -ret, "KVM_ARM_VCPU_INIT failed: %s", strerror(-ret));
	return 0;
}

static int kvm_reg(struct accel_vcpu *v, enum accel_reg reg, uint64_t *val, bool set);

/*
 * KVM has already stepped the PC over a forwarded call. For an HVC that is
 * where the hardware leaves it too (its preferred return is the next
 * instruction); a trapped SMC returns to the SMC itself, so step back: the
 * arch code then sees either conduit as it does on every accelerator.
 * (6.1's headers name the flags field longmode; it is the same word.)
 */
static int kvm_hypercall_as_trap(struct accel_vcpu *v, struct accel_exit *exit)
{
	uint32_t flags = v->run->hypercall.longmode;
	uint64_t pc;

	exit->reason = ACCEL_EXIT_EXCEPTION;
	exit->exception.esr = ESR_HVC64_IMM0;
	exit->exception.far = exit->exception.ipa = 0;
	if (!(flags & KVM_HYPERCALL_EXIT_SMC))
		return 0;
	exit->exception.esr = ESR_SMC64_IMM0;
	if (kvm_reg(v, ACCEL_REG_PC, &pc, false))
		return -1;
	pc -= flags & KVM_HYPERCALL_EXIT_16BIT ? 2 : 4;
	return kvm_reg(v, ACCEL_REG_PC, &pc, true) ? -1 : 0;
}

static void kvm_translate_exit(struct accel_vcpu *v, struct accel_exit *exit)
{
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_MMIO:
		exit->reason = ACCEL_EXIT_MMIO;
		exit->mmio.addr = run->mmio.phys_addr;
		exit->mmio.len = run->mmio.len;
		exit->mmio.is_write = run->mmio.is_write;
		exit->mmio.data = 0;
		if (run->mmio.is_write)
			memcpy(&exit->mmio.data, run->mmio.data, run->mmio.len);
		v->mmio_read_pending = !run->mmio.is_write;
		v->mmio_pending = true;
		return;
	case KVM_EXIT_ARM_NISV:
		exit->reason = ACCEL_EXIT_DABT_NISV;
		exit->dabt.ipa = run->arm_nisv.fault_ipa;
		exit->dabt.iss = run->arm_nisv.esr_iss;
		return;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			exit->reason = ACCEL_EXIT_POWEROFF;
			return;
		}
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			exit->reason = ACCEL_EXIT_RESET;
			return;
		}
		break;
	case KVM_EXIT_INTR:
		exit->reason = ACCEL_EXIT_KICKED;
		return;
	case KVM_EXIT_HYPERCALL:
		/* An SMCCC call the filter forwards, reported as the hardware traps it. */
		if (kvm_hypercall_as_trap(v, exit) == 0)
			return;
		break;
	}
	exit->reason = ACCEL_EXIT_UNKNOWN;
	exit->code = run->exit_reason;
}

int accel_vcpu_run(struct accel_vcpu *v, struct accel_exit *exit)
{
	if (v->mmio_read_pending) {
		memcpy(v->run->mmio.data, &exit->mmio.data, v->run->mmio.len);
		v->mmio_read_pending = false;
	}
	v->mmio_pending = false;
	if (ioctl(v->fd, KVM_RUN, 0)) {
		int e = errno;

		v->run->immediate_exit = 0;
		if (e == EINTR || e == EAGAIN) {
			exit->reason = ACCEL_EXIT_KICKED;
			return 0;
		}
		return -e;
	}
	v->run->immediate_exit = 0;
	kvm_translate_exit(v, exit);
	return 0;
}

/* ---- registers -------------------------------------------------------- */

#define CORE_REG(field) \
	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
	 (offsetof(struct kvm_regs, field) / sizeof(uint32_t)))

static uint64_t kvm_reg_id(enum accel_reg reg)
{
	if (reg < ACCEL_REG_SP_EL0)
		return CORE_REG(regs.regs[0]) + (uint64_t)reg * 2;	/* 2 u32 per X reg */
	switch (reg) {
	case ACCEL_REG_SP_EL0:	  return CORE_REG(regs.sp);
	case ACCEL_REG_PC:	  return CORE_REG(regs.pc);
	case ACCEL_REG_PSTATE:	  return CORE_REG(regs.pstate);
	case ACCEL_REG_SP_EL1:	  return CORE_REG(sp_el1);
	case ACCEL_REG_ELR_EL1:	  return CORE_REG(elr_el1);
	case ACCEL_REG_SPSR_EL1:  return CORE_REG(spsr[KVM_SPSR_EL1]);
	case ACCEL_REG_MPIDR_EL1: return ARM64_SYS_REG(3, 0, 0, 0, 5);
	case ACCEL_REG_SCTLR_EL1: return ARM64_SYS_REG(3, 0, 1, 0, 0);
	case ACCEL_REG_TCR_EL1:	  return ARM64_SYS_REG(3, 0, 2, 0, 2);
	case ACCEL_REG_TTBR0_EL1: return ARM64_SYS_REG(3, 0, 2, 0, 0);
	case ACCEL_REG_TTBR1_EL1: return ARM64_SYS_REG(3, 0, 2, 0, 1);
	case ACCEL_REG_ESR_EL1:	  return ARM64_SYS_REG(3, 0, 5, 2, 0);
	case ACCEL_REG_FAR_EL1:	  return ARM64_SYS_REG(3, 0, 6, 0, 0);
	case ACCEL_REG_VBAR_EL1:  return ARM64_SYS_REG(3, 0, 12, 0, 0);
	case ACCEL_REG_CNTVCT:    return KVM_REG_ARM_TIMER_CNT;
	case ACCEL_REG_CNTV_CTL:  return KVM_REG_ARM_TIMER_CTL;
	case ACCEL_REG_CNTV_CVAL: return KVM_REG_ARM_TIMER_CVAL;
	default:		  return 0;
	}
}

static int kvm_reg(struct accel_vcpu *v, enum accel_reg reg, uint64_t *val, bool set)
{
	struct kvm_one_reg r = { .id = kvm_reg_id(reg), .addr = (uint64_t)(uintptr_t)val };

	if (!r.id)
		return -EINVAL;
	return ioctl(v->fd, set ? KVM_SET_ONE_REG : KVM_GET_ONE_REG, &r) ? -errno : 0;
}

int accel_vcpu_get_reg(struct accel_vcpu *v, enum accel_reg reg, uint64_t *val)
{
	return kvm_reg(v, reg, val, false);
}

int accel_vcpu_set_reg(struct accel_vcpu *v, enum accel_reg reg, uint64_t val)
{
	return kvm_reg(v, reg, &val, true);
}

void accel_vcpu_kick(struct accel_vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(v->thread, KICK_SIGNAL);
}

/* ---- interrupt controller reset ---------------------------------------- */

#define GICD_CTLR		0x0000
#define GICx_IGROUPR		0x0080
#define GICx_ICENABLER		0x0180
#define GICx_ICPENDR		0x0280
#define GICx_ICACTIVER		0x0380
#define GICx_IPRIORITYR		0x0400
#define GICx_ICFGR		0x0c00
#define GICD_IROUTER		0x6000
#define GICR_SGI_BASE		0x10000

struct gic_reg_value {
	uint32_t offset, value;
};

/*
 * One bank of 32 interrupts as KVM's vGICv3 starts it: Group 1 (KVM's
 * default for a v3 guest), disabled, not pending, inactive, priority 0.
 */
static const struct gic_reg_value gic_bank_reset[] = {
	{ GICx_IGROUPR, ~0u }, { GICx_ICENABLER, ~0u }, { GICx_ICPENDR, ~0u },
	{ GICx_ICACTIVER, ~0u },
};

static int gic_write(struct accel *a, uint32_t group, uint64_t attr, uint32_t value)
{
	return kvm_set_gic_attr(a, group, attr, &value);
}

/* Interrupts [32 * first_bank, 32 * last_bank) at @base in @group's register space. */
static int gic_reset_banks(struct accel *a, uint32_t group, uint64_t attr_base,
			   unsigned first_bank, unsigned last_bank)
{
	int ret = 0;

	for (unsigned b = first_bank; b < last_bank && !ret; b++) {
		for (size_t r = 0; r < sizeof(gic_bank_reset) / sizeof(gic_bank_reset[0]) && !ret; r++)
			ret = gic_write(a, group, attr_base + gic_bank_reset[r].offset + 4 * b,
					gic_bank_reset[r].value);
		for (unsigned p = 0; p < 32 && !ret; p += 4)
			ret = gic_write(a, group, attr_base + GICx_IPRIORITYR + 32 * b + p, 0);
		/* Level-sensitive; SGIs' configuration (bank 0, first word) is fixed. */
		for (unsigned c = b ? 0 : 1; c < 2 && !ret; c++)
			ret = gic_write(a, group, attr_base + GICx_ICFGR + 8 * b + 4 * c, 0);
	}
	return ret;
}

int accel_irqchip_reset(struct accel *a, struct errbuf *err)
{
	unsigned spi_banks = a->arm64.gic_nr_irqs / 32;
	int ret;

	ret = gic_write(a, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, GICD_CTLR, 0);
	if (!ret)
		ret = gic_reset_banks(a, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, 0, 1, spi_banks);
	for (unsigned i = 32; i < a->arm64.gic_nr_irqs && !ret; i++) {
		ret = gic_write(a, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, GICD_IROUTER + 8 * i, 0);
		if (!ret)
			ret = gic_write(a, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, GICD_IROUTER + 8 * i + 4, 0);
	}
	/* SGIs and PPIs live in each vCPU's redistributor, named by its affinity. */
	for (unsigned c = 0; c < a->config.nr_cpus && !ret; c++) {
		uint64_t mpidr = a->arm64.mpidr[c];
		uint64_t aff = ((mpidr >> 8) & 0xff000000) | (mpidr & 0xffffff);

		ret = gic_reset_banks(a, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
				      (aff << 32) | GICR_SGI_BASE, 0, 1);
	}
	if (ret)
		return err_set(err, -ret, "cannot reset the in-kernel GICv3: %s", strerror(-ret));
	return 0;
}

static int kvm_get_gic_attr(struct accel *a, uint32_t group, uint64_t attr, void *val)
{
	struct kvm_device_attr da = { .group = group, .attr = attr, .addr = (uintptr_t)val };

	return ioctl(a->gic_fd, KVM_GET_DEVICE_ATTR, &da) ? -errno : 0;
}

#define GICR_ISENABLER0		(GICR_SGI_BASE + 0x100)
#define GICR_ISPENDR0		(GICR_SGI_BASE + 0x200)
#define GICR_ISACTIVER0		(GICR_SGI_BASE + 0x300)
/* CPU interface registers, named by their sysreg encoding (op0, op1, CRn, CRm, op2). */
#define ICC_SYSREG(op0, op1, crn, crm, op2) \
	(((op0) << 14) | ((op1) << 11) | ((crn) << 7) | ((crm) << 3) | (op2))
#define ICC_PMR_EL1		ICC_SYSREG(3, 0, 4, 6, 0)
#define ICC_AP1R0_EL1		ICC_SYSREG(3, 0, 12, 9, 0)
#define ICC_IGRPEN1_EL1		ICC_SYSREG(3, 0, 12, 12, 7)

int accel_vcpu_gic_state(struct accel_vcpu *v, struct accel_gic_cpu_state *st)
{
	struct accel *a = v->accel;
	uint64_t mpidr = a->arm64.mpidr[v->index];
	uint64_t aff = ((mpidr >> 8) & 0xff000000) | (mpidr & 0xffffff);
	/* Both groups name the vCPU by affinity in bits 63:32 (Aff3.Aff2.Aff1.Aff0). */
	uint64_t redist = aff << 32, cpuif = aff << 32;
	int ret;

	ret = kvm_get_gic_attr(a, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS, redist | GICR_ISPENDR0,
			       &st->ppi_pending);
	if (!ret)
		ret = kvm_get_gic_attr(a, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
				       redist | GICR_ISACTIVER0, &st->ppi_active);
	if (!ret)
		ret = kvm_get_gic_attr(a, KVM_DEV_ARM_VGIC_GRP_REDIST_REGS,
				       redist | GICR_ISENABLER0, &st->ppi_enabled);
	if (!ret)
		ret = kvm_get_gic_attr(a, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
				       cpuif | ICC_PMR_EL1, &st->pmr);
	if (!ret)
		ret = kvm_get_gic_attr(a, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
				       cpuif | ICC_AP1R0_EL1, &st->ap1r0);
	if (!ret)
		ret = kvm_get_gic_attr(a, KVM_DEV_ARM_VGIC_GRP_CPU_SYSREGS,
				       cpuif | ICC_IGRPEN1_EL1, &st->igrpen1);
	return ret;
}

int accel_irq_set(struct accel *a, unsigned intid, bool level)
{
	struct kvm_irq_level irq = {
		.irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | intid,
		.level = level,
	};

	return ioctl(a->vm_fd, KVM_IRQ_LINE, &irq) ? -errno : 0;
}

int accel_ioeventfd(struct accel *a, uint64_t addr, uint32_t datamatch, int fd)
{
	struct kvm_ioeventfd io = {
		.addr = addr, .len = 4, .datamatch = datamatch, .fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	return ioctl(a->vm_fd, KVM_IOEVENTFD, &io) ? -errno : 0;
}

int accel_irqfd(struct accel *a, unsigned intid, int fd)
{
	/* arm64 KVM's default routing: GSI n is SPI n, i.e. INTID 32 + n. */
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = intid - 32 };

	if (intid < 32)
		return -EINVAL;
	return ioctl(a->vm_fd, KVM_IRQFD, &irqfd) ? -errno : 0;
}

bool accel_vcpu_powered_off(struct accel_vcpu *v)
{
	struct kvm_mp_state mp;

	return ioctl(v->fd, KVM_GET_MP_STATE, &mp) == 0 && mp.mp_state == KVM_MP_STATE_STOPPED;
}

bool accel_psci_in_kernel(const struct accel *a)
{
	return a->psci_in_kernel;
}

/* KVM runs the virtual timer itself and never reports ACCEL_EXIT_VTIMER. */
int accel_vcpu_vtimer_irq(struct accel_vcpu *v, bool level)
{
	(void)v;
	(void)level;
	return -ENOTSUP;
}

int accel_vcpu_vtimer_mask(struct accel_vcpu *v, bool masked)
{
	(void)v;
	(void)masked;
	return -ENOTSUP;
}
