package core

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMetadataRoundTrip(t *testing.T) {
	dir := t.TempDir()
	n := testNSQD(t, func(o *Options) { o.DataPath = dir })
	if err := n.PersistMetadata(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "nsqd.dat"))
	if got, want := string(data), `{"topics":null,"version":"1.3.0"}`; got != want {
		t.Fatalf("fresh nsqd.dat = %s, want %s", got, want)
	}
	tp, _ := n.GetTopic("m1")
	c1, _ := tp.GetChannel("c1")
	tp.GetChannel("c#ephemeral")
	n.GetTopic("h1")
	n.GetTopic("e#ephemeral")
	tp.Pause()
	c1.Pause()
	if err := n.PersistMetadata(); err != nil {
		t.Fatal(err)
	}

	n2 := testNSQD(t, func(o *Options) { o.DataPath = dir })
	if err := n2.LoadMetadata(); err != nil {
		t.Fatal(err)
	}
	m1, err := n2.GetExistingTopic("m1")
	if err != nil || !m1.IsPaused() {
		t.Fatalf("m1 not restored paused (%v)", err)
	}
	ch, err := m1.GetExistingChannel("c1")
	if err != nil || !ch.IsPaused() {
		t.Fatalf("c1 not restored paused (%v)", err)
	}
	if _, err := m1.GetExistingChannel("c#ephemeral"); err == nil {
		t.Fatal("ephemeral channel persisted")
	}
	if _, err := n2.GetExistingTopic("e#ephemeral"); err == nil {
		t.Fatal("ephemeral topic persisted")
	}
	h1, err := n2.GetExistingTopic("h1")
	if err != nil {
		t.Fatal("h1 not restored")
	}
	// a restored topic delivers (it was started)
	hc, _ := h1.GetChannel("c")
	fc := &fakeConsumer{}
	s, _ := hc.AddClient(fc, SubscribeOptions{MsgTimeout: time.Minute})
	hc.SetRDY(s, 1)
	h1.Put([]byte("x"), 0)
	if fc.count() != 1 {
		t.Fatal("restored topic does not deliver")
	}
}

func TestMetadataSkipsInvalidNames(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "nsqd.dat"), []byte(`{"topics":[{"name":"bad!","paused":false,"channels":null},{"name":"ok","paused":false,"channels":[{"name":"bad channel","paused":false}]}],"version":"1.3.0"}`), 0600)
	n := testNSQD(t, func(o *Options) { o.DataPath = dir })
	if err := n.LoadMetadata(); err != nil {
		t.Fatal(err)
	}
	if len(n.Topics()) != 1 {
		t.Fatalf("%d topics loaded, want only the valid one", len(n.Topics()))
	}
	ok, _ := n.GetExistingTopic("ok")
	if len(ok.Channels()) != 0 {
		t.Fatal("invalid channel loaded")
	}
	os.WriteFile(filepath.Join(dir, "nsqd.dat"), []byte(`{not json`), 0600)
	if err := testNSQD(t, func(o *Options) { o.DataPath = dir }).LoadMetadata(); err == nil {
		t.Fatal("corrupt nsqd.dat accepted")
	}
}
