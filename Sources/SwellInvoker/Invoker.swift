import Foundation
import NIOCore
import SwellModel
import SwellRuntime
import SwellScheduler
import SwellStore
import Tracing

/// The synchronous invoke path: resolve the qualifier in memory, get a slot from the
/// version's pool, hand the event over, and record the outcome behind the response.
public final class Invoker: Sendable {
    public let catalog: Catalog
    public let runtime: RuntimeManager
    let codeDirectory: String
    let hub: LogHub
    let writer: RecordWriter
    /// Whether invocations record spans (OpenTelemetry export configured). Fixed at start-up:
    /// when off, the invoke path does no tracing work at all.
    public let tracing: Bool
    /// Latency histograms, errors by type and throttles by reason (swift-metrics).
    public let metrics: InvocationMetrics
    /// Scale-out: minimum instances are this node's share, set by the provisioner.
    let share: ClusterShare?

    public init(
        catalog: Catalog, runtime: RuntimeManager, codeDirectory: String, hub: LogHub, writer: RecordWriter,
        metrics: InvocationMetrics = .off, tracing: Bool = false, share: ClusterShare? = nil
    ) {
        self.share = share
        self.tracing = tracing
        self.metrics = metrics
        self.catalog = catalog
        self.runtime = runtime
        self.codeDirectory = codeDirectory
        self.hub = hub
        self.writer = writer
    }

    /// The answer to one invocation, with what the `X-Swell-*` headers report.
    public struct Response: Sendable {
        public var requestID: String
        public var executedVersion: String
        public var result: InvocationResult
        public var coldStart: Bool
        public var initMs: Double
        public var durationMs: Double
        public var billedMs: Int
        /// The invocation's log lines, when asked for.
        public var logLines: [String]?
    }

    /// Runs `namespace/name:qualifier` with `payload`.
    /// - Throws: `SwellError` for an unknown function or qualifier (404) and throttling (429).
    public func invoke(
        namespace: String, name: String, qualifier: Qualifier, payload: ByteBuffer, captureLogs: Bool = false,
        traceID: String? = nil, clientContext: String? = nil, workClass: WorkClass = .latency, requestID givenID: String? = nil,
        timeout: Int? = nil
    ) async throws(SwellError) -> Response {
        guard tracing else {
            return try await run(
                namespace: namespace, name: name, qualifier: qualifier, payload: payload, captureLogs: captureLogs,
                traceID: traceID ?? Self.newTraceID(), clientContext: clientContext, workClass: workClass, requestID: givenID, timeout: timeout)
        }
        // One span for the invocation, a child of the caller's (the HTTP request, the task
        // attempt, the Kafka batch); the function's own spans join it through the X-Ray form
        // of its context in Lambda-Runtime-Trace-Id. Queue wait, init and run are recorded
        // after the fact from the pool's timings.
        let parent = ServiceContext.current ?? .topLevel
        let start = SwellTracing.Instant.now
        let span = InstrumentationSystem.tracer.startSpan("invoke \(namespace)/\(name)", context: parent, ofKind: .internal, at: start)
        span.attributes["faas.invoked_name"] = name
        span.attributes["faas.invoked_provider"] = "swell"
        span.attributes["swell.namespace"] = namespace
        span.attributes["swell.qualifier"] = qualifier.description
        let context = SwellTracing.traceParent(of: span.context)
        do {
            let response = try await run(
                namespace: namespace, name: name, qualifier: qualifier, payload: payload, captureLogs: captureLogs,
                traceID: context?.xray ?? traceID ?? Self.newTraceID(), clientContext: clientContext, workClass: workClass,
                requestID: givenID, timeout: timeout)
            let end = SwellTracing.Instant.now
            span.attributes["faas.execution"] = response.requestID
            span.attributes["faas.coldstart"] = response.coldStart
            span.attributes["swell.version"] = response.executedVersion
            span.attributes["swell.billed_ms"] = response.billedMs
            let runStart = end.advanced(by: .microseconds(Int64(-response.durationMs * 1000)))
            SwellTracing.record("queue wait", context: span.context, from: start, to: runStart)
            if response.coldStart {
                SwellTracing.record(
                    "init", context: span.context, from: runStart.advanced(by: .microseconds(Int64(-response.initMs * 1000))), to: runStart,
                    attributes: ["faas.coldstart": true])
            }
            SwellTracing.record("run", context: span.context, from: runStart, to: end, attributes: ["faas.execution": .string(response.requestID)])
            if case .failure(let kind, let error) = response.result {
                span.attributes["error.type"] = error.errorType
                span.attributes["swell.function_error"] = kind.rawValue
                span.setStatus(SpanStatus(code: .error, message: error.errorMessage))
            }
            span.end(at: end)
            return response
        } catch {
            span.recordError(error)
            span.setStatus(SpanStatus(code: .error, message: error.message))
            span.end()
            throw error
        }
    }

