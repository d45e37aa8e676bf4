package uplinktest

import "testing"

// TestFramerFindsPuback follows MQTT packet boundaries across arbitrary
// chunk splits: only a PUBACK at a packet start is found, never a 0x40 byte
// inside another packet's body or length.
func TestFramerFindsPuback(t *testing.T) {
	stream := []byte{
		0x30, 0x05, 0x00, 0x01, 't', 0x40, 0x40, // PUBLISH (QoS 0) whose body holds 0x40 bytes
		0xd0, 0x00, // PINGRESP
		0x30, 0xc0, 0x00, // PUBLISH, remaining length 64 (two bytes: 0xc0 0x00 is 64 with a continuation)
	}
	body := make([]byte, 64)
	for i := range body {
		body[i] = 0x40
	}
	stream = append(stream, body...)
	at := len(stream)
	stream = append(stream, 0x40, 0x02, 0x00, 0x07) // PUBACK for packet 7
	for split := 1; split <= len(stream); split++ {
		var f framer
		got := -1
		for off := 0; off < len(stream) && got < 0; off += split {
			end := min(off+split, len(stream))
			if i := f.find(stream[off:end], pubackType); i >= 0 {
				got = off + i
			}
		}
		if got != at {
			t.Fatalf("chunks of %d: PUBACK found at %d, want %d", split, got, at)
		}
	}
}
