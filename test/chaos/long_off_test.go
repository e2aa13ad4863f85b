//go:build !chaos_long

package chaos

// longBuild: without the chaos_long tag, CHAOS_LONG alone selects the long
// variants.
const longBuild = false
