package loop

import (
	"context"
	"sync/atomic"

	"nsqreactor/codec"
	"nsqreactor/core"
)

// waitState says why a connection has stopped parsing commands.
type waitState uint8

const (
	waitNone      waitState = iota
	waitHandshake           // the TLS handshake runs on a helper goroutine
	waitAuth                // an auth server query runs on a helper goroutine
	waitDurable             // --sync-every=1: this batch's OKs wait for the fsync
)

// streamDecoder is a compression layer's inbound half (codec.SnappyDecoder,
// codec.DeflateDecoder): Write takes wire bytes (copying them), Space and
// Commit let TLS decrypt into its input in place, Decode yields plaintext on
// demand.
type streamDecoder interface {
	Write(p []byte) (int, error)
	Space(n int) []byte
	Commit(k int)
	Decode(dst []byte, max int) ([]byte, error)
}

// streamEncoder is a compression layer's outbound half: each Encode call
// is one flushed batch.
type streamEncoder interface {
	Encode(dst, src []byte) []byte
}

// compression is a negotiated compression layer; the zero value is none.
type compression struct {
	snappy       bool
	deflateLevel int // > 0: deflate at this level
}

// decodeStep is how much plaintext the layered path decodes at a time when
// it does not know the size of the command it is waiting for.
const decodeStep = 64 * 1024

// connExt is the state of a connection off the plain fast path: one with a
// TLS or compression layer, or one waiting for an answer from a helper
// goroutine. Everything is owned by the connection's event loop except
// reply, which the auth goroutine sets.
//
// Inbound bytes flow gnet buffer → TLS (tlsLayer) → decoder → in → parser;
// outbound c.out → encoder → TLS → gnet. Without a decoder, TLS plaintext
// goes straight to in; without TLS, gnet's bytes go straight to the decoder.
type connExt struct {
	tls         *tlsLayer     // nil until tls_v1 is negotiated
	dec         streamDecoder // nil without compression
	enc         streamEncoder
	release     func() // frees the decoder's resources (deflate's coroutine)
	compression string // "snappy", "deflate" or "", for /stats

	in        []byte // plaintext after the layers; in[inOff:] is unparsed
	inOff     int
	wire      []byte // encoder output, reused
	refeed    bool   // a decoder was just installed: in[inOff:] is its input
	decodeErr error  // the decoder failed; close once its plaintext is parsed

	wait    waitState
	pending compression // switched on when the TLS handshake completes

	reply  atomic.Pointer[authReply] // set by the auth goroutine
	cancel context.CancelFunc        // cancels the auth query in flight

	held    []byte                // responses held until durable (waitDurable)
	durable atomic.Pointer[error] // set by the durability waiter: nil error = synced
}

// layered reports whether bytes must pass through a TLS or compression layer.
func (x *connExt) layered() bool { return x.tls != nil || x.dec != nil }

// extension returns c.ext, creating it: the connection leaves the fast path.
func (c *conn) extension() *connExt {
	if c.ext == nil {
		c.ext = &connExt{}
	}
	return c.ext
}

// extTraffic is OnTraffic for a connection with c.ext set.
func (c *conn) extTraffic() {
	x := c.ext
	if x.wait != waitNone && !c.collectAnswer() {
		if x.wait == waitHandshake && !c.closeNow {
			c.pullRaw() // the handshake's ciphertext
			c.tlsFlush()
		}
		return
	}
	if !x.layered() {
		// the wait is over and there is no layer: back to the fast path,
		// re-parsing from the command that paused
		c.ext, c.halt = nil, c.closeNow
		c.readCommands()
		return
	}
	c.halt = c.closeNow
	if err := c.pullLayered(); err != nil {
		c.srv.nsqd.Logger().Logf(core.LogLevelError, "[%s] failed to read command - %s", c.remoteAddr, err)
		c.closeNow, c.halt = true, true
	}
	c.pumpLayered()
	c.tlsFlush()
}

// pullLayered runs gnet's inbound bytes up through the layers into x.in
// (TLS) or the decoder's input. Once the handshake is done the TLS record
// layer reads the ciphertext where gnet holds it (tlsPipe.lend): only a
// partial record's bytes are copied, into crypto/tls's own buffer.
func (c *conn) pullLayered() error {
	x := c.ext
	if x.tls == nil {
		c.pullRaw()
		return nil
	}
	buf, _ := c.gc.Peek(-1)
	p := x.tls.pipe
	p.lend(buf)
	err := c.decrypt()
	p.unlend() // keeps what was not read: buf dies at Discard
	if len(buf) > 0 {
		c.gc.Discard(len(buf))
		c.stats.bytesIn.Add(uint64(len(buf)))
	}
	return err
}

// pullRaw moves gnet's inbound bytes into the bottom layer, copying them.
func (c *conn) pullRaw() {
	buf, _ := c.gc.Peek(-1)
	if len(buf) == 0 {
		return
	}
	if x := c.ext; x.tls != nil {
		x.tls.pipe.push(buf)
	} else {
		x.dec.Write(buf)
	}
	c.gc.Discard(len(buf))
	c.stats.bytesIn.Add(uint64(len(buf)))
}

