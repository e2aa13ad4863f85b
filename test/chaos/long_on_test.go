//go:build chaos_long

package chaos

// longBuild: built with -tags chaos_long, the long variants run.
const longBuild = true
