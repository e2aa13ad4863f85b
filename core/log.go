package core

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

var levelNames = [...]string{"", "DEBUG", "INFO", "WARNING", "ERROR", "FATAL"}

// Logger writes upstream-shaped log lines:
//
//	[nsqd] 2026/11/24 23:42:07.637698 INFO: TCP: listening on 127.0.0.1:4150
//
// It is safe for concurrent use. Logging is never on the per-message path.
type Logger struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	level  atomic.Int32
}

// NewLogger returns a logger for opts (stderr unless opts.Logger is set).
func NewLogger(opts *Options) *Logger {
	w := opts.Logger
	if w == nil {
		w = os.Stderr
	}
	l := &Logger{w: w, prefix: opts.LogPrefix}
	l.level.Store(int32(opts.LogLevel))
	return l
}

// SetLevel changes the minimum level logged (PUT /config/log_level).
func (l *Logger) SetLevel(level int) { l.level.Store(int32(level)) }

// Level returns the minimum level logged.
func (l *Logger) Level() int { return int(l.level.Load()) }

// Logf logs at level if it is enabled.
func (l *Logger) Logf(level int, format string, args ...any) {
	if int32(level) < l.level.Load() {
		return
	}
	name := "INFO"
	if level >= 1 && level < len(levelNames) {
		name = levelNames[level]
	}
	ts := time.Now().Format("2006/01/02 15:04:05.000000")
	line := fmt.Sprintf("%s%s %s: %s\n", l.prefix, ts, name, fmt.Sprintf(format, args...))
	l.mu.Lock()
	io.WriteString(l.w, line)
	l.mu.Unlock()
}
