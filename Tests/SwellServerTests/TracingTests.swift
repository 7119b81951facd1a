import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwellInvoker
import Testing
@testable import SwellServer

struct TracingTests {
    @Test func aTraceparentParsesAndPrintsInW3CAndXRayForms() throws {
        let tp = try #require(TraceParent(header: "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"))
        #expect(tp.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(tp.spanID == "00f067aa0ba902b7")
        #expect(tp.sampled)
        #expect(tp.header == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(tp.xray == "Root=1-4bf92f35-77b34da6a3ce929d0e0e4736;Parent=00f067aa0ba902b7;Sampled=1")
        #expect(TraceParent(header: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")?.sampled == false)
        // A later version with more fields is read as version 00 (W3C: parse what you know).
        #expect(TraceParent(header: "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra") != nil)
    }

    @Test func malformedTraceparentsAreRejected() {
        for bad in [
            "", "00", "garbage", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // all-zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // all-zero span id
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",  // short trace id
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",  // not hex
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 has four fields
        ] {
            #expect(TraceParent(header: bad) == nil, "\(bad)")
        }
    }

    @Test func tracingIsOnOnlyWhenAnEndpointIsNamedAndNothingTurnsItOff() {
        #expect(!Telemetry.tracingWanted([:]))
        #expect(!Telemetry.tracingWanted(["OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"]))
        #expect(!Telemetry.tracingWanted(["OTEL_EXPORTER_OTLP_ENDPOINT": ""]))
        #expect(Telemetry.tracingWanted(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"]))
        #expect(Telemetry.tracingWanted(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"]))
        #expect(!Telemetry.tracingWanted(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_SDK_DISABLED": "TRUE"]))
        #expect(!Telemetry.tracingWanted(["OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318", "OTEL_TRACES_EXPORTER": "none"]))
        #expect(Telemetry.tracingWanted(["OTEL_TRACES_EXPORTER": "console"]))
    }
}