// pumpLayered parses the plaintext in x.in, decoding more as the parser
// needs it. It decodes only what the command being parsed can use (or
// decodeStep when its size is not yet known), and stops as soon as the
// parser halts, so a compressed body that a size check rejects is never
// inflated.
func (c *conn) pumpLayered() {
	x := c.ext
	x.refeed = false // set outside a parse (plain path, after TLS) it concerns no buffered byte
	for {
		if avail := len(x.in) - x.inOff; avail > 0 && !c.halt && (c.need == 0 || avail >= c.need) {
			x.inOff += c.parseCommands(x.in[x.inOff:])
			if x.refeed {
				x.refeedIn()
			}
		}
		if c.halt {
			break
		}
		if x.decodeErr != nil {
			c.srv.nsqd.Logger().Logf(core.LogLevelError, "[%s] failed to read command - %s", c.remoteAddr, x.decodeErr)
			c.closeNow, c.halt = true, true
			break
		}
		if x.dec == nil {
			break
		}
		want := decodeStep
		if avail := len(x.in) - x.inOff; c.need > avail {
			want = c.need - avail
		}
		x.compactIn()
		before := len(x.in)
		x.in, x.decodeErr = x.dec.Decode(x.in, want)
		if len(x.in) == before && x.decodeErr == nil {
			break
		}
	}
	if x.inOff == len(x.in) {
		x.in, x.inOff = x.in[:0], 0
		if cap(x.in) > maxRetainedBuffer {
			x.in = nil
		}
	}
}

// compactIn moves the unparsed plaintext to the front of x.in.
func (x *connExt) compactIn() {
	if x.inOff > 0 {
		n := copy(x.in, x.in[x.inOff:])
		x.in, x.inOff = x.in[:n], 0
	}
}

// refeedIn hands the unparsed bytes to the decoder installed by the command
// just parsed: they were sent after that command, already compressed.
func (x *connExt) refeedIn() {
	x.refeed = false
	x.dec.Write(x.in[x.inOff:])
	x.in, x.inOff = x.in[:0], 0
}

// writeOut writes c.out through the layers. During the TLS handshake it
// holds everything back: nothing may reach the client until the handshake
// is done and the upgrade's OK has gone out.
func (x *connExt) writeOut(c *conn) error {
	if x.wait == waitHandshake {
		return nil
	}
	p := c.out
	if x.enc != nil {
		x.wire = x.enc.Encode(x.wire[:0], p)
		p = x.wire
	}
	var err error
	if x.tls != nil {
		if _, err = x.tls.conn.Write(p); err == nil {
			err = c.tlsFlush()
		}
	} else {
		_, err = c.gc.Write(p)
		c.stats.bytesOut.Add(uint64(len(p)))
	}
	c.recycleOut()
	if cap(x.wire) > maxRetainedBuffer {
		x.wire = nil
	}
	return err
}

// enableCompression installs a compression layer in both directions: the
// next byte written and the next byte read go through it.
func (c *conn) enableCompression(comp compression) {
	x := c.extension()
	if comp.snappy {
		x.enc, x.dec, x.compression = &codec.SnappyEncoder{}, &codec.SnappyDecoder{}, "snappy"
	} else {
		enc, err := codec.NewDeflateEncoder(comp.deflateLevel)
		if err != nil { // the level was capped to --max-deflate-level, 1..9
			panic("loop: deflate level " + codec.Itoa(int64(comp.deflateLevel)) + ": " + err.Error())
		}
		dec := codec.NewDeflateDecoder()
		x.enc, x.dec, x.release, x.compression = enc, dec, func() { dec.Close() }, "deflate"
	}
	x.refeed = true
	c.shareStats()
}

// close releases the layers' goroutines and cancels an auth query; called
// from OnClose.
func (x *connExt) close(c *conn) {
	if x.tls != nil {
		x.tls.pipe.Close()
	}
	if x.release != nil {
		x.release()
	}
	if x.cancel != nil {
		x.cancel()
	}
}

// collectAnswer takes the answer the connection waits for, if it has
// arrived, and reports whether the wait is over.
func (c *conn) collectAnswer() bool {
	x := c.ext
	switch x.wait {
	case waitHandshake:
		done, err := x.tls.pipe.result()
		if !done {
			return false
		}
		if err != nil {
			c.handshakeFailed(err)
			return false
		}
		x.wait = waitNone
		c.finishTLS()
	case waitAuth:
		r := x.reply.Swap(nil)
		if r == nil {
			return false
		}
		x.wait, x.cancel = waitNone, nil
		c.auth.reply = r
	case waitDurable:
		r := x.durable.Swap(nil)
		if r == nil {
			return false
		}
		x.wait = waitNone
		if *r != nil {
			// the sync failed: the held OKs must not go out
			c.srv.nsqd.Logger().Logf(core.LogLevelError, "[%s] disk sync failed - %s", c.remoteAddr, *r)
			x.held = x.held[:0]
			c.closeNow, c.halt = true, true
			return false
		}
		c.out = append(c.out, x.held...)
		x.held = x.held[:0]
	}
	return true
}

// holdForDurability runs at the end of a batch that published with
// --sync-every=1: the batch's responses are held (message frames still flow)
// and parsing pauses while one goroutine waits for the shared fsync of every
// disk queue the batch wrote to (group commit across connections); then the
// loop is woken, sends the OKs and resumes. A failed sync closes the
// connection without them, so no publish is acknowledged that is not on disk.
func (c *conn) holdForDurability() {
	x := c.extension()
	x.held = append(x.held, c.out...)
	c.out = c.out[:0]
	x.wait = waitDurable
	w := c.dur
	c.dur = core.Durability{}
	go func() {
		err := w.Wait()
		x.durable.Store(&err)
		c.gc.Wake(nil)
	}()
}
