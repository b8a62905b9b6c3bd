/* SPDX-License-Identifier: MIT */
/*
 * bm.h - the bmvm bare-metal guest runtime, all of it in one header.
 *
 * Guests run at EL1 with the MMU off. All data accesses are then Device
 * memory: they must be naturally aligned (we build with -mstrict-align) and
 * exclusives/atomics are not reliable on them, so CPUs signal each other with
 * plain loads and stores plus barriers, one flag per CPU.
 */
#ifndef BM_H
#define BM_H

/* The machine (bmvm's arm64 "virt"-style map). */
#define BM_RAM_BASE		0x40000000UL
#define BM_GICD_BASE		0x08000000UL
#define BM_GICR_BASE		0x080a0000UL
#define BM_UART_BASE		0x09000000UL
#define BM_TESTDEV_BASE		0x090f0000UL
#define BM_MAX_CPUS		64

/* bmvm,testdev registers */
#define BM_TESTDEV_EXIT		0x000
#define BM_TESTDEV_RESETS	0x008
#define BM_TESTDEV_ID		0x010
#define BM_TESTDEV_SCRATCH	0x100
#define BM_TESTDEV_MAGIC	0x4d564d42	/* "BMVM" */

#ifndef __ASSEMBLER__

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * hello-highva is built -fpie: hidden visibility lets the compiler reach
 * every symbol PC-relatively instead of through a GOT, whose entries would
 * hold link-time (virtual) addresses we cannot use with the MMU off.
 */
#pragma GCC visibility push(hidden)

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t s64;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define BIT(n)		(1UL << (n))

/* Barriers and system registers */
#define isb()		asm volatile("isb" ::: "memory")
#define dsb(opt)	asm volatile("dsb " #opt ::: "memory")
#define dmb(opt)	asm volatile("dmb " #opt ::: "memory")
#define wfi()		asm volatile("wfi" ::: "memory")

