//go:build unix

package queue

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// The disk queue's few system calls, behind one file per platform family
// (gnet's layout). Everything here works on raw descriptors: a segment keeps
// its descriptor only while it is being written, so a long queue holds
// mappings, not open files.

var pageSize = int64(os.Getpagesize())

// openFile opens path with flags (O_CLOEXEC added) and mode 0600, as
// go-diskqueue creates its files.
func openFile(path string, flags int) (int, error) {
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

func closeFile(fd int) error { return unix.Close(fd) }

// fileSize returns the size of the open file fd.
func fileSize(fd int) (int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0, err
	}
	return st.Size, nil
}

func truncateFile(fd int, size int64) error { return unix.Ftruncate(fd, size) }

// mapFile maps length bytes of fd shared, read-only or read-write. length may
// exceed the file's size: pages past the end must not be touched (SIGBUS)
// until reserveFile has extended the file over them.
func mapFile(fd int, length int64, writable bool) ([]byte, error) {
	prot := unix.PROT_READ
	if writable {
		prot |= unix.PROT_WRITE
	}
	return unix.Mmap(fd, 0, int(length), prot, unix.MAP_SHARED)
}

func unmapFile(b []byte) error { return unix.Munmap(b) }

// syncMapped writes b's dirty pages to the file and waits for the device.
// b must start inside the mapping; the start is rounded down to a page.
func syncMapped(mapping []byte, from, to int64) error {
	from -= from % pageSize
	if to <= from {
		return nil
	}
	return unix.Msync(mapping[from:to], unix.MS_SYNC)
}

// releasePages drops the whole pages of mapping[from:to) from the process's
// page tables (MADV_DONTNEED; from and to are rounded down to pages). On a
// shared file mapping that loses nothing: the pages stay in the page cache,
// dirty ones are still written back by msync, and a later access maps them
// again with a minor fault. It keeps the written and the consumed parts of
// a queue from counting as the daemon's RSS (811 MiB peak in the disk/pub
// benchmark before, against upstream's 15 MiB with write(2)). Put calls it
// under the queue's lock every releaseStep bytes: it waits for no I/O, it
// only unmaps pages (tens of microseconds per MiB).
func releasePages(mapping []byte, from, to int64) {
	from -= from % pageSize
	to -= to % pageSize
	if to > from {
		unix.Madvise(mapping[from:to], unix.MADV_DONTNEED)
	}
}

// syncDir makes the directory's entries (a new segment's name) durable.
func syncDir(dir string) error {
	fd, err := openFile(dir, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	err = unix.Fsync(fd)
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	return err
}

// writeZeros extends fd over [off, off+n) with explicit zero writes: the
// portable way to get real blocks (and ENOSPC/EFBIG now, not SIGBUS later).
func writeZeros(fd int, off, n int64) error {
	var zeros [64 << 10]byte
	for n > 0 {
		chunk := min(n, int64(len(zeros)))
		w, err := unix.Pwrite(fd, zeros[:chunk], off)
		if err != nil {
			return err
		}
		if w == 0 {
			return errors.New("queue: short write")
		}
		off += int64(w)
		n -= int64(w)
	}
	return nil
}

const (
	flagsCreate = unix.O_RDWR | unix.O_CREAT | unix.O_EXCL
	flagsRead   = unix.O_RDONLY
	flagsWrite  = unix.O_RDWR
	flagsMeta   = unix.O_WRONLY | unix.O_CREAT | unix.O_TRUNC
)

func isNotExist(err error) bool { return errors.Is(err, unix.ENOENT) }

func writeAll(fd int, b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(fd, b)
		if err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

func removeFile(path string) error {
	if err := unix.Unlink(path); err != nil {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	return nil
}

func renameFile(from, to string) error {
	if err := unix.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}
