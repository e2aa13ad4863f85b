package queue

import (
	"errors"

	"golang.org/x/sys/unix"
)

// syncFile flushes fd's data (and the size, not the timestamps).
func syncFile(fd int) error { return unix.Fdatasync(fd) }

// reserveFile gives fd real blocks over [off, off+n), extending its size.
// Writing through a mapping into a sparse hole on a full disk raises SIGBUS;
// after fallocate it cannot, so a full disk surfaces here, as an error from
// Put. Filesystems without fallocate get explicit zero writes.
func reserveFile(fd int, off, n int64) error {
	err := unix.Fallocate(fd, 0, off, n)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return writeZeros(fd, off, n)
	}
	return err
}

// prefault maps b's pages writable in one call (MADV_POPULATE_WRITE, Linux
// 5.14+), so that Put's copies do not take a page fault every 4 KiB: on a
// virtual machine a fault costs microseconds, more than a small record's
// whole Put. Older kernels refuse the advice and simply fault on demand.
func prefault(b []byte) {
	if len(b) > 0 {
		unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	}
}
