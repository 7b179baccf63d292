package main

import (
	"context"
	"fmt"
	"time"

	"github.com/keycdc/keycdc/schemas"
	"github.com/keycdc/keycdc/topics"
)

func cmdSchemas(ctx context.Context, e env, args []string) error {
	fs := newFlagSet("schemas", e)
	table := fs.String("table", "", "print only this table's schemas (default: every table)")
	register := fs.Bool("register", false, "register the schemas of every configured realm and table in the schema registry")
	path := fs.String("config", "", "configuration file (needed with --register: realms, topic prefix, registry)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	tables := schemas.Tables()
	if *table != "" {
		t, ok := schemas.Lookup(*table)
		if !ok {
			_, err := tablesOf([]string{*table})
			return usagef("--table: %v", err)
		}
		tables = []*schemas.Table{t}
	}
	if !*register {
		for _, t := range tables {
			fmt.Fprintf(e.stdout, "// %s: key (subject <topic>-key), columns %v\n%s\n", t.Name(), t.KeyColumns(), t.KeyAVSC())
			fmt.Fprintf(e.stdout, "// %s: value (subject <topic>-value)\n%s\n", t.Name(), t.ValueAVSC())
		}
		return nil
	}
	if *path == "" {
		return usagef("--register needs --config")
	}
	c, err := loadConfig(*path, e.lookupEnv)
	if err != nil {
		return err
	}
	if err := c.validate(needRegistry); err != nil {
		return err
	}
	if len(c.Keycloak.Realms) == 0 {
		return fmt.Errorf("keycloak.realms: list the realms whose subjects to register")
	}
	reg, err := registryClient(c)
	if err != nil {
		return err
	}
	codec := schemas.NewCodec(reg)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, realm := range c.Keycloak.Realms {
		for _, t := range tables {
			topic := topics.Name(c.Kafka.TopicPrefix, realm, t)
			if err := codec.Register(ctx, topic, t); err != nil {
				return fmt.Errorf("schema registry %s: %w", c.SchemaRegistry.URL, err)
			}
			fmt.Fprintf(e.stdout, "registered %s-key and %s-value\n", topic, topic)
		}
	}
	return nil
}
