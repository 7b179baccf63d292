package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keycdc/keycdc/schemas"
)

// Names of the sink's own tables. They start with an underscore, as no keycdc table does.
const (
	offsetsTable     = "_keycdc_offsets"
	deadLettersTable = "_keycdc_dead_letters"
	realmColumn      = "realm"
	maxIdentifier    = 63 // bytes; PostgreSQL truncates longer names
)

// pgType is the PostgreSQL type of a column of each catalogue type.
var pgType = map[schemas.ColumnType]string{
	schemas.TypeString:    "text",
	schemas.TypeBoolean:   "boolean",
	schemas.TypeLong:      "bigint",
	schemas.TypeTimestamp: "timestamp with time zone",
	schemas.TypeStringMap: "jsonb",
}

// accepts lists, per catalogue type, the PostgreSQL types (as format_type names them,
// without modifiers) a value of that type can be stored in: the sink's own choice first,
// then types an operator may have changed a column to.
var accepts = map[schemas.ColumnType][]string{
	schemas.TypeString:    {"text", "character varying", "character"},
	schemas.TypeBoolean:   {"boolean"},
	schemas.TypeLong:      {"bigint", "numeric"},
	schemas.TypeTimestamp: {"timestamp with time zone", "timestamp without time zone"},
	schemas.TypeStringMap: {"jsonb", "json"},
}

// columnTypeOf returns the catalogue type of a Row value (see schemas.Row); ok is false
// for nil, which fits any column.
func columnTypeOf(v any) (t schemas.ColumnType, ok bool) {
	switch v.(type) {
	case string:
		return schemas.TypeString, true
	case bool:
		return schemas.TypeBoolean, true
	case int64:
		return schemas.TypeLong, true
	case time.Time:
		return schemas.TypeTimestamp, true
	case map[string]string:
		return schemas.TypeStringMap, true
	}
	return "", false
}

// table is what the sink knows of one table in PostgreSQL: the columns it writes in order,
// the types of all columns, and the key columns (after realm). The sink writes the realm,
// the catalogue's columns and the columns it added for newer writers (marked by a comment
// starting with "keycdc:"); other columns belong to whoever added them: they get their
// defaults on insert and are never updated.
type table struct {
	cat     *schemas.Table
	name    string   // PostgreSQL table name (the catalogue name)
	columns []string // the columns the sink writes, in table order, realm first
	written []column // the same, described
	types   map[string]string
	fit     map[string]schemas.ColumnType // the type of value each column takes ("" for none)
	keys    []string                      // realm, then the catalogue's key columns
	catKeys []string                      // the catalogue's key columns
	keySet  map[string]bool               // keys as a set
	foreign map[string]bool               // columns the sink does not write
}

// column is a column the sink writes.
type column struct {
	name string
	fit  schemas.ColumnType // the type of value it takes ("" for none)
	key  bool
}

// addedComment marks the columns the sink added for a newer writer's fields.
const addedComment = "keycdc: added for a field of records written with a newer schema"

