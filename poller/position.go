package poller

import (
	"encoding/json"
	"fmt"

	"github.com/keycdc/keycdc/checkpoint"
	"github.com/keycdc/keycdc/poller/events"
)

// positionVersion is the format of Position in the checkpoint topic. A reader refuses a
// newer version rather than guess.
const positionVersion = 1

// Position is what a realm's checkpoint record holds: where each event stream stands and
// when the last full scan started. Entity state needs no position: it is the content of
// the table topics, committed in the same transactions.
type Position struct {
	Version      int             `json:"v"`
	Events       events.Position `json:"events"`
	AdminEvents  events.Position `json:"admin_events"`
	LastFullScan int64           `json:"last_full_scan,omitempty"` // epoch ms when it started
	// Rescan asks for a full scan at the next cycle: a listing kept shifting while it was
	// read, so rows it hid may be missing. It survives restarts.
	Rescan bool `json:"rescan,omitempty"`
	// Instance names the keycdc instance that wrote the checkpoint: an instance that finds
	// another's name here has been taken over.
	Instance string `json:"instance,omitempty"`
}

func (p Position) encode() (checkpoint.Position, error) {
	p.Version = positionVersion
	b, err := json.Marshal(p)
	return checkpoint.Position(b), err
}

func decodePosition(b checkpoint.Position) (Position, error) {
	var p Position
	if len(b) == 0 {
		return Position{Version: positionVersion}, nil
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("checkpoint is not a keycdc position: %w", err)
	}
	if p.Version < 1 || p.Version > positionVersion {
		return p, fmt.Errorf("checkpoint has format version %d; this keycdc reads up to %d (upgrade keycdc)", p.Version, positionVersion)
	}
	return p, nil
}

// ParsePosition decodes a realm's checkpoint (for status reports).
func ParsePosition(b checkpoint.Position) (Position, error) { return decodePosition(b) }
