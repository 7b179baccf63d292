package kctwin

import (
	"crypto/rand"
	mrand "math/rand/v2"
)

// idSource hands out UUID-shaped ids. A seeded source (generation, seeded faults) is
// deterministic; the default one reads crypto/rand so that ids of entities created at run
// time never collide with generated ones.
type idSource struct {
	r *mrand.Rand // nil: crypto/rand
}

func seededIDs(seed uint64, stream uint64) *idSource {
	return &idSource{r: mrand.New(mrand.NewPCG(seed, stream))}
}

func (s *idSource) newID() string {
	var b [16]byte
	if s == nil || s.r == nil {
		_, _ = rand.Read(b[:])
	} else {
		a, c := s.r.Uint64(), s.r.Uint64()
		for i := 0; i < 8; i++ {
			b[i] = byte(a >> (8 * i))
			b[8+i] = byte(c >> (8 * i))
		}
	}
	return formatUUID(b)
}

// formatUUID renders 16 bytes as a version-4 UUID string.
func formatUUID(b [16]byte) string {
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	const hexd = "0123456789abcdef"
	out := make([]byte, 36)
	j := 0
	for i, x := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j] = hexd[x>>4]
		out[j+1] = hexd[x&0x0f]
		j += 2
	}
	return string(out)
}

// randomSecret returns a 32-character client secret like the ones Keycloak generates.
func randomSecret(s *idSource) string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	var b [32]byte
	if s == nil || s.r == nil {
		_, _ = rand.Read(b[:])
		for i := range b {
			b[i] = alpha[int(b[i])%len(alpha)]
		}
	} else {
		for i := range b {
			b[i] = alpha[s.r.IntN(len(alpha))]
		}
	}
	return string(b[:])
}
