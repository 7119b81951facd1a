import Tracing

/// The W3C trace context of one span (`traceparent`), as Swell hands it on: to a function (in
/// the X-Ray form of `Lambda-Runtime-Trace-Id` and `_X_AMZN_TRACE_ID`, and as a URL event's
/// `traceparent` header) and to a stored task, whose attempts continue the trace of the request
/// that enqueued it.
public struct TraceParent: Sendable, Hashable {
    /// 32 lower-case hex digits.
    public var traceID: String
    /// 16 lower-case hex digits.
    public var spanID: String
    public var sampled: Bool

    /// Parses `00-<trace id>-<span id>-<flags>`; nil for anything else (an all-zero id included).
    public init?(header: String) {
        let parts = header.split(separator: "-", omittingEmptySubsequences: false)
        // Version 00 has exactly four fields; a later version may add more, read as 00 (W3C).
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts.count == 4 || parts[0] != "00",
              parts.prefix(4).allSatisfy({ $0.utf8.allSatisfy(Self.isHex) }),
              parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" }),
              let flags = UInt8(parts[3], radix: 16)
        else { return nil }
        traceID = parts[1].lowercased()
        spanID = parts[2].lowercased()
        sampled = flags & 1 == 1
    }

    static func isHex(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "F"))
    }

    /// The `traceparent` header value.
    public var header: String { "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")" }

    /// The same context in AWS X-Ray's header form, as Lambda passes it to runtimes:
    /// `Root=1-<first 8 hex digits>-<other 24>;Parent=<span id>;Sampled=1`.
    public var xray: String {
        let split = traceID.index(traceID.startIndex, offsetBy: 8)
        return "Root=1-\(traceID[..<split])-\(traceID[split...]);Parent=\(spanID);Sampled=\(sampled ? 1 : 0)"
    }
}

/// Tracing helpers over swift-distributed-tracing's bootstrapped instrument (swift-otel's when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set; a no-op otherwise, and then Swell never calls them).
public enum SwellTracing {
    /// The `traceparent` of the span in `context`, as the instrument propagates it.
    public static func traceParent(of context: ServiceContext) -> TraceParent? {
        var headers: [String: String] = [:]
        InstrumentationSystem.instrument.inject(context, into: &headers, using: HeaderInjector())
        return headers["traceparent"].flatMap(TraceParent.init(header:))
    }

    /// A context whose spans are children of `parent` (a span of another process or an earlier run).
    public static func context(continuing parent: TraceParent) -> ServiceContext {
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(["traceparent": parent.header], into: &context, using: HeaderExtractor())
        return context
    }

    struct HeaderInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    struct HeaderExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
    }

    /// A point in time for a span that is recorded after the fact (queue wait, init, run).
    public struct Instant: TracerInstant {
        public var nanosecondsSinceEpoch: UInt64
        public init(nanosecondsSinceEpoch: UInt64) { self.nanosecondsSinceEpoch = nanosecondsSinceEpoch }
        public static func < (a: Self, b: Self) -> Bool { a.nanosecondsSinceEpoch < b.nanosecondsSinceEpoch }

        public static var now: Instant { Instant(nanosecondsSinceEpoch: DefaultTracerClock.now.nanosecondsSinceEpoch) }

        public func advanced(by d: Duration) -> Instant {
            let ns = d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
            return Instant(nanosecondsSinceEpoch: UInt64(max(0, Int64(nanosecondsSinceEpoch) + ns)))
        }
    }

    /// Records a finished child span of `context` from `start` to `end`.
    public static func record(_ name: String, context: ServiceContext, from start: Instant, to end: Instant, kind: SpanKind = .internal,
                              attributes: SpanAttributes = [:]) {
        guard end > start else { return }
        let span = InstrumentationSystem.tracer.startSpan(name, context: context, ofKind: kind, at: start)
        span.attributes = attributes
        span.end(at: end)
    }
}