#define read_sysreg(r) ({					\
	u64 __val;						\
	asm volatile("mrs %0, " #r : "=r"(__val));		\
	__val;							\
})
#define write_sysreg(v, r)					\
	asm volatile("msr " #r ", %x0" :: "rZ"((u64)(v)))

#define READ_ONCE(x)		(*(const volatile __typeof__(x) *)&(x))
#define WRITE_ONCE(x, v)	(*(volatile __typeof__(x) *)&(x) = (v))

/*
 * MMIO accessors. Written in asm so each is one plain load/store with an
 * immediate-free base register: the CPU then reports a full syndrome
 * (ISV=1) and any VMM can emulate it.
 */
#define BM_MMIO_ACCESSORS(sz, type, ld, st, reg)			\
static inline type read##sz(uintptr_t addr)				\
{									\
	type val;							\
	asm volatile(ld " %" reg "0, [%1]" : "=r"(val) : "r"(addr) : "memory"); \
	return val;							\
}									\
static inline void write##sz(type val, uintptr_t addr)			\
{									\
	asm volatile(st " %" reg "0, [%1]" :: "rZ"(val), "r"(addr) : "memory"); \
}
BM_MMIO_ACCESSORS(b, u8, "ldrb", "strb", "w")
BM_MMIO_ACCESSORS(w, u16, "ldrh", "strh", "w")
BM_MMIO_ACCESSORS(l, u32, "ldr", "str", "w")
BM_MMIO_ACCESSORS(q, u64, "ldr", "str", "x")

/* Symbols from start.S and the linker script */
extern char _start[];
extern char bm_probe_insn[];

/* Console (PL011, polled) */
void bm_putc(char c);
void bm_puts(const char *s);
void bm_vprintf(const char *fmt, va_list ap);
void bm_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* PSCI over HVC */
#define PSCI_VERSION		0x84000000
#define PSCI_CPU_OFF		0x84000002
#define PSCI_CPU_ON		0xc4000003
#define PSCI_AFFINITY_INFO	0xc4000004
#define PSCI_SYSTEM_OFF		0x84000008
#define PSCI_SYSTEM_RESET	0x84000009
#define PSCI_FEATURES		0x8400000a

#define PSCI_RET_SUCCESS		0
#define PSCI_RET_NOT_SUPPORTED		(-1)
#define PSCI_RET_INVALID_PARAMS		(-2)
#define PSCI_RET_DENIED			(-3)
#define PSCI_RET_ALREADY_ON		(-4)

#define PSCI_AFFINITY_ON	0
#define PSCI_AFFINITY_OFF	1

u64 bm_hvc(u64 fn, u64 a1, u64 a2, u64 a3);	/* start.S */

/* PSCI results are 32-bit signed values, whatever the calling convention. */
static inline int psci_call(u64 fn, u64 a1, u64 a2, u64 a3)
{
	return (int)bm_hvc(fn, a1, a2, a3);
}
static inline int psci_cpu_on(u64 mpidr, uintptr_t entry, u64 context)
{
	return psci_call(PSCI_CPU_ON, mpidr, entry, context);
}
static inline int psci_affinity_info(u64 mpidr)
{
	return psci_call(PSCI_AFFINITY_INFO, mpidr, 0, 0);
}
static inline int psci_cpu_off(void)
{
	return psci_call(PSCI_CPU_OFF, 0, 0, 0);
}

/* CPUs: index n <-> MPIDR Aff1 = n / 16, Aff0 = n % 16 */
#define MPIDR_AFFINITY_MASK	0xff00ffffffUL

static inline u64 bm_cpu_mpidr(unsigned int cpu)
{
	return ((u64)(cpu / 16) << 8) | (cpu % 16);
}
static inline u64 bm_this_mpidr(void)
{
	return read_sysreg(mpidr_el1) & MPIDR_AFFINITY_MASK;
}
void bm_secondary_entry(void);	/* start.S: PSCI CPU_ON entry point */
int bm_cpu_on(unsigned int cpu, void (*fn)(unsigned int cpu));

/* Exceptions and interrupts */
struct bm_regs {
	u64 x[31];
	u64 elr;
	u64 spsr;
	u64 pad;
};

void bm_set_irq_handler(void (*handler)(void));

static inline void bm_irq_enable(void)
{
	asm volatile("msr daifclr, #2" ::: "memory");
}
static inline void bm_irq_disable(void)
{
	asm volatile("msr daifset, #2" ::: "memory");
}

/* Reads 32 bits at addr, or returns ~0UL if nothing answers there. */
u64 bm_probe_read32(uintptr_t addr);

/* GICv3 */
#define GIC_SPURIOUS		1023
bool gic_init(void);		/* distributor (once) + this CPU */
void gic_enable_ppi(unsigned int intid, u8 priority);

static inline u32 gic_ack(void)
{
	u32 intid = read_sysreg(icc_iar1_el1) & 0xffffff;

	dsb(sy);
	return intid;
}
static inline void gic_eoi(u32 intid)
{
	write_sysreg(intid, icc_eoir1_el1);
	isb();
}

/* Generic timer (virtual) */
#define VTIMER_INTID		27
#define CNTV_CTL_ENABLE		BIT(0)
#define CNTV_CTL_IMASK		BIT(1)

static inline u64 bm_counter(void)
{
	isb();
	return read_sysreg(cntvct_el0);
}
static inline u64 bm_counter_freq(void)
{
	return read_sysreg(cntfrq_el0);
}
static inline u64 bm_ticks_to_ms(u64 ticks)
{
	return ticks * 1000 / bm_counter_freq();
}
static inline u64 bm_deadline_ms(u64 ms)
{
	return bm_counter() + ms * bm_counter_freq() / 1000;
}
static inline void vtimer_arm(u64 ticks)
{
	write_sysreg(ticks, cntv_tval_el0);
	write_sysreg(CNTV_CTL_ENABLE, cntv_ctl_el0);
	isb();
}
static inline void vtimer_stop(void)
{
	write_sysreg(0, cntv_ctl_el0);
	isb();
}

/* Ending the guest */
bool bm_testdev_present(void);
u32 bm_testdev_resets(void);
void bm_exit(int status) __attribute__((noreturn));
void bm_power_off(void) __attribute__((noreturn));
void bm_reset(void) __attribute__((noreturn));
void bm_halt(void) __attribute__((noreturn));

/* What the compiler may call on its own */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);

/* Every guest provides this; its return value is the exit status. */
int main(void *dtb);

#pragma GCC visibility pop

#endif /* __ASSEMBLER__ */
#endif /* BM_H */
