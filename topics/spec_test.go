package topics

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/keycdc/keycdc/schemas"
)

func TestSpecs(t *testing.T) {
	for _, c := range []struct {
		name string
		got  Spec
		want Spec
	}{
		{"data rf 1", DataSpec(3, 1), Spec{3, 1, map[string]string{"cleanup.policy": "compact", "max.message.bytes": "8388608"}}},
		{"data broker default rf", DataSpec(-1, -1), Spec{-1, -1, map[string]string{"cleanup.policy": "compact", "max.message.bytes": "8388608"}}},
		{"data rf 3", DataSpec(6, 3), Spec{6, 3, map[string]string{"cleanup.policy": "compact", "max.message.bytes": "8388608", "min.insync.replicas": "2"}}},
		{"checkpoint rf 1", CheckpointSpec(1), Spec{1, 1, map[string]string{"cleanup.policy": "compact", "max.message.bytes": "8388608"}}},
		{"checkpoint rf 3", CheckpointSpec(3), Spec{1, 3, map[string]string{"cleanup.policy": "compact", "max.message.bytes": "8388608", "min.insync.replicas": "2"}}},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, c.got, c.want)
		}
	}
}

func realmSpecs(prefix, realm string, partitions int32) map[string]Spec {
	specs := map[string]Spec{CheckpointTopic(prefix): CheckpointSpec(1)}
	for _, tab := range schemas.Tables() {
		specs[Name(prefix, realm, tab)] = DataSpec(partitions, 1)
	}
	return specs
}

func TestEnsureCreatesThenIsANoOp(t *testing.T) {
	ctx := context.Background()
	c, addrs := newCluster(t)
	adm := newAdmin(t, addrs)
	specs := realmSpecs("keycdc", "acme", 3)
	if err := Ensure(ctx, adm, specs); err != nil {
		t.Fatal(err)
	}
	details, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range specs {
		d, ok := details[name]
		if !ok {
			t.Errorf("topic %s not created", name)
			continue
		}
		if int32(len(d.Partitions)) != s.Partitions {
			t.Errorf("topic %s has %d partitions, want %d", name, len(d.Partitions), s.Partitions)
		}
		got := topicConfigs(t, adm, name)
		for k, v := range s.Configs {
			if got[k] != v {
				t.Errorf("topic %s: %s = %q, want %q", name, k, got[k], v)
			}
		}
	}

	creates := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Observe: true, Count: -1})
	alters := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.AlterConfigs, kmsg.IncrementalAlterConfigs}, Observe: true, Count: -1})
	if err := Ensure(ctx, adm, specs); err != nil {
		t.Fatal(err)
	}
	if creates.Hits() != 0 || alters.Hits() != 0 {
		t.Errorf("second Ensure sent %d CreateTopics and %d AlterConfigs requests, want none", creates.Hits(), alters.Hits())
	}
}

func TestEnsureReportsEveryProblem(t *testing.T) {
	ctx := context.Background()
	c, addrs := newCluster(t)
	adm := newAdmin(t, addrs)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	big := "8388608"
	must(c.CreateTopic("k.r.user", 3, map[string]string{"max.message.bytes": big})) // cleanup.policy=delete by default
	must(c.CreateTopic("k.r.group", 3, map[string]string{"cleanup.policy": "delete,compact", "max.message.bytes": big}))
	must(c.CreateTopic("k.r.role", 5, map[string]string{"cleanup.policy": "compact", "max.message.bytes": big}))
	must(c.CreateTopic("k._keycdc_checkpoints", 1, map[string]string{"cleanup.policy": "compact", "max.message.bytes": "1048588"}))
	specs := map[string]Spec{
		"k.r.user":              DataSpec(3, 1),
		"k.r.group":             DataSpec(3, 1),
		"k.r.role":              DataSpec(3, 1),
		"k.r.client":            DataSpec(3, 1), // missing: created
		"k._keycdc_checkpoints": CheckpointSpec(1),
	}
	err := Ensure(ctx, adm, specs)
	if err == nil {
		t.Fatal("Ensure found nothing wrong")
	}
	msg := err.Error()
	for _, want := range []string{
		`topic k.r.user: cleanup.policy is "delete"`,
		"kafka-configs.sh --bootstrap-server <broker> --alter --entity-type topics --entity-name k.r.user --add-config cleanup.policy=compact",
		"topic k.r.role has 5 partitions, the spec says 3",
		"topic k._keycdc_checkpoints: max.message.bytes is 1048588, keycdc needs at least 8388608",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "k.r.group") {
		t.Errorf("delete,compact includes compact, but k.r.group was reported:\n%s", msg)
	}
	if !IsFatal(err) {
		t.Error("IsFatal = false for a non-compacted topic")
	}
	if c.TopicInfo("k.r.client") == nil {
		t.Error("the missing topic was not created while others had problems")
	}

	// A partition count that differs is all that is left: not fatal.
	err = Ensure(ctx, adm, map[string]Spec{"k.r.role": DataSpec(3, 1), "k.r.group": DataSpec(3, 1)})
	var pc *PartitionCountError
	if !errors.As(err, &pc) || pc.Topic != "k.r.role" || pc.Got != 5 || IsFatal(err) {
		t.Errorf("partition count only: err = %v, IsFatal = %v", err, IsFatal(err))
	}
	if IsFatal(nil) || !IsFatal(errors.New("x")) || IsFatal(fmt.Errorf("w: %w", errors.Join(pc, pc))) ||
		!IsFatal(errors.Join(pc, errors.New("x"))) {
		t.Error("IsFatal misclassifies")
	}
}

func TestEnsureReportsAuthorization(t *testing.T) {
	ctx := context.Background()
	c, addrs := newCluster(t)
	adm := newAdmin(t, addrs)
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.CreateTopics}, Topic: "k.r.user", Err: kerr.TopicAuthorizationFailed, Count: -1})
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeConfigs}, Resource: "k.r.role", Err: kerr.TopicAuthorizationFailed, Count: -1})
	c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Metadata}, Topic: "k.r.secret", Err: kerr.TopicAuthorizationFailed, Count: -1})
	if err := c.CreateTopic("k.r.role", 1, map[string]string{"cleanup.policy": "compact"}); err != nil {
		t.Fatal(err)
	}
	err := Ensure(ctx, adm, map[string]Spec{"k.r.user": DataSpec(1, 1), "k.r.role": DataSpec(1, 1), "k.r.secret": DataSpec(1, 1)})
	if !errors.Is(err, kerr.TopicAuthorizationFailed) || !IsFatal(err) {
		t.Fatalf("err = %v, want a fatal authorization error", err)
	}
	for _, want := range []string{
		"topic k.r.user: create", "needs the Create ACL on topic k.r.user",
		"topic k.r.role: describe configs", "needs the DescribeConfigs ACL on topic k.r.role",
		"topic k.r.secret: describe", "needs the Describe ACL on topic k.r.secret",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