// stage names the temporary staging table of t for its current columns: a column added
// later gives a new name, since an existing staging table would lack it.
func (t *table) stage() string {
	h := fnv.New32a()
	for _, c := range t.columns {
		h.Write([]byte(c))
		h.Write([]byte{0})
		h.Write([]byte(t.types[c]))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("_keycdc_stage_%s_%08x", t.name, h.Sum32())
}

func (t *table) has(col string) bool { _, ok := t.types[col]; return ok }

func (t *table) isKey(col string) bool { return t.keySet[col] }

// fitType returns the catalogue type of the values a column of PostgreSQL type pg takes.
func fitType(pg string) schemas.ColumnType {
	for ct, pgs := range accepts {
		for _, a := range pgs {
			if a == pg {
				return ct
			}
		}
	}
	return ""
}

// ident quotes a possibly qualified identifier.
func ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// loadTables reads the columns of every table in the schema.
func (s *Sink) loadTables(ctx context.Context, q querier) (map[string]*table, error) {
	rows, err := q.Query(ctx, `
		SELECT c.relname, a.attname, format_type(a.atttypid, NULL), a.attgenerated <> '',
			coalesce(col_description(c.oid, a.attnum), '')
		FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY c.relname, a.attnum`, s.schema)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]*table{}
	for rows.Next() {
		var rel, col, typ, comment string
		var generated bool
		if err := rows.Scan(&rel, &col, &typ, &generated, &comment); err != nil {
			return nil, err
		}
		cat, ok := schemas.Lookup(rel)
		if !ok {
			continue
		}
		t := out[rel]
		if t == nil {
			t = &table{cat: cat, name: rel, types: map[string]string{}, fit: map[string]schemas.ColumnType{},
				catKeys: cat.KeyColumns(), keySet: map[string]bool{realmColumn: true}, foreign: map[string]bool{}}
			t.keys = append([]string{realmColumn}, t.catKeys...)
			for _, k := range t.catKeys {
				t.keySet[k] = true
			}
			out[rel] = t
		}
		t.types[col] = typ
		t.fit[col] = fitType(typ)
		if !generated && (col == realmColumn || catalogueColumn(cat, col) || strings.HasPrefix(comment, "keycdc:")) {
			t.columns = append(t.columns, col)
			t.written = append(t.written, column{name: col, fit: t.fit[col], key: t.keySet[col]})
		} else {
			t.foreign[col] = true
		}
	}
	return out, rows.Err()
}