    private func run(
        namespace: String, name: String, qualifier: Qualifier, payload: ByteBuffer, captureLogs: Bool,
        traceID: String, clientContext: String?, workClass: WorkClass, requestID givenID: String?, timeout: Int?
    ) async throws(SwellError) -> Response {
        let resolved = try catalog.resolve(namespace, name, qualifier, random: Double.random(in: 0..<1))
        let pool = runtime.pool(
            for: resolved.key, revision: resolved.revision, config: share?.poolConfig(resolved.config) ?? resolved.config,
            codeDirectory: CodeStore.functionDirectory(root: codeDirectory, namespace: resolved.key.namespace, function: resolved.key.name, sha256: resolved.config.codeSha256))
        let requestID = givenID ?? RandomID.uuid()
        if captureLogs { hub.beginCapture(requestID) }
        let startedAt = Date()
        let arrived = ContinuousClock.now
        let outcome = await pool.invoke(InvokeRequest(
            requestID: requestID, payload: payload, qualifier: qualifier.description,
            traceID: traceID, clientContext: clientContext, workClass: workClass, timeout: timeout))

        let result: InvocationResult
        switch outcome.result {
        case .completed(let r):
            result = r
        case .throttled(let reason):
            metrics.throttled(namespace: namespace, function: name, reason: reason)
            if captureLogs { _ = await hub.endCapture(requestID, grace: .zero) }
            let message: String
            switch reason {
            case .queueFull: message = "too many requests are waiting for \(name); try again later"
            case .queueTimeout: message = "no instance of \(name) became free in time; try again later"
            case .shuttingDown: message = "the server is shutting down"
            case .startFailed: message = "no instance of \(name) could be started"
            case .cancelled: message = "the caller went away while the invocation waited for an instance"
            }
            throw SwellError(.throttled, message, retryAfter: 1)
        }

        let durationMs = outcome.runDuration.milliseconds
        let billed = InvocationRecord.billed(durationMs: durationMs)
        var errorType: String?
        if case .failure(let kind, _) = result { errorType = kind.rawValue }
        writer.enqueue(InvocationRecord(
            requestID: requestID, namespace: namespace, function: name, version: resolved.key.version.description,
            status: errorType == nil ? "success" : "error", errorType: errorType, coldStart: outcome.coldStart,
            initMs: outcome.initDuration.milliseconds, durationMs: durationMs, billedMs: billed,
            memoryMB: resolved.config.memory, startedAt: startedAt))

        // The wait for a slot: the whole call less the run and, for a cold start, the init.
        let queueWait = (ContinuousClock.now - arrived) - outcome.runDuration - (outcome.coldStart ? outcome.initDuration : .zero)
        metrics.completed(
            namespace: namespace, function: name, coldStart: outcome.coldStart, run: outcome.runDuration,
            initDuration: outcome.initDuration, queueWait: queueWait, errorType: errorType)

        var lines: [String]?
        if captureLogs {
            // Bootstraps mark the end of an invocation's output; others get a short grace.
            let grace: Duration = resolved.config.runtime == .provided ? .milliseconds(30) : .milliseconds(250)
            lines = await hub.endCapture(requestID, grace: grace)
        }
        return Response(
            requestID: requestID, executedVersion: resolved.key.version.description, result: result,
            coldStart: outcome.coldStart, initMs: outcome.initDuration.milliseconds, durationMs: durationMs,
            billedMs: billed, logLines: lines)
    }

    /// A W3C/X-Ray style trace id: `Root=1-<epoch hex>-<96 random bits>;Sampled=0`.
    static func newTraceID() -> String {
        RandomID.traceHeader(epochSeconds: UInt32(truncatingIfNeeded: Int(Date().timeIntervalSince1970)))
    }
}
