/* SPDX-License-Identifier: MIT */
/*
 * Host facts as a Linux guest reads them, on a host whose numbers are its
 * own (macOS: ENOTEMPTY is 66 there, 39 on Linux; ELOOP 62, not 40).
 */
#include "host/posix/posix.h"
#include "host/abi.h"

#ifdef __linux__
#include <sys/sysmacros.h>	/* glibc's major()/minor() (sys/types.h on the BSDs) */
#endif

const char host_variant[] = "posix";

uint32_t abi_linux_errno(int e)
{
	/* Linux's numbers, written out: the names are the host's. */
	switch (e) {
	case EPERM: return 1;
	case ENOENT: return 2;
	case EINTR: return 4;
	case EIO: return 5;
	case ENXIO: return 6;
	case E2BIG: return 7;
	case EBADF: return 9;
	case EAGAIN: return 11;
	case ENOMEM: return 12;
	case EACCES: return 13;
	case EFAULT: return 14;
	case EBUSY: return 16;
	case EEXIST: return 17;
	case EXDEV: return 18;
	case ENODEV: return 19;
	case ENOTDIR: return 20;
	case EISDIR: return 21;
	case EINVAL: return 22;
	case ENFILE: return 23;
	case EMFILE: return 24;
	case ENOTTY: return 25;
	case ETXTBSY: return 26;
	case EFBIG: return 27;
	case ENOSPC: return 28;
	case ESPIPE: return 29;
	case EROFS: return 30;
	case EMLINK: return 31;
	case EPIPE: return 32;
	case ERANGE: return 34;
	case EDEADLK: return 35;
	case ENAMETOOLONG: return 36;
	case ENOLCK: return 37;
	case ENOSYS: return 38;
	case ENOTEMPTY: return 39;
	case ELOOP: return 40;
#ifdef ENODATA
	case ENODATA: return 61;
#endif
#ifdef ENOATTR
#if ENOATTR != ENODATA
	case ENOATTR: return 61;	/* macOS's no-such-xattr: Linux says ENODATA */
#endif
#endif
	case EPROTO: return 71;
	case EBADMSG: return 74;
	case EOVERFLOW: return 75;
	case EILSEQ: return 84;
	case EMSGSIZE: return 90;
	case EOPNOTSUPP: return 95;
#if defined(ENOTSUP) && ENOTSUP != EOPNOTSUPP
	case ENOTSUP: return 95;
#endif
	case ETIMEDOUT: return 110;
	case ESTALE: return 116;
	case EDQUOT: return 122;
	case ECANCELED: return 125;
	default: return 5;		/* EIO */
	}
}

uint64_t abi_linux_dev(dev_t dev)
{
	uint64_t ma = (uint64_t)major(dev), mi = (uint64_t)minor(dev);

	return (mi & 0xff) | (ma << 8) | ((mi & ~0xffull) << 12);
}

dev_t abi_host_dev(uint32_t ma, uint32_t mi)
{
	return makedev(ma, mi);
}
