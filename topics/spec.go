package topics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Spec is how a topic should be created. Partitions and ReplicationFactor may be -1 for the
// broker's default (num.partitions, default.replication.factor).
type Spec struct {
	Partitions        int32
	ReplicationFactor int16
	Configs           map[string]string
}

// Topic configs keycdc sets or checks.
const (
	cleanupPolicy     = "cleanup.policy"
	minInsyncReplicas = "min.insync.replicas"
	maxMessageBytes   = "max.message.bytes"
)

// CheckpointMaxMessageBytes is the checkpoint topic's max.message.bytes: 8 MiB, since an
// event stream's position carries the ids seen in its overlap window.
const CheckpointMaxMessageBytes = 8 << 20

// DataSpec is the spec of a table topic: compacted, since each key's latest record is the
// row, and with min.insync.replicas = rf-1 when rf > 1, so that an acknowledged write is on
// at least two replicas (rf 3) while one broker may be down. With rf ≤ 1 (or -1, the
// broker's default) the broker's min.insync.replicas applies.
func DataSpec(partitions int32, rf int16) Spec {
	// max.message.bytes matches keycdc's producer batches (8 MiB), so that a large batch of
	// rows is never refused by a broker default of 1 MB.
	s := Spec{Partitions: partitions, ReplicationFactor: rf, Configs: map[string]string{cleanupPolicy: "compact",
		maxMessageBytes: strconv.Itoa(CheckpointMaxMessageBytes)}}
	if rf > 1 {
		s.Configs[minInsyncReplicas] = strconv.Itoa(int(rf) - 1)
	}
	return s
}

// CheckpointSpec is the spec of the checkpoint topic: one partition (it is small and read
// whole at start-up), compacted (the latest record per realm is its position), and with
// max.message.bytes raised to CheckpointMaxMessageBytes. min.insync.replicas as in DataSpec.
func CheckpointSpec(rf int16) Spec {
	s := DataSpec(1, rf)
	s.Configs[maxMessageBytes] = strconv.Itoa(CheckpointMaxMessageBytes)
	return s
}

// PartitionCountError reports an existing topic whose partition count differs from its
// spec. It is not fatal: keycdc works with any count (keys hash to partitions and every
// reader reads all of them). Ensure never changes partition counts, because adding
// partitions moves keys to other partitions and compaction would then keep two records of
// a row; if the count is to change, recreate the topic.
type PartitionCountError struct {
	Topic     string
	Want, Got int32
}

func (e *PartitionCountError) Error() string {
	return fmt.Sprintf("topic %s has %d partitions, the spec says %d; keycdc works with it as it is (not fatal)", e.Topic, e.Got, e.Want)
}

// IsFatal reports whether an error from Ensure includes a problem that must stop keycdc,
// i.e. anything but PartitionCountErrors.
func IsFatal(err error) bool {
	switch e := err.(type) {
	case nil:
		return false
	case *PartitionCountError:
		return false
	case interface{ Unwrap() []error }:
		return slices.ContainsFunc(e.Unwrap(), IsFatal)
	case interface{ Unwrap() error }:
		if inner := e.Unwrap(); inner != nil {
			return IsFatal(inner)
		}
	}
	return true
}

// Ensure creates the topics of specs that do not exist and checks those that do. It reports
// every problem at once (errors.Join), each naming the topic, what is wrong and how to fix
// it. It checks, for existing topics: that cleanup.policy includes compact (else old rows
// and deletions would be lost to retention), that max.message.bytes is at least the spec's
// when the spec sets one, and the partition count (reported as a PartitionCountError, not
// fatal: use IsFatal). Other configs of existing topics are the operator's choice and are
// left alone. Authorization failures are reported as such and satisfy
// errors.Is(err, kerr.TopicAuthorizationFailed) (or ClusterAuthorizationFailed).
//
// Ensure is idempotent: when everything exists as specified, it only reads metadata and
// configs. A topic created concurrently by someone else is checked like an existing one.
func Ensure(ctx context.Context, adm *kadm.Client, specs map[string]Spec) error {
	_, err := ensure(ctx, adm, specs, true)
	return err
}

// Verify checks existing topics as Ensure does but creates nothing; it returns the topics
// that do not exist yet (keycdc run would create them). It is what a preflight check uses.
func Verify(ctx context.Context, adm *kadm.Client, specs map[string]Spec) (missing []string, err error) {
	return ensure(ctx, adm, specs, false)
}

func ensure(ctx context.Context, adm *kadm.Client, specs map[string]Spec, mayCreate bool) (missing []string, err error) {
	names := sortedKeys(specs)
	if len(names) == 0 {
		return nil, nil
	}
	details, err := listTopics(ctx, adm, names)
	if err != nil {
		return nil, fmt.Errorf("ensure topics: list topics: %w", err)
	}
	var problems []error
	var existing []string
	for _, name := range names {
		d, ok := details[name]
		switch {
		case (!ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition)) && !mayCreate:
			missing = append(missing, name)
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			created, err := create(ctx, adm, name, specs[name])
			if err != nil {
				problems = append(problems, err)
			} else if !created {
				existing = append(existing, name) // created by someone else meanwhile
			}
		case d.Err != nil:
			problems = append(problems, fmt.Errorf("topic %s: describe: %w", name, describeAuth(d.Err, "Describe", "topic "+name)))
		default:
			existing = append(existing, name)
			if want := specs[name].Partitions; want > 0 && int32(len(d.Partitions)) != want {
				problems = append(problems, &PartitionCountError{Topic: name, Want: want, Got: int32(len(d.Partitions))})
			}
		}
	}
	if len(existing) > 0 {
		problems = append(problems, verifyConfigs(ctx, adm, existing, specs)...)
	}
	return missing, errors.Join(problems...)
}

