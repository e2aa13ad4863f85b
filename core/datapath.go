package core

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// LockDataPath takes an exclusive, non-blocking flock on the data directory so
// a second daemon on the same --data-path refuses to start, with upstream's
// messages. The returned function releases it.
func LockDataPath(path string) (unlock func(), err error) {
	if path == "" {
		if path, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("failed to lock data-path: %w", err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("failed to lock data-path: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("failed to lock data-path: cannot flock directory %s - %s (possibly in use by another instance of nsqd)", path, err)
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}
