package core

import "errors"

// Domain errors. Callers test them with errors.Is.
var (
	ErrExiting        = errors.New("exiting")
	ErrNotInFlight    = errors.New("ID not in flight")
	ErrNotOwner       = errors.New("client does not own message")
	ErrTopicNotFound  = errors.New("topic not found")
	ErrChanNotFound   = errors.New("channel not found")
	ErrTooManyClients = errors.New("too many consumers")
)
