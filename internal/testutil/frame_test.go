package testutil

import (
	"bytes"
	"testing"
)

func TestDecodeMessage(t *testing.T) {
	payload := []byte{
		0x18, 0xa7, 0x4d, 0x3a, 0xd6, 0xe6, 0x90, 0x00, // timestamp
		0x00, 0x02, // attempts
	}
	payload = append(payload, "0123456789abcdef"...)
	payload = append(payload, "body\n"...)
	m, err := DecodeMessage(payload)
	if err != nil {
		t.Fatal(err)
	}
	if m.Timestamp != 0x18a74d3ad6e69000 || m.Attempts != 2 || m.ID.String() != "0123456789abcdef" || string(m.Body) != "body\n" {
		t.Fatalf("got %+v", m)
	}
	for _, n := range []int{0, 10, MsgHeaderSize - 1} {
		if _, err := DecodeMessage(payload[:n]); err == nil {
			t.Fatalf("DecodeMessage of %d bytes: got nil error, want an error", n)
		}
	}
	if m, err := DecodeMessage(payload[:MsgHeaderSize]); err != nil || len(m.Body) != 0 {
		t.Fatalf("header only: got %+v, %v; want an empty body", m, err)
	}
}

func TestEncodeFrame(t *testing.T) {
	for _, tc := range []struct {
		frameType int32
		payload   string
		want      []byte
	}{
		{FrameResponse, "OK", []byte{0, 0, 0, 6, 0, 0, 0, 0, 'O', 'K'}},
		{FrameError, "E_BAD_PROTOCOL", append([]byte{0, 0, 0, 0x12, 0, 0, 0, 1}, "E_BAD_PROTOCOL"...)},
		{FrameMessage, "", []byte{0, 0, 0, 4, 0, 0, 0, 2}},
	} {
		if got := EncodeFrame(tc.frameType, []byte(tc.payload)); !bytes.Equal(got, tc.want) {
			t.Errorf("EncodeFrame(%d, %q) = % x, want % x", tc.frameType, tc.payload, got, tc.want)
		}
	}
}

func TestMPUBBody(t *testing.T) {
	got := MPUBBody([]byte("a"), []byte("bc"))
	want := []byte{0, 0, 0, 2, 0, 0, 0, 1, 'a', 0, 0, 0, 2, 'b', 'c'}
	if !bytes.Equal(got, want) {
		t.Fatalf("got % x, want % x", got, want)
	}
	if got := AppendSize([]byte("x"), -1); !bytes.Equal(got, []byte{'x', 0xff, 0xff, 0xff, 0xff}) {
		t.Fatalf("AppendSize(-1) = % x", got)
	}
}

func TestFrameTypeName(t *testing.T) {
	for ft, want := range map[int32]string{0: "response", 1: "error", 2: "message", 7: "frame type 7"} {
		if got := FrameTypeName(ft); got != want {
			t.Errorf("FrameTypeName(%d) = %q, want %q", ft, got, want)
		}
	}
}
