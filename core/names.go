package core

// ephemeralSuffix marks topics and channels that never touch disk and vanish
// when no longer used.
const ephemeralSuffix = "#ephemeral"

// IsValidName reports whether b is a valid topic or channel name: 1–64 bytes
// including an optional "#ephemeral" suffix, otherwise only [.a-zA-Z0-9_-]
// (upstream's regexp `^[.a-zA-Z0-9_-]+(#ephemeral)?$`, without the regexp).
func IsValidName(b []byte) bool {
	if len(b) < 1 || len(b) > 64 {
		return false
	}
	if isEphemeral(b) {
		b = b[:len(b)-len(ephemeralSuffix)]
		if len(b) == 0 {
			return false
		}
	}
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// IsValidNameString is IsValidName for a string.
func IsValidNameString(s string) bool { return IsValidName([]byte(s)) }

func isEphemeral[T string | []byte](b T) bool {
	return len(b) >= len(ephemeralSuffix) && string(b[len(b)-len(ephemeralSuffix):]) == ephemeralSuffix
}
