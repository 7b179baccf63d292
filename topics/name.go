package topics

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keycdc/keycdc/schemas"
)

// MaxNameLen is the longest topic name Kafka accepts, in bytes.
const MaxNameLen = 249

// checkpointSuffix names the checkpoint topic after the prefix. It starts with an
// underscore, which no realm's topics can: no table name does.
const checkpointSuffix = "._keycdc_checkpoints"

// Name is the data topic of table t for realm: <prefix>.<realm>.<table>. Each byte of realm
// outside [a-zA-Z0-9._-], which Kafka refuses in topic names, is replaced by '_' (so a
// multi-byte UTF-8 character becomes several). Two realms can therefore map to the same
// topics; Collisions reports that, and names longer than MaxNameLen.
func Name(prefix, realm string, t *schemas.Table) string {
	return prefix + "." + sanitize(realm) + "." + t.Name()
}

// CheckpointTopic is the topic holding every realm's checkpoint: <prefix>._keycdc_checkpoints.
func CheckpointTopic(prefix string) string { return prefix + checkpointSuffix }

func sanitize(s string) string {
	i := 0
	for i < len(s) && legal(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; !legal(c) {
			b[i] = '_'
		}
	}
	return string(b)
}

func legal(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// ValidatePrefix checks a topic prefix: not empty, only [a-zA-Z0-9._-], and short enough
// that the checkpoint topic's name fits Kafka's limit. Data topics also depend on the realm;
// Collisions checks them.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return errors.New("topic prefix is empty")
	}
	if i := strings.IndexFunc(prefix, func(r rune) bool { return r > 0x7f || !legal(byte(r)) }); i >= 0 {
		return fmt.Errorf("topic prefix %q: character %q is not allowed in Kafka topic names (only a-z, A-Z, 0-9, '.', '_' and '-')", prefix, []rune(prefix[i:])[0])
	}
	if n := len(CheckpointTopic(prefix)); n > MaxNameLen {
		return fmt.Errorf("topic prefix %q is too long: the checkpoint topic's name would be %d bytes, Kafka allows %d", prefix, n, MaxNameLen)
	}
	return nil
}

// Collisions checks the topic names of realms under prefix. It reports, all at once:
// an empty realm name; a realm listed twice; realms whose topic names would exceed
// MaxNameLen; and realms whose
// topics would be the same as another's, either exactly (after the replacement Name does)
// or after Kafka's own folding of '.' into '_' (Kafka refuses to create a topic whose name
// differs from an existing one only in those two characters, because their metric names
// would collide).
func Collisions(prefix string, realms []string) error {
	var errs []error
	seen := map[string]owner{CheckpointTopic(prefix): {"", CheckpointTopic(prefix)}}
	folded := map[string]owner{fold(CheckpointTopic(prefix)): seen[CheckpointTopic(prefix)]}
	reported := map[[2]string]bool{}
	for _, realm := range realms {
		if realm == "" {
			errs = append(errs, errors.New("a realm name is empty"))
			continue
		}
		for _, t := range schemas.Tables() {
			topic := Name(prefix, realm, t)
			if len(topic) > MaxNameLen {
				errs = append(errs, fmt.Errorf("realm %q: topic %s is %d bytes long, Kafka allows %d; shorten the prefix", realm, topic, len(topic), MaxNameLen))
				break
			}
			other, dup := seen[topic]
			if !dup {
				other, dup = folded[fold(topic)]
			}
			if dup {
				if pair := [2]string{other.realm, realm}; !reported[pair] {
					reported[pair] = true
					errs = append(errs, collision(realm, topic, other))
				}
				continue
			}
			seen[topic] = owner{realm, topic}
			folded[fold(topic)] = owner{realm, topic}
		}
	}
	return errors.Join(errs...)
}

// owner is the realm a topic name belongs to ("" for the checkpoint topic).
type owner struct{ realm, topic string }

func collision(realm, topic string, other owner) error {
	if other.realm == realm {
		return fmt.Errorf("realm %q is listed twice", realm)
	}
	if other.realm == "" {
		return fmt.Errorf("realm %q: topic %s collides with the checkpoint topic %s", realm, topic, other.topic)
	}
	if topic == other.topic {
		return fmt.Errorf("realms %q and %q both map to topics like %s; keycdc cannot keep them apart", other.realm, realm, topic)
	}
	return fmt.Errorf("realms %q and %q map to topics %s and %s, which Kafka treats as the same because it folds '.' into '_'",
		other.realm, realm, other.topic, topic)
}

// fold is Kafka's topic-name folding for collision checks: '.' becomes '_'.
func fold(topic string) string { return strings.ReplaceAll(topic, ".", "_") }

// sortedKeys returns m's keys in order; error messages list topics deterministically.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
