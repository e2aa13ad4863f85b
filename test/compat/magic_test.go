package compat

import (
	"bytes"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"nsqreactor/internal/testutil"
)

// Spec §1.1: any 4 bytes other than "  V2" get exactly one E_BAD_PROTOCOL
// frame, then the close.
func TestMagicBad(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		for _, magic := range []string{"  V1", "V2  ", "  v2", "\x00\x00\x00\x00", "GET "} {
			t.Run(strings.TrimSpace(magic), func(t *testing.T) {
				t.Parallel()
				c := testutil.DialNoMagic(t, d.TCPAddr)
				c.Write(t, []byte(magic))
				// Byte-exact: 00 00 00 12 | 00 00 00 01 | "E_BAD_PROTOCOL", then EOF.
				c.Conn.SetReadDeadline(time.Now().Add(testutil.DefaultTimeout))
				got, err := io.ReadAll(c.Conn)
				if err != nil && !testutil.IsClosedErr(err) {
					t.Fatalf("reading until close: %v (got %q so far)", err, got)
				}
				want := []byte("\x00\x00\x00\x12\x00\x00\x00\x01E_BAD_PROTOCOL")
				if !bytes.Equal(got, want) {
					t.Fatalf("got %q, want %q then close", got, want)
				}
			})
		}
	})
}

// Bytes after a good magic are commands: garbage is an unknown command.
func TestMagicGarbageAfter(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		runFatalCases(t, d, nil, []errCase{
			{"word", cmd("garbage"), "E_INVALID invalid command garbage"},
			{"binary", cmd("\x00\x01\xff"), "E_INVALID invalid command \x00\x01\xff"},
			{"second magic", []byte("  V2\n"), "E_INVALID invalid command "},
			{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), "E_INVALID invalid command GET"},
		})
	})
}

// The magic and commands may arrive in any fragmentation, and several
// commands may arrive in one write (pipelining).
func TestMagicAndCommandsFragmented(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "frag")
		stream := append([]byte(testutil.Magic), cmdBody("PUB "+topic, "one")...)
		stream = append(stream, cmd("NOP")...)
		stream = append(stream, cmdBody("PUB "+topic, "two")...)

		t.Run("byte by byte", func(t *testing.T) {
			c := testutil.DialNoMagic(t, d.TCPAddr)
			for i := range stream {
				c.Write(t, stream[i:i+1])
				if i%7 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			c.ExpectResponse(t, "OK")
			c.ExpectResponse(t, "OK")
		})
		t.Run("one write", func(t *testing.T) {
			c := testutil.DialNoMagic(t, d.TCPAddr)
			c.Write(t, stream)
			c.ExpectResponse(t, "OK")
			c.ExpectResponse(t, "OK")
		})
		t.Run("consumed in order", func(t *testing.T) {
			c := subscriber(t, d, "", topic, "c")
			c.Rdy(t, 10)
			got := collectFrom(t, []*testutil.RawConn{c}, 4, true, testutil.DefaultTimeout)[0]
			if want := []string{"one", "two", "one", "two"}; !slices.Equal(got, want) {
				t.Fatalf("got bodies %q, want %q", got, want)
			}
		})
	})
}

// Spec §2.1: the OK response frame byte for byte.
func TestResponseFrameBytes(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		c := testutil.Dial(t, d.TCPAddr)
		c.CommandBody(t, "PUB "+uniq(t, "ok"), []byte("x"))
		got := make([]byte, 10)
		c.Conn.SetReadDeadline(time.Now().Add(testutil.DefaultTimeout))
		if _, err := io.ReadFull(c.Conn, got); err != nil {
			t.Fatal(err)
		}
		if want := []byte{0, 0, 0, 6, 0, 0, 0, 0, 'O', 'K'}; !bytes.Equal(got, want) {
			t.Fatalf("got % x, want % x", got, want)
		}
	})
}

// Spec §1.2: command-line rules.
func TestCommandLineRules(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		topic := uniq(t, "line")
		t.Run("fatal", func(t *testing.T) {
			runFatalCases(t, d, nil, []errCase{
				{"lower case", cmdBody("pub "+topic, "x"), "E_INVALID invalid command pub"},
				{"mixed case", cmd("Nop"), "E_INVALID invalid command Nop"},
				{"empty line", cmd(""), "E_INVALID invalid command "},
				{"crlf only", []byte("\r\n"), "E_INVALID invalid command "},
				{"leading space", cmd(" NOP"), "E_INVALID invalid command "},
				{"tab separator", cmdBody("PUB\t"+topic, "x"), "E_INVALID invalid command PUB\t" + topic},
				{"double space", cmdBody("PUB  "+topic, "x"), `E_BAD_TOPIC PUB topic name "" is not valid`},
			})
		})
		t.Run("crlf stripped", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			c.Write(t, append(testutil.AppendSize([]byte("PUB "+topic+"\r\n"), 4), "crlf"...))
			c.ExpectResponse(t, "OK")
			c.Write(t, []byte("NOP\r\n"))
			c.ExpectAlive(t)
		})
		t.Run("extra params ignored", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			c.CommandBody(t, "PUB "+topic+" extra params", []byte("x"))
			c.ExpectResponse(t, "OK")
			c.CommandBody(t, "PUB "+topic+" ", []byte("x")) // trailing space: an empty extra param
			c.ExpectResponse(t, "OK")
			c.Command(t, "NOP x y z")
			c.Command(t, "SUB "+topic+" c extra")
			c.ExpectResponse(t, "OK")
			c.ExpectAlive(t)
		})
	})
}

// Spec §1.2: a command line may be 16384 bytes including "\n"; a longer one
// makes the server drop the connection without an error frame.
func TestCommandLineTooLong(t *testing.T) {
	forEachImpl(t, func(t *testing.T, impl testutil.Impl) {
		d := impl.Start(t)
		t.Run("16384 with newline accepted", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			c.Write(t, []byte("NOP "+strings.Repeat("x", 16384-5)+"\n"))
			c.ExpectAlive(t)
		})
		t.Run("16385 with newline closed", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			c.Write(t, []byte("NOP "+strings.Repeat("x", 16384-4)+"\n"))
			c.ExpectClosed(t)
		})
		t.Run("no newline closed", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			c.TryWrite([]byte("PUB " + strings.Repeat("t", 20000)))
			c.ExpectClosed(t)
		})
		t.Run("daemon still serves", func(t *testing.T) {
			t.Parallel()
			c := testutil.Dial(t, d.TCPAddr)
			c.TryWrite([]byte(strings.Repeat("z", 1<<20)))
			c.ExpectClosed(t)
			testutil.Dial(t, d.TCPAddr).ExpectAlive(t)
		})
	})
}
