package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// metadataFile is nsqd.dat, upstream's JSON list of topics and channels.
type metadataFile struct {
	Topics  []topicMetadata `json:"topics"`
	Version string          `json:"version"`
}

type topicMetadata struct {
	Name     string            `json:"name"`
	Paused   bool              `json:"paused"`
	Channels []channelMetadata `json:"channels"`
}

type channelMetadata struct {
	Name   string `json:"name"`
	Paused bool   `json:"paused"`
}

// MetadataPath is where nsqd.dat lives.
func (n *NSQD) MetadataPath() string {
	dir := n.opts.DataPath
	if dir == "" {
		dir, _ = os.Getwd()
	}
	return filepath.Join(dir, "nsqd.dat")
}

// LoadMetadata recreates the topics and channels listed in nsqd.dat (paused
// state included) and starts them; a missing file is a fresh start. Invalid
// names are skipped with upstream's warning. It must run before any client
// connects.
func (n *NSQD) LoadMetadata() error {
	fn := n.MetadataPath()
	data, err := os.ReadFile(fn)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("failed to read metadata from %s - %w", fn, err)
	}
	var m metadataFile
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("failed to parse metadata in %s - %w", fn, err)
	}
	for _, tm := range m.Topics {
		if !IsValidNameString(tm.Name) {
			n.logf(LogLevelWarn, "skipping creation of invalid topic %s", tm.Name)
			continue
		}
		t, err := n.loadTopic(tm.Name)
		if err != nil {
			return err
		}
		if tm.Paused {
			t.Pause()
		}
		for _, cm := range tm.Channels {
			if !IsValidNameString(cm.Name) {
				n.logf(LogLevelWarn, "skipping creation of invalid channel %s", cm.Name)
				continue
			}
			ch, err := t.GetChannel(cm.Name)
			if err != nil {
				return err
			}
			if cm.Paused {
				ch.Pause()
			}
		}
		t.Start()
	}
	return nil
}

// loadTopic creates a topic without running the TopicCreated hook: no
// lookupd channel query while loading, as upstream.
func (n *NSQD) loadTopic(name string) (*Topic, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if t, ok := n.topics[name]; ok {
		return t, nil
	}
	t, err := newTopic(n, name)
	if err != nil {
		return nil, err
	}
	n.topics[name] = t
	return t, nil
}

// PersistMetadata writes nsqd.dat atomically (temp file, fsync, rename) with
// every non-ephemeral topic and channel.
func (n *NSQD) PersistMetadata() error {
	n.metaMu.Lock()
	defer n.metaMu.Unlock()
	n.metaDirty.Store(false)
	fn := n.MetadataPath()
	n.logf(LogLevelInfo, "NSQ: persisting topic/channel metadata to %s", fn)
	data, err := json.Marshal(n.metadata())
	if err != nil {
		return err
	}
	tmp := fn + "." + strconv.FormatUint(rand.Uint64(), 10) + ".tmp"
	if err := writeSynced(tmp, data); err != nil {
		return err
	}
	return os.Rename(tmp, fn)
}

func (n *NSQD) metadata() *metadataFile {
	m := &metadataFile{Version: Version}
	for _, t := range n.Topics() {
		if t.ephemeral {
			continue
		}
		tm := topicMetadata{Name: t.name, Paused: t.IsPaused()}
		for _, ch := range t.Channels() {
			if ch.ephemeral {
				continue
			}
			tm.Channels = append(tm.Channels, channelMetadata{Name: ch.name, Paused: ch.IsPaused()})
		}
		m.Topics = append(m.Topics, tm)
	}
	return m
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// metadataChanged schedules an nsqd.dat rewrite soon (topic and channel
// creation and deletion; upstream writes it asynchronously too).
func (n *NSQD) metadataChanged() { n.metaDirty.Store(true) }

// metadataLoop rewrites nsqd.dat when it changed, at most every 100 ms.
func (n *NSQD) metadataLoop() {
	defer n.wg.Done()
	ticker := time.NewTicker(100 * time.Millisecond)
	defer ticker.Stop()
	for {
		select {
		case <-n.exitCh:
			return
		case <-ticker.C:
		}
		if n.metaDirty.Load() {
			if err := n.PersistMetadata(); err != nil {
				n.logf(LogLevelError, "failed to persist metadata - %s", err)
			}
		}
	}
}
