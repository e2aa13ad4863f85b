package core

import (
	"sync"

	"nsqreactor/codec"
)

// MessageID is a message's 16-byte ASCII-hex identifier.
type MessageID [codec.MsgIDLength]byte

// Message is one message in one channel (each channel of a topic has its own
// Message sharing the same immutable Body). Messages are pooled: a Message
// belongs to core from acquireMessage until it is finished, dropped or
// emptied; a Consumer must copy what it needs during Deliver and must not
// keep the pointer.
type Message struct {
	ID        MessageID
	Body      []byte // shared between channels; never modified
	Timestamp int64  // publish time, UnixNano; kept across requeues
	Attempts  uint16 // deliveries so far, incremented just before each one

	deferred int64 // DPUB delay in ns, consumed when the message enters a channel

	// bookkeeping guarded by the owning Channel.mu
	onDisk     bool          // a record of it is on the channel's disk queue, unacknowledged
	diskSeq    uint64        // that record's sequence number
	owner      *Subscription // in flight to this subscriber
	deliveryTS int64         // when it was last sent
	index      int           // position in the in-flight or deferred heap
}

var messagePool = sync.Pool{New: func() any { return new(Message) }}

func acquireMessage() *Message { return messagePool.Get().(*Message) }

func releaseMessage(m *Message) {
	*m = Message{}
	messagePool.Put(m)
}

func setMessageIndex(m *Message, i int) { m.index = i }