// listTopics describes names. The broker fails a whole metadata request when it may not
// describe one of the topics, so on an authorization error each topic is described alone,
// and those it may not describe get that error in their TopicDetail.
func listTopics(ctx context.Context, adm *kadm.Client, names []string) (kadm.TopicDetails, error) {
	details, err := adm.ListTopics(ctx, names...)
	if !isAuth(err) {
		return details, err
	}
	details = kadm.TopicDetails{}
	for _, name := range names {
		d, err := adm.ListTopics(ctx, name)
		switch {
		case isAuth(err):
			details[name] = kadm.TopicDetail{Topic: name, Err: err}
		case err != nil:
			return nil, err
		default:
			details[name] = d[name]
		}
	}
	return details, nil
}

// create creates one topic. created is false when the topic turned out to exist already.
func create(ctx context.Context, adm *kadm.Client, name string, s Spec) (created bool, err error) {
	configs := make(map[string]*string, len(s.Configs))
	for k, v := range s.Configs {
		configs[k] = &v
	}
	resp, err := adm.CreateTopic(ctx, s.Partitions, s.ReplicationFactor, configs, name)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, kerr.TopicAlreadyExists):
		return false, nil
	}
	msg := ""
	if resp.ErrMessage != "" {
		msg = " (" + resp.ErrMessage + ")"
	}
	return false, fmt.Errorf("topic %s: create with %d partitions, replication factor %d and %s: %w%s",
		name, s.Partitions, s.ReplicationFactor, formatConfigs(s.Configs), describeAuth(err, "Create", "topic "+name), msg)
}

// verifyConfigs checks the configs keycdc depends on for existing topics.
func verifyConfigs(ctx context.Context, adm *kadm.Client, names []string, specs map[string]Spec) []error {
	byName := make(map[string]kadm.ResourceConfig, len(names))
	rcs, err := adm.DescribeTopicConfigs(ctx, names...)
	if isAuth(err) {
		// As in listTopics: find out which topics may not be described.
		rcs, err = nil, nil
		for _, name := range names {
			one, err := adm.DescribeTopicConfigs(ctx, name)
			switch {
			case isAuth(err):
				byName[name] = kadm.ResourceConfig{Name: name, Err: err}
			case err != nil:
				return []error{fmt.Errorf("topic %s: describe configs: %w", name, err)}
			default:
				rcs = append(rcs, one...)
			}
		}
	}
	if err != nil {
		return []error{fmt.Errorf("describe configs of topics %s: %w", strings.Join(names, ", "), err)}
	}
	for _, rc := range rcs {
		byName[rc.Name] = rc
	}
	var problems []error
	for _, name := range names {
		rc, ok := byName[name]
		if !ok {
			problems = append(problems, fmt.Errorf("topic %s: the broker returned no configs", name))
			continue
		}
		if rc.Err != nil {
			problems = append(problems, fmt.Errorf("topic %s: describe configs: %w", name, describeAuth(rc.Err, "DescribeConfigs", "topic "+name)))
			continue
		}
		values := map[string]string{}
		for _, c := range rc.Configs {
			values[c.Key] = c.MaybeValue()
		}
		policy := values[cleanupPolicy]
		if !slices.Contains(strings.Split(policy, ","), "compact") {
			problems = append(problems, fmt.Errorf("topic %s: cleanup.policy is %q, keycdc needs it to include compact "+
				"(with delete alone, retention drops rows that never changed); fix: kafka-configs.sh --bootstrap-server <broker> "+
				"--alter --entity-type topics --entity-name %s --add-config cleanup.policy=compact", name, policy, name))
		}
		if want, ok := specs[name].Configs[maxMessageBytes]; ok {
			w, _ := strconv.ParseInt(want, 10, 64)
			got, err := strconv.ParseInt(values[maxMessageBytes], 10, 64)
			if err == nil && got < w {
				problems = append(problems, fmt.Errorf("topic %s: max.message.bytes is %d, keycdc needs at least %d; fix: "+
					"kafka-configs.sh --bootstrap-server <broker> --alter --entity-type topics --entity-name %s --add-config max.message.bytes=%d",
					name, got, w, name, w))
			}
		}
	}
	return problems
}

func isAuth(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}

// describeAuth adds to an authorization error which ACL is missing; other errors pass
// through unchanged.
func describeAuth(err error, op, what string) error {
	if isAuth(err) {
		return fmt.Errorf("not authorized: keycdc's principal needs the %s ACL on %s: %w", op, what, err)
	}
	return err
}

func formatConfigs(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}