func catalogueColumn(t *schemas.Table, col string) bool {
	for _, c := range t.Columns() {
		if c.Name == col {
			return true
		}
	}
	return false
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ddl runs fn in a transaction holding the schema's advisory lock, so that several sink
// processes creating or altering the same tables at once wait for each other instead of
// failing on PostgreSQL's catalog races, then reloads the tables.
func (s *Sink) ddl(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer rollback(tx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('keycdc ddl ' || $1, 0))`, s.schema); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	tables, err := s.loadTables(ctx, s.pool)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.tables = tables
	s.mu.Unlock()
	return nil
}

// createSchema creates the schema, the offsets and dead-letter tables and the given
// catalogue tables, and adds catalogue columns that existing tables lack.
func (s *Sink) createSchema(ctx context.Context, tables []*schemas.Table) error {
	return s.ddl(ctx, func(tx pgx.Tx) error {
		stmts := []string{
			`CREATE SCHEMA IF NOT EXISTS ` + ident(s.schema),
			`CREATE TABLE IF NOT EXISTS ` + ident(s.schema, offsetsTable) + ` (
				"group" text NOT NULL,
				topic text NOT NULL,
				"partition" integer NOT NULL,
				next_offset bigint NOT NULL,
				updated_at timestamp with time zone NOT NULL DEFAULT now(),
				PRIMARY KEY ("group", topic, "partition"))`,
			`COMMENT ON TABLE ` + ident(s.schema, offsetsTable) + ` IS 'keycdc: the offset of the next record to load, per consumer group and partition; written in the transaction that loads the records before it'`,
			`CREATE TABLE IF NOT EXISTS ` + ident(s.schema, deadLettersTable) + ` (
				"group" text NOT NULL,
				topic text NOT NULL,
				"partition" integer NOT NULL,
				"offset" bigint NOT NULL,
				realm text,
				table_name text,
				key bytea,
				value bytea,
				reason text NOT NULL,
				created_at timestamp with time zone NOT NULL DEFAULT now(),
				PRIMARY KEY ("group", topic, "partition", "offset"))`,
			`COMMENT ON TABLE ` + ident(s.schema, deadLettersTable) + ` IS 'keycdc: records that could not be decoded or loaded, with the reason; delete rows once dealt with (they count towards sink.dead_letter_limit)'`,
		}
		for _, st := range stmts {
			if _, err := tx.Exec(ctx, st); err != nil {
				return fmt.Errorf("create keycdc tables in schema %q: %w", s.schema, err)
			}
		}
		existing, err := s.loadTables(ctx, tx)
		if err != nil {
			return err
		}
		var created []string
		for _, t := range tables {
			if existing[t.Name()] == nil {
				created = append(created, t.Name())
			}
			if err := s.createTable(ctx, tx, t, existing[t.Name()]); err != nil {
				return err
			}
		}
		if len(created) > 0 {
			s.log.Info("created tables", "schema", s.schema, "tables", strings.Join(created, ","))
		}
		return nil
	})
}

// createTable creates catalogue table t, or adds the catalogue columns it lacks.
func (s *Sink) createTable(ctx context.Context, tx pgx.Tx, t *schemas.Table, have *table) error {
	name := ident(s.schema, t.Name())
	if have == nil {
		var b strings.Builder
		fmt.Fprintf(&b, "CREATE TABLE %s (\n\t%s text NOT NULL", name, ident(realmColumn))
		keys := map[string]bool{}
		for _, k := range t.KeyColumns() {
			keys[k] = true
		}
		for _, c := range t.Columns() {
			fmt.Fprintf(&b, ",\n\t%s %s", ident(c.Name), pgType[c.Type])
			if keys[c.Name] {
				b.WriteString(" NOT NULL")
			}
		}
		pk := []string{ident(realmColumn)}
		for _, k := range t.KeyColumns() {
			pk = append(pk, ident(k))
		}
		fmt.Fprintf(&b, ",\n\tPRIMARY KEY (%s))", strings.Join(pk, ", "))
		if _, err := tx.Exec(ctx, b.String()); err != nil {
			return fmt.Errorf("create table %s: %w", name, err)
		}
		comments := []string{fmt.Sprintf("keycdc table %s: one row per realm and key, loaded from the topics <prefix>.<realm>.%[1]s", t.Name())}
		targets := []string{""}
		comments = append(comments, "keycdc: the realm the row belongs to (topic <prefix>.<realm>.<table>)")
		targets = append(targets, realmColumn)
		for _, c := range t.Columns() {
			if c.Doc != "" {
				comments = append(comments, c.Doc)
				targets = append(targets, c.Name)
			}
		}
		return s.comment(ctx, tx, t.Name(), targets, comments)
	}
	for _, c := range t.Columns() {
		if have.has(c.Name) {
			continue
		}
		if err := s.addColumn(ctx, tx, t.Name(), c.Name, c.Type); err != nil {
			return err
		}
	}
	return nil
}

// comment sets the comments of a table (target "") and its columns. COMMENT takes no
// parameters, so the server quotes the texts (format's %L).
func (s *Sink) comment(ctx context.Context, tx pgx.Tx, tableName string, targets, texts []string) error {
	rows, err := tx.Query(ctx, `
		SELECT CASE WHEN c = '' THEN format('COMMENT ON TABLE %I.%I IS %L', $1::text, $2::text, d)
		            ELSE format('COMMENT ON COLUMN %I.%I.%I IS %L', $1::text, $2::text, c, d) END
		FROM unnest($3::text[], $4::text[]) AS x(c, d)`, s.schema, tableName, targets, texts)
	if err != nil {
		return fmt.Errorf("comment table %s: %w", tableName, err)
	}
	stmts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("comment table %s: %w", tableName, err)
	}
	for _, st := range stmts {
		if _, err := tx.Exec(ctx, st); err != nil {
			return fmt.Errorf("comment table %s: %w", tableName, err)
		}
	}
	return nil
}

func (s *Sink) addColumn(ctx context.Context, tx pgx.Tx, tableName, col string, ct schemas.ColumnType) error {
	if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s %s",
		ident(s.schema, tableName), ident(col), pgType[ct])); err != nil {
		return fmt.Errorf("add column %s to table %s: %w", col, tableName, err)
	}
	if err := s.comment(ctx, tx, tableName, []string{col}, []string{addedComment}); err != nil {
		return err
	}
	s.log.Info("added column", "table", s.schema+"."+tableName, "column", col, "type", pgType[ct])
	return nil
}
