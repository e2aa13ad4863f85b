package cluster

import (
	"slices"
	"strings"

	"nsqreactor/core"
)

// regKey names what a lookupd command is about: a topic (channel "") or a
// channel of a topic.
type regKey struct {
	topic, channel string
}

// regCommand is a REGISTER (register true) or UNREGISTER of a key.
type regCommand struct {
	regKey
	register bool
}

// String is the command as upstream logs it: "REGISTER t c".
func (rc regCommand) String() string { return strings.TrimSuffix(string(rc.appendTo(nil)), "\n") }

// appendTo appends the wire form, e.g. "UNREGISTER t\n".
func (rc regCommand) appendTo(dst []byte) []byte {
	if !rc.register {
		dst = append(dst, "UN"...)
	}
	dst = append(dst, "REGISTER "...)
	dst = append(dst, rc.topic...)
	if rc.channel != "" {
		dst = append(dst, ' ')
		dst = append(dst, rc.channel...)
	}
	return append(dst, '\n')
}

// branch is upstream's log word for the kind of object: "topic" or "channel".
func (rc regCommand) branch() string {
	if rc.channel == "" {
		return "topic"
	}
	return "channel"
}

// The hooks below are core's lifecycle callbacks. They only update the
// registry and queue work; none blocks or does I/O.

// topicCreated runs with core's NSQD.mu held. It arranges t.Start: at once
// when no lookupd is configured, otherwise after channel pre-creation on
// its own goroutine (after Start, if the cluster is not started yet).
func (c *Cluster) topicCreated(t *core.Topic) {
	c.mu.Lock()
	c.topics[t.Name()] = &topicEntry{topic: t, channels: make(map[string]*core.Channel)}
	c.queueLocked(regKey{topic: t.Name()})
	startNow := len(c.addrs) == 0 || c.state == stateStopped
	if !startNow {
		if c.state == stateNew {
			c.waiting = append(c.waiting, t)
		} else {
			c.wg.Add(1)
			go c.precreate(t)
		}
	}
	c.mu.Unlock()
	if startNow {
		t.Start()
	}
}

// topicDeleted unregisters the topic's channels, then the topic (lookupd
// warns about channel registrations left behind by a topic UNREGISTER).
// Core has already removed the channels without calling channelDeleted.
func (c *Cluster) topicDeleted(t *core.Topic) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.topics[t.Name()]
	if e == nil || e.topic != t {
		return
	}
	delete(c.topics, t.Name())
	names := make([]string, 0, len(e.channels))
	for name := range e.channels {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		c.queueLocked(regKey{t.Name(), name})
	}
	c.queueLocked(regKey{topic: t.Name()})
}

// channelCreated registers ch unless it (or its topic) is already gone: a
// hook may arrive after the object it reports was deleted.
func (c *Cluster) channelCreated(ch *core.Channel) {
	t := ch.Topic()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.topics[t.Name()]
	if e == nil && !t.Exiting() { // a topic core made without the hook (nsqd.dat)
		e = &topicEntry{topic: t, channels: make(map[string]*core.Channel)}
		c.topics[t.Name()] = e
	}
	if e == nil || e.topic != t || ch.Exiting() {
		return
	}
	e.channels[ch.Name()] = ch
	c.queueLocked(regKey{t.Name(), ch.Name()})
}

// channelDeleted unregisters ch if it is the registered channel of that
// name (a newer channel of the same name may already have replaced it).
func (c *Cluster) channelDeleted(ch *core.Channel) {
	t := ch.Topic()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.topics[t.Name()]
	if e == nil || e.topic != t || e.channels[ch.Name()] != ch {
		return
	}
	delete(e.channels, ch.Name())
	c.queueLocked(regKey{t.Name(), ch.Name()})
}

// queueLocked queues k for every connected peer and wakes it. A
// disconnected peer registers everything when it reconnects, so it needs no
// queue. c.mu must be held.
func (c *Cluster) queueLocked(k regKey) {
	for _, p := range c.peers {
		if p.connected {
			p.pending = append(p.pending, k)
			p.kick()
		}
	}
}

// commandLocked turns k into REGISTER or UNREGISTER according to the
// registry now. c.mu must be held.
func (c *Cluster) commandLocked(k regKey) regCommand {
	e := c.topics[k.topic]
	exists := e != nil && (k.channel == "" || e.channels[k.channel] != nil)
	return regCommand{k, exists}
}

// snapshotLocked returns the REGISTER commands for everything, sorted: per
// topic one REGISTER per channel, or REGISTER of the bare topic when it has
// none (upstream's connect callback). c.mu must be held.
func (c *Cluster) snapshotLocked() []regCommand {
	topics := make([]string, 0, len(c.topics))
	for name := range c.topics {
		topics = append(topics, name)
	}
	slices.Sort(topics)
	var cmds []regCommand
	for _, name := range topics {
		e := c.topics[name]
		if len(e.channels) == 0 {
			cmds = append(cmds, regCommand{regKey{topic: name}, true})
			continue
		}
		chans := make([]string, 0, len(e.channels))
		for ch := range e.channels {
			chans = append(chans, ch)
		}
		slices.Sort(chans)
		for _, ch := range chans {
			cmds = append(cmds, regCommand{regKey{name, ch}, true})
		}
	}
	return cmds
}
