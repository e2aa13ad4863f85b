// Package queue holds generic data structures with no NSQ semantics: a
// growable ring buffer (Ring) and an indexed binary min-heap (Heap).
//
// None of the types here is safe for concurrent use; callers serialize
// (package core holds a channel's lock around them).
package queue
