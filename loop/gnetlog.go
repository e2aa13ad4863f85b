package loop

import (
	"nsqreactor/core"
)

// gnetLogger routes gnet's own log lines into the daemon's log with
// upstream's shape ("[nsqd] … ERROR: …"); gnet's debug and info chatter
// ("Launching gnet with 2 event-loops …") is dropped, so operators' greps
// see the same lines as with upstream nsqd.
type gnetLogger struct{ log *core.Logger }

func (l gnetLogger) Debugf(string, ...any) {}
func (l gnetLogger) Infof(string, ...any)  {}
func (l gnetLogger) Warnf(format string, args ...any) {
	l.log.Logf(core.LogLevelWarn, "GNET: "+format, args...)
}
func (l gnetLogger) Errorf(format string, args ...any) {
	l.log.Logf(core.LogLevelError, "GNET: "+format, args...)
}
func (l gnetLogger) Fatalf(format string, args ...any) {
	l.log.Logf(core.LogLevelFatal, "GNET: "+format, args...)
}
