/*
 * kvmprobe: reports what /dev/kvm offers inside the emulated arm64 host.
 * It stands in for bmvm when validating the L1 runner, and its output is a
 * record of the host's KVM capabilities. tests/l1/smoke builds it as:
 *   aarch64-linux-gnu-gcc -static -O2 -o build/l1/kvmprobe tests/l1/kvmprobe.c
 * and tests/l1/run-integration puts it in the payload (kvm-smccc-filter cases).
 * Exit status: 0 if /dev/kvm opened and reports API version 12, else 1.
 *
 * It also says whether KVM's SMCCC filter (Linux 6.4+) forwards a guest's
 * PSCI call to userspace, which userspace PSCI needs: a one-vCPU VM whose
 * guest does `hvc #0` with PSCI_VERSION in x0 and then stores x0 to an
 * unbacked address. One of
 *   SMCCC_FILTER ok
 *   SMCCC_FILTER unavailable (KVM_HAS_DEVICE_ATTR: <why>)
 * then one of
 *   PSCI_HVC user: KVM_EXIT_HYPERCALL nr 0x84000000 flags 0x0 (hvc), guest got x0 0x10002
 *   PSCI_HVC kernel: guest got x0 0x<what KVM's own PSCI answered>
 *   PSCI_HVC broken: <what happened instead>
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>	/* from libc6-dev-arm64-cross's linux-libc-dev */

/* The SMCCC filter came in Linux 6.4; Debian 12's headers (6.1) lack it.
 * Values from 6.4's arch/arm64/include/uapi/asm/kvm.h (unchanged in 6.12). */
#ifndef KVM_ARM_VM_SMCCC_CTRL
#define KVM_ARM_VM_SMCCC_CTRL		0	/* attribute group on the VM fd */
#define KVM_ARM_VM_SMCCC_FILTER		0
#define KVM_SMCCC_FILTER_FWD_TO_USER	2	/* enum kvm_smccc_filter_action */
struct kvm_smccc_filter {
	__u32 base;
	__u32 nr_functions;
	__u8 action;
	__u8 pad[15];
};
#endif
#ifndef KVM_HYPERCALL_EXIT_SMC
#define KVM_HYPERCALL_EXIT_SMC		(1U << 0)	/* in run->hypercall.flags */
#endif

#define CAP(x) { KVM_CAP_##x, "KVM_CAP_" #x }
static const struct { int cap; const char *name; } caps[] = {
	CAP(USER_MEMORY), CAP(NR_VCPUS), CAP(MAX_VCPUS), CAP(NR_MEMSLOTS),
	CAP(ONE_REG), CAP(READONLY_MEM), CAP(IOEVENTFD), CAP(IRQFD),
	CAP(SIGNAL_MSI), CAP(DEVICE_CTRL), CAP(IMMEDIATE_EXIT),
	CAP(ARM_PSCI_0_2), CAP(ARM_EL1_32BIT), CAP(ARM_PMU_V3),
	CAP(ARM_USER_IRQ), CAP(ARM_VM_IPA_SIZE), CAP(ARM_SVE),
	CAP(ARM_PTRAUTH_ADDRESS), CAP(ARM_PTRAUTH_GENERIC),
	CAP(ARM_IRQ_LINE_LAYOUT_2), CAP(ARM_NISV_TO_USER),
	CAP(ARM_INJECT_EXT_DABT), CAP(ARM_MTE), CAP(VM_ATTRIBUTES),
};

/* PSCI's SMC32 function IDs (linux/psci.h), PSCI_VERSION first */
#define PSCI_FN_COUNT		0x20
#define GUEST_BASE		0x10000		/* the guest's code; one page */
#define GUEST_REPORT		0x20000		/* unbacked: a store there exits */
#define PROBE_ANSWER		0x10002		/* what userspace puts in x0 */
#define CORE_REG(r)	(KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
			 (offsetof(struct kvm_regs, r) / sizeof(__u32)))

static const uint32_t psci_guest[] = {
	0xd2b08000,	/* movz x0, #0x8400, lsl #16	PSCI_VERSION */
	0xd4000002,	/* hvc  #0 */
	0xd2a00041,	/* movz x1, #0x2, lsl #16	GUEST_REPORT */
	0xf9000020,	/* str  x0, [x1] */
	0x14000000,	/* b    . */
};

static int set_reg(int vcpu, uint64_t id, uint64_t val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)&val };
	return ioctl(vcpu, KVM_SET_ONE_REG, &r);
}

/* psci_vcpu: VM with the guest above in memory at GUEST_BASE and one vCPU
 * at its first instruction; returns the vCPU fd and maps its kvm_run. */
static int psci_vcpu(int kvm, int vm, struct kvm_run **run)
{
	void *mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -1;
	memcpy(mem, psci_guest, sizeof psci_guest);
	struct kvm_userspace_memory_region slot = {
		.guest_phys_addr = GUEST_BASE, .memory_size = 4096,
		.userspace_addr = (uintptr_t)mem,
	};
	struct kvm_vcpu_init init;
	int vcpu;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &slot) ||
	    ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) ||
	    (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0)
		return -1;
	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	long size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ioctl(vcpu, KVM_ARM_VCPU_INIT, &init) ||
	    set_reg(vcpu, CORE_REG(regs.pc), GUEST_BASE) ||
	    set_reg(vcpu, CORE_REG(regs.pstate), 0x3c5) ||	/* EL1h, DAIF masked */
	    size <= 0)
		return -1;
	*run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	return *run == MAP_FAILED ? -1 : vcpu;
}

