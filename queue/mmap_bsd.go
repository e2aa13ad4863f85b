//go:build unix && !linux

package queue

import "golang.org/x/sys/unix"

// reserveFile gives fd real blocks over [off, off+n) by writing zeros (no
// portable fallocate); see the Linux version for why.
func reserveFile(fd int, off, n int64) error { return writeZeros(fd, off, n) }

// syncFile flushes fd (no fdatasync here).
func syncFile(fd int) error { return unix.Fsync(fd) }

func prefault([]byte) {}
