import Foundation
import SwellModel

/// An optional field that is written as `null` when absent (Swift's synthesized
/// encoding would leave it out), so clients see every documented field.
struct OrNull<Wrapped: Encodable>: Encodable {
    var value: Wrapped?

    init(_ value: Wrapped?) { self.value = value }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let value { try c.encode(value) } else { try c.encodeNil() }
    }
}

/// The JSON shapes of the REST API (see docs/openapi.yaml).
enum API {
    struct URLInfo: Encodable {
        var auth: String
        var qualifier: String
        var path: String
    }

    struct FunctionInfo: Encodable {
        var name: String
        var namespace: String
        var runtime: String
        var handler: String
        var codeSha256: String
        var codeSize: Int
        var memory: Int
        var timeout: Int
        var concurrency: Int
        var environment: [String: String]
        var description: String
        var url: OrNull<URLInfo>
        var scaling: ScalingConfig
        var async: AsyncConfig
        var triggers: [TriggerConfig]
        /// Present only for functions with a GPU share.
        var gpu: GPUShare?
        var createdAt: Date
        var updatedAt: Date
        var revision: Int

        init(_ r: FunctionRecord) {
            name = r.name
            namespace = r.namespace
            runtime = r.config.runtime.rawValue
            handler = r.config.handler
            codeSha256 = r.config.codeSha256
            codeSize = r.config.codeSize
            memory = r.config.memory
            timeout = r.config.timeout
            concurrency = r.config.concurrency
            environment = r.config.environment
            description = r.config.description
            url = OrNull(r.config.url.map { URLInfo(auth: $0.auth.rawValue, qualifier: $0.qualifier, path: "/fn/\(r.namespace)/\(r.name)") })
            scaling = r.config.scaling
            async = r.config.async
            triggers = r.config.triggers
            gpu = r.config.gpu
            createdAt = r.createdAt
            updatedAt = r.updatedAt
            revision = r.revision
        }
    }

    struct FunctionDetail: Encodable {
        var function: FunctionInfo
        var versions: [VersionInfo]
        var aliases: [AliasInfo]
    }

    struct VersionInfo: Encodable {
        var version: String
        var runtime: String
        var handler: String
        var codeSha256: String
        var memory: Int
        var timeout: Int
        var concurrency: Int
        var environment: [String: String]
        var description: String
        var publishedAt: Date

        init(_ v: VersionRecord) {
            version = String(v.version)
            runtime = v.config.runtime.rawValue
            handler = v.config.handler
            codeSha256 = v.config.codeSha256
            memory = v.config.memory
            timeout = v.config.timeout
            concurrency = v.config.concurrency
            environment = v.config.environment
            description = v.description
            publishedAt = v.publishedAt
        }
    }

    struct AliasInfo: Encodable {
        var name: String
        var version: String
        var additionalVersionWeights: [String: Double]
        var description: String

        init(_ a: AliasRecord) {
            name = a.name
            version = String(a.config.version)
            additionalVersionWeights = Dictionary(uniqueKeysWithValues: a.config.additionalVersionWeights.map { (String($0.key), $0.value) })
            description = a.config.description
        }
    }

    struct Change: Encodable {
        var function: String
        var change: String
        var fields: [String]
    }

    struct PutFunctionResult: Encodable {
        var function: FunctionInfo
        var change: String
        var fields: [String]
    }

    struct KeyInfo: Encodable {
        var id: String
        var role: String
        var name: String
        var namespace: String
        var createdAt: Date
        var revoked: Bool
        var key: String?

        init(_ k: KeyRecord, plaintext: String? = nil) {
            id = k.id
            role = k.role.rawValue
            name = k.name
            namespace = k.namespace
            createdAt = k.createdAt
            revoked = k.revoked
            key = plaintext
        }
    }

    struct LogLineInfo: Encodable {
        var id: Int64
        var time: Date
        var requestId: OrNull<String>
        var stream: String
        var instance: String
        var version: String
        var message: String

        init(_ l: LogLine) {
            id = l.id
            time = l.time
            requestId = OrNull(l.requestID)
            stream = l.stream
            instance = l.instance
            version = l.version
            message = l.message
        }
    }

    /// What was not stored of a function's output (see `LogDrops`).
    struct LogDropsInfo: Encodable {
        var rateLimitedLines: Int
        var rateLimitedBytes: Int
        var queueFullLines: Int
        var queueFullBytes: Int
        var cutLines: Int
        var prunedLines: Int

        init(_ d: LogDrops) {
            rateLimitedLines = d.rateLimitedLines
            rateLimitedBytes = d.rateLimitedBytes
            queueFullLines = d.queueFullLines
            queueFullBytes = d.queueFullBytes
            cutLines = d.cutLines
            prunedLines = d.prunedLines
        }
    }

    struct InvocationInfo: Encodable {
        var requestId: String
        var version: String
        var status: String
        var errorType: OrNull<String>
        var coldStart: Bool
        var initMs: Double
        var durationMs: Double
        var billedMs: Int
        var memoryMB: Int
        var startedAt: Date

        init(_ r: InvocationRecord) {
            requestId = r.requestID
            version = r.version
            status = r.status
            errorType = OrNull(r.errorType)
            coldStart = r.coldStart
            initMs = r.initMs
            durationMs = r.durationMs
            billedMs = r.billedMs
            memoryMB = r.memoryMB
            startedAt = r.startedAt
        }
    }
}