static uint64_t report_value(const struct kvm_run *run)
{
	uint64_t v = 0;
	memcpy(&v, run->mmio.data, run->mmio.len < 8 ? run->mmio.len : 8);
	return v;
}

/* smccc_probe: can PSCI calls be taken in userspace? Prints the two lines
 * described at the top of this file. A fresh VM: the filter can only be set
 * before any vCPU has run. */
static void smccc_probe(int kvm)
{
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		printf("SMCCC_FILTER unavailable (KVM_CREATE_VM: %s)\n", strerror(errno));
		return;
	}
	struct kvm_smccc_filter filter = {
		.base = PSCI_0_2_FN_BASE, .nr_functions = PSCI_FN_COUNT,
		.action = KVM_SMCCC_FILTER_FWD_TO_USER,
	};
	struct kvm_device_attr attr = {
		.group = KVM_ARM_VM_SMCCC_CTRL, .attr = KVM_ARM_VM_SMCCC_FILTER,
		.addr = (uintptr_t)&filter,
	};
	const char *failed = NULL;
	if (ioctl(vm, KVM_HAS_DEVICE_ATTR, &attr))
		failed = "KVM_HAS_DEVICE_ATTR";
	else if (ioctl(vm, KVM_SET_DEVICE_ATTR, &attr))
		failed = "KVM_SET_DEVICE_ATTR";
	if (failed)
		printf("SMCCC_FILTER unavailable (%s: %s)\n", failed, strerror(errno));
	else
		puts("SMCCC_FILTER ok");

	struct kvm_run *run;
	int vcpu = psci_vcpu(kvm, vm, &run);
	if (vcpu < 0) {
		printf("PSCI_HVC broken: vCPU set-up: %s\n", strerror(errno));
		close(vm);
		return;
	}
	if (ioctl(vcpu, KVM_RUN, 0)) {
		printf("PSCI_HVC broken: KVM_RUN: %s\n", strerror(errno));
	} else if (run->exit_reason == KVM_EXIT_HYPERCALL) {
		uint64_t nr = run->hypercall.nr, flags;
		/* 6.1's headers call the flags word longmode + pad */
		memcpy(&flags, &run->hypercall.longmode, sizeof flags);
		/* The answer goes in x0; the guest then reports it. */
		if (set_reg(vcpu, CORE_REG(regs.regs[0]), PROBE_ANSWER) ||
		    ioctl(vcpu, KVM_RUN, 0) || run->exit_reason != KVM_EXIT_MMIO ||
		    run->mmio.phys_addr != GUEST_REPORT)
			printf("PSCI_HVC broken: KVM_EXIT_HYPERCALL nr 0x%llx, then no report (exit %u)\n",
			       (unsigned long long)nr, run->exit_reason);
		else
			printf("PSCI_HVC user: KVM_EXIT_HYPERCALL nr 0x%llx flags 0x%llx (%s), guest got x0 0x%llx\n",
			       (unsigned long long)nr, (unsigned long long)flags,
			       flags & KVM_HYPERCALL_EXIT_SMC ? "smc" : "hvc",
			       (unsigned long long)report_value(run));
	} else if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == GUEST_REPORT) {
		/* KVM's own PSCI answered: right only without the filter */
		printf("PSCI_HVC %s: guest got x0 0x%llx\n",
		       failed ? "kernel" : "broken (filter set, yet KVM answered)",
		       (unsigned long long)report_value(run));
	} else {
		printf("PSCI_HVC broken: exit reason %u\n", run->exit_reason);
	}
	close(vcpu);
	close(vm);
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		puts("kvmprobe 1 (stand-in for bmvm)");
		return 0;
	}
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		printf("open /dev/kvm: %s\n", strerror(errno));
		return 1;
	}
	int api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	printf("KVM_GET_API_VERSION %d\n", api);
	printf("KVM_GET_VCPU_MMAP_SIZE %d\n", ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0));
	/* Creating a VM proves more than the ioctls on /dev/kvm itself, and
	 * some caps (IPA size, MTE) are per VM, so ask the VM fd. */
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	printf("KVM_CREATE_VM %s\n", vm >= 0 ? "ok" : strerror(errno));
	int fd = vm >= 0 ? vm : kvm;
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
		printf("%s(%d) %d\n", caps[i].name, caps[i].cap,
		       ioctl(fd, KVM_CHECK_EXTENSION, caps[i].cap));
	if (vm >= 0) {
		struct kvm_vcpu_init init;
		memset(&init, 0, sizeof init);
		if (ioctl(vm, KVM_ARM_PREFERRED_TARGET, &init) == 0)
			printf("KVM_ARM_PREFERRED_TARGET %u\n", init.target);
		struct kvm_create_device dev = {
			.type = KVM_DEV_TYPE_ARM_VGIC_V3,
			.flags = KVM_CREATE_DEVICE_TEST,
		};
		printf("VGIC_V3 %s\n", ioctl(vm, KVM_CREATE_DEVICE, &dev) == 0 ?
		       "ok" : strerror(errno));
		close(vm);
	}
	smccc_probe(kvm);
	close(kvm);
	return api == 12 && vm >= 0 ? 0 : 1;
}
