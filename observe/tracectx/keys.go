package tracectx

// The attribute keys of OpenTelemetry's semantic conventions that
// flowgen's spans take (the HTTP server spans of observe, the HTTP client
// spans of engine/httpcall, the producer spans of observe's publications):
// one home, shared by all. flowgen's own
// attributes, under its namespace flowgen., are observe's (keys.go).
// go.opentelemetry.io/otel/semconv names them too, in a package of
// thousands of keys, for these few.

import "go.opentelemetry.io/otel/attribute"

// Keys of the conventions.
const (
	KeyHTTPRequestMethod         = attribute.Key("http.request.method")
	KeyHTTPRequestMethodOriginal = attribute.Key("http.request.method_original")
	KeyHTTPResponseStatusCode    = attribute.Key("http.response.status_code")
	KeyHTTPRoute                 = attribute.Key("http.route")
	KeyURLPath                   = attribute.Key("url.path")
	KeyURLScheme                 = attribute.Key("url.scheme")
	KeyURLFull                   = attribute.Key("url.full")
	KeyServerAddress             = attribute.Key("server.address")
	KeyServerPort                = attribute.Key("server.port")
	KeyClientAddress             = attribute.Key("client.address")
	KeyUserAgentOriginal         = attribute.Key("user_agent.original")
	KeyNetworkProtocolVersion    = attribute.Key("network.protocol.version")
	KeyErrorType                 = attribute.Key("error.type")
	KeyRPCService                = attribute.Key("rpc.service")
	KeyRPCMethod                 = attribute.Key("rpc.method")

	KeyMessagingSystem          = attribute.Key("messaging.system")
	KeyMessagingOperationType   = attribute.Key("messaging.operation.type")
	KeyMessagingOperationName   = attribute.Key("messaging.operation.name")
	KeyMessagingDestinationName = attribute.Key("messaging.destination.name")
	KeyMessagingMessageID       = attribute.Key("messaging.message.id")
)

// Other is the conventions' value of http.request.method for a method
// they do not know. (Their error.type fallback, the same text, is
// runtime.ErrorClassOther: error.type's classes have their home there.)
const Other = "_OTHER"
