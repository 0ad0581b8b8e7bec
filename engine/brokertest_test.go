package engine_test

import (
	"testing"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/brokertest"
)

func TestMemoryBrokerBatches(t *testing.T) {
	brokertest.Batches(t, func(*testing.T) engine.BatchBroker { return engine.NewMemoryBroker() })
}
