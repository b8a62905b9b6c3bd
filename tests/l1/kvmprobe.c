/*
 * kvmprobe: reports what /dev/kvm offers inside the emulated arm64 host.
 * It stands in for bmvm when validating the L1 runner, and its output is a
 * record of the host's KVM capabilities. tests/l1/smoke builds it as:
 *   aarch64-linux-gnu-gcc -static -O2 -o build/l1/kvmprobe tests/l1/kvmprobe.c
 * Exit status: 0 if /dev/kvm opened and reports API version 12, else 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/kvm.h>	/* from libc6-dev-arm64-cross's linux-libc-dev */

#define CAP(x) { KVM_CAP_##x, "KVM_CAP_" #x }
static const struct { int cap; const char *name; } caps[] = {
	CAP(USER_MEMORY), CAP(NR_VCPUS), CAP(MAX_VCPUS), CAP(NR_MEMSLOTS),
	CAP(ONE_REG), CAP(READONLY_MEM), CAP(IOEVENTFD), CAP(IRQFD),
	CAP(SIGNAL_MSI), CAP(DEVICE_CTRL), CAP(IMMEDIATE_EXIT),
	CAP(ARM_PSCI_0_2), CAP(ARM_EL1_32BIT), CAP(ARM_PMU_V3),
	CAP(ARM_USER_IRQ), CAP(ARM_VM_IPA_SIZE), CAP(ARM_SVE),
	CAP(ARM_PTRAUTH_ADDRESS), CAP(ARM_PTRAUTH_GENERIC),
	CAP(ARM_IRQ_LINE_LAYOUT_2), CAP(ARM_NISV_TO_USER),
	CAP(ARM_INJECT_EXT_DABT), CAP(ARM_MTE),
};

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
	close(kvm);
	return api == 12 && vm >= 0 ? 0 : 1;
}
