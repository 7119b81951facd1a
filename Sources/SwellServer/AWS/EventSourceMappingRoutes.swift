import Foundation
import Hummingbird
import NIOPosix
import SwellInvoker
import SwellModel

/// `/2015-03-31/event-source-mappings…`: Lambda's event source mappings for self-managed
/// Kafka, kept as Kafka triggers of the function (`triggers:` entries named `esm-UUID`), so
/// they run, pause and report through Swell's trigger machinery.
struct EventSourceMappingRoutes {
    let routes: LambdaRoutes

    static let prefix = "esm-"

    func register(on g: RouterGroup<SwellRequestContext>) {
        g.post("event-source-mappings") { request, ctx in
            let body = try await LambdaBody(request)
            guard let raw = try body.string("FunctionName") else { throw AWSError.invalid("FunctionName is required") }
            let parsed = try LambdaARN.parseFunction(raw)
            let ns = try parsed.namespace ?? ctx.requirePrincipal().namespace
            _ = try ctx.authorize(ns, .developer)
            let uuid = UUID().uuidString.lowercased()
            let trigger = try Self.trigger(body, name: Self.prefix + uuid, qualifier: parsed.qualifier ?? "$LATEST", existing: nil)
            let (record, _) = try await routes.control.updateFunction(namespace: ns, name: parsed.name, create: nil) { config in
                guard config.triggers.count < TriggerConfig.maxTriggers else {
                    throw AWSError.invalid("a function has at most \(TriggerConfig.maxTriggers) triggers")
                }
                config.triggers.append(trigger)
            }
            return try LambdaShapes.response(Self.shape(record, trigger), status: .accepted)
        }
        g.get("event-source-mappings") { request, ctx in
            let principal = try ctx.requirePrincipal()
            var ns = principal.namespace
            var functionFilter: String?
            if let raw = request.uri.queryParameters.get("FunctionName") {
                let parsed = try LambdaARN.parseFunction(percentDecoded(String(raw)))
                ns = parsed.namespace ?? ns
                functionFilter = parsed.name
            }
            _ = try ctx.authorize(ns, .invoker)
            var items: [[String: Any]] = []
            for f in routes.catalog.functions(namespace: ns) where functionFilter == nil || f.name == functionFilter {
                for t in f.config.triggers where t.name.hasPrefix(Self.prefix) { items.append(Self.shape(f, t)) }
            }
            let (page, next) = try LambdaRoutes.page(items, request: request)
            var result: [String: Any] = ["EventSourceMappings": page]
            if let next { result["NextMarker"] = next }
            return try LambdaShapes.response(result)
        }
        g.get("event-source-mappings/:uuid") { _, ctx in
            let (f, t) = try find(ctx, .invoker)
            return try LambdaShapes.response(Self.shape(f, t))
        }
        g.put("event-source-mappings/:uuid") { request, ctx in
            let (f, t) = try find(ctx, .developer)
            let body = try await LambdaBody(request)
            if body.has("FunctionName") {
                throw AWSError.invalid("Swell keeps a mapping on its function; create a new mapping to feed another function")
            }
            let updated = try Self.trigger(body, name: t.name, qualifier: t.qualifier, existing: t)
            let (record, _) = try await routes.control.updateFunction(namespace: f.namespace, name: f.name, create: nil) { config in
                guard let i = config.triggers.firstIndex(where: { $0.name == t.name }) else { throw Self.notFound(t.name) }
                config.triggers[i] = updated
            }
            return try LambdaShapes.response(Self.shape(record, updated), status: .accepted)
        }
        g.delete("event-source-mappings/:uuid") { _, ctx in
            let (f, t) = try find(ctx, .developer)
            _ = try await routes.control.updateFunction(namespace: f.namespace, name: f.name, create: nil) { config in
                config.triggers.removeAll { $0.name == t.name }
            }
            var shape = Self.shape(f, t)
            shape["State"] = "Deleting"
            return try LambdaShapes.response(shape, status: .accepted)
        }
    }

    /// The function and trigger of the mapping the path names, in the caller's namespace.
    func find(_ ctx: SwellRequestContext, _ role: Role) throws -> (FunctionRecord, TriggerConfig) {
        let principal = try ctx.requirePrincipal()
        _ = try ctx.authorize(principal.namespace, role)
        let uuid = (ctx.parameters.get("uuid") ?? "").lowercased()
        let name = Self.prefix + uuid
        for f in routes.catalog.functions(namespace: principal.namespace) {
            if let t = f.config.triggers.first(where: { $0.name == name }) { return (f, t) }
        }
        throw Self.notFound(uuid)
    }

