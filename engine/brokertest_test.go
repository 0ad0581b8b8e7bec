package engine_test

import (
	"testing"

	"github.com/flowgen/flowgen/engine"
	"github.com/flowgen/flowgen/engine/brokertest"
)

func TestMemoryBrokerBatches(t *testing.T) {
	brokertest.Batches(t, func(*testing.T) engine.BatchBroker { return engine.NewMemoryBroker() })
}

// TestMemoryBrokerStopWaitsForHandler: a consumer's stop returns only once
// the handler it has in progress has returned (the Broker contract), for
// Consume and ConsumeBatch. Before, stop only told the consumer's
// goroutine to end, and returned with the handler still running: an
// engine's Close returned with an inbox write or a run's start under way,
// and its caller closed the store under it.
func TestMemoryBrokerStopWaitsForHandler(t *testing.T) {
	brokertest.StopWaitsInBubble(t, func(*testing.T) engine.BatchBroker { return engine.NewMemoryBroker() })
}
