//go:build !unix

package queue

import "errors"

// The disk queue needs mmap; on other platforms OpenDisk fails cleanly and
// the rest of the package still builds.

var errNoMmap = errors.New("queue: disk queue needs a unix platform")

var pageSize int64 = 4096

const (
	flagsCreate = 0
	flagsRead   = 0
	flagsWrite  = 0
	flagsMeta   = 0
)

func openFile(string, int) (int, error)        { return -1, errNoMmap }
func closeFile(int) error                      { return errNoMmap }
func fileSize(int) (int64, error)              { return 0, errNoMmap }
func truncateFile(int, int64) error            { return errNoMmap }
func syncFile(int) error                       { return errNoMmap }
func mapFile(int, int64, bool) ([]byte, error) { return nil, errNoMmap }
func unmapFile([]byte) error                   { return errNoMmap }
func syncMapped([]byte, int64, int64) error    { return errNoMmap }
func syncDir(string) error                     { return errNoMmap }
func reserveFile(int, int64, int64) error      { return errNoMmap }
func isNotExist(err error) bool                { return false }
func writeAll(int, []byte) error               { return errNoMmap }

func removeFile(string) error         { return errNoMmap }
func renameFile(string, string) error { return errNoMmap }

func prefault([]byte) {}

func releasePages([]byte, int64, int64) {}
