// SPDX-License-Identifier: MIT
/*
 * PL011 output, polled, and a printf just big enough for test kernels:
 * %d %i %u %x %p %s %c %%, with l/ll, a width and the '0' flag.
 */
#include "bm.h"

#define UART_DR		0x00
#define UART_FR		0x18
#define UART_FR_TXFF	BIT(5)

/* Lines end in a bare '\n': harnesses compare them; a tty adds the '\r'. */
void bm_putc(char c)
{
	while (readl(BM_UART_BASE + UART_FR) & UART_FR_TXFF)
		;
	writel((u8)c, BM_UART_BASE + UART_DR);
}

void bm_puts(const char *s)
{
	while (*s)
		bm_putc(*s++);
}

static void put_unsigned(u64 val, unsigned int base, int width, char pad)
{
	char digits[20];
	int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[val % base];
		val /= base;
	} while (val);
	for (; width > n; width--)
		bm_putc(pad);
	while (n)
		bm_putc(digits[--n]);
}

static void put_signed(s64 val, int width, char pad)
{
	if (val < 0) {
		bm_putc('-');
		put_unsigned(-(u64)val, 10, width - 1, pad);
	} else {
		put_unsigned(val, 10, width, pad);
	}
}

void bm_vprintf(const char *fmt, va_list ap)
{
	for (; *fmt; fmt++) {
		bool is_long = false;
		char pad = ' ';
		int width = 0;
		const char *s;

		if (*fmt != '%') {
			bm_putc(*fmt);
			continue;
		}
		if (*++fmt == '0')
			pad = *fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + *fmt++ - '0';
		while (*fmt == 'l') {
			is_long = true;
			fmt++;
		}

		switch (*fmt) {
		case 'd':
		case 'i':
			put_signed(is_long ? va_arg(ap, long) : va_arg(ap, int),
				   width, pad);
			break;
		case 'u':
		case 'x':
			put_unsigned(is_long ? va_arg(ap, unsigned long) :
					       va_arg(ap, unsigned int),
				     *fmt == 'u' ? 10 : 16, width, pad);
			break;
		case 'p':
			bm_puts("0x");
			put_unsigned((uintptr_t)va_arg(ap, void *), 16, width, pad);
			break;
		case 's':
			s = va_arg(ap, const char *);
			bm_puts(s ? s : "(null)");
			break;
		case 'c':
			bm_putc(va_arg(ap, int));
			break;
		case '\0':
			return;
		default:
			bm_putc('%');
			bm_putc(*fmt);
		}
	}
}

void bm_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bm_vprintf(fmt, ap);
	va_end(ap);
}