    static func notFound(_ uuid: String) -> AWSError {
        AWSError.notFound("The resource you requested does not exist. (Service: Lambda, Status Code: 404; event source mapping \(uuid))")
    }

    /// The Kafka trigger a mapping's fields describe (merged over `existing` on update), checked
    /// by the manifest's own rules.
    static func trigger(_ body: LambdaBody, name: String, qualifier: String, existing: TriggerConfig?) throws -> TriggerConfig {
        try body.rejectUnsupported(
            ["EventSourceArn", "SourceAccessConfigurations", "FilterCriteria", "AmazonManagedKafkaEventSourceConfig", "DestinationConfig", "ProvisionedPollerConfig"],
            operation: "EventSourceMapping")
        var o: [String: ConfigValue] = [:]
        if case .object(let old)? = existing?.configValue { o = old }
        o["type"] = "kafka"
        o["name"] = .string(name)
        o["qualifier"] = .string(qualifier)
        if existing == nil { o["batchSize"] = .int(100) }
        if let source = try body.object("SelfManagedEventSource") {
            guard let endpoints = try source.object("Endpoints"), let servers = try endpoints.strings("KAFKA_BOOTSTRAP_SERVERS"), !servers.isEmpty else {
                throw AWSError.invalid("SelfManagedEventSource.Endpoints.KAFKA_BOOTSTRAP_SERVERS must list host:port brokers")
            }
            o["brokers"] = .array(servers.map { .string($0) })
        } else if existing == nil {
            throw AWSError.invalid("SelfManagedEventSource is required (Swell maps self-managed Kafka only)")
        }
        if let topics = try body.strings("Topics") { o["topics"] = .array(topics.map { .string($0) }) }
        if let start = try body.string("StartingPosition") {
            switch start {
            case "TRIM_HORIZON": o["startPosition"] = "earliest"
            case "LATEST": o["startPosition"] = "latest"
            default: throw AWSError.invalid("StartingPosition must be TRIM_HORIZON or LATEST on Swell (got \(start))")
            }
        }
        if let n = try body.int("BatchSize", 1...10_000) { o["batchSize"] = .int(n) }
        if let w = try body.int("MaximumBatchingWindowInSeconds", 0...300) { o["maxWait"] = .double(Double(w)) }
        if let enabled = try body.bool("Enabled") { o["enabled"] = .bool(enabled) }
        if let kafka = try body.object("SelfManagedKafkaEventSourceConfig"), let group = try kafka.string("ConsumerGroupId") {
            o["groupId"] = .string(group)
        }
        if let attempts = try body.int("MaximumRetryAttempts", -1...10_000), attempts >= 0 { o["maxAttempts"] = .int(attempts + 1) }
        do {
            return try TriggerConfig.parse(.object(o), path: "", defaultName: name)
        } catch {
            throw AWSError.invalid(error.description)
        }
    }

    /// An `EventSourceMappingConfiguration`.
    static func shape(_ f: FunctionRecord, _ t: TriggerConfig) -> [String: Any] {
        guard case .kafka(let k) = t.source else { return [:] }
        var s: [String: Any] = [
            "UUID": String(t.name.dropFirst(prefix.count)),
            "FunctionArn": LambdaARN.function(f.namespace, f.name, t.qualifier == "$LATEST" ? nil : t.qualifier),
            "StartingPosition": k.startFromEarliest ? "TRIM_HORIZON" : "LATEST",
            "BatchSize": k.batchSize,
            "MaximumBatchingWindowInSeconds": Int(k.maxWait.rounded()),
            "Topics": k.topics,
            "SelfManagedEventSource": ["Endpoints": ["KAFKA_BOOTSTRAP_SERVERS": k.brokers]],
            "LastModified": f.updatedAt.timeIntervalSince1970,
            "State": t.enabled ? "Enabled" : "Disabled",
            "StateTransitionReason": "USER_INITIATED",
            "LastProcessingResult": "No records processed",
        ]
        if let group = k.groupID { s["SelfManagedKafkaEventSourceConfig"] = ["ConsumerGroupId": group] }
        return s
    }
}
