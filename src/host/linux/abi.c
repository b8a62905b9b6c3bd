/* SPDX-License-Identifier: MIT */
/* Linux facts as a Linux guest reads them: as they are. */
#include "host/abi.h"

#include <errno.h>
#include <sys/sysmacros.h>

const char host_variant[] = "linux";

uint32_t abi_linux_errno(int e)
{
	return e > 0 ? (uint32_t)e : EIO;
}

uint64_t abi_linux_dev(dev_t dev)
{
	uint64_t ma = major(dev), mi = minor(dev);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffull) << 12);
}

dev_t abi_host_dev(uint32_t ma, uint32_t mi)
{
	return makedev(ma, mi);
}
