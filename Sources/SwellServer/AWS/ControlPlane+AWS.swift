import Foundation
import SwellModel
import SwellStore
import Synchronization

/// One AWS write at a time: the Lambda API's updates read `$LATEST`, change some fields and
/// write it back, and two of them at once must not lose one's change.
let awsWrites = AsyncLock()

extension ControlPlane {
    /// Changes `$LATEST` of an existing function (or creates it when `create` is set) with a
    /// configuration built by the AWS front, checking what `putFunction` checks of it: the code
    /// package, the handler's file and the qualifiers that URL and triggers name.
    /// - Parameter change: edits the current configuration (nil when creating).
    func updateFunction(
        namespace: String, name: String, create: FunctionConfig?, change: (inout FunctionConfig) async throws -> Void
    ) async throws -> (FunctionRecord, changed: Bool) {
        try await awsWrites.withLock {
            let old = catalog.function(namespace, name)
            var config: FunctionConfig
            if let create {
                guard old == nil else { throw AWSError.conflict("Function already exist: \(name)") }
                config = create
            } else {
                guard let old else { throw AWSError.notFound("Function not found: \(LambdaARN.function(namespace, name))") }
                config = old.config
            }
            try await change(&config)
            guard (try? await code.ensureLocal(namespace: namespace, sha256: config.codeSha256)) == true else {
                throw AWSError.invalid("no code package \(config.codeSha256) in namespace \(namespace)")
            }
            config.codeSize = code.size(namespace: namespace, sha256: config.codeSha256)
            if let old, old.config == config { return (old, false) }
            try await prepareCode(namespace: namespace, name: name, sha256: config.codeSha256, field: "Code")
            try await prepareLayers(namespace: namespace, name: name, layers: config.layers)
            let root = CodeStore.functionDirectory(root: code.unpackDirectory, namespace: namespace, function: name, sha256: config.codeSha256)
            if let problem = HandlerCheck.check(handler: config.handler, runtime: config.runtime, field: "Handler", files: DirectoryFiles(root: root)),
                await !layersProvideBootstrap(namespace: namespace, name: name, config: config)
            {
                throw AWSError.invalid(problem.description)
            }
            if let url = config.url, url.qualifier != "$LATEST", catalog.alias(namespace, name, url.qualifier) == nil {
                throw AWSError.notFound("Alias not found: \(LambdaARN.function(namespace, name, url.qualifier))")
            }
            for trigger in config.triggers where trigger.qualifier != "$LATEST" {
                let exists = Int(trigger.qualifier).map { n in catalog.versions(namespace, name).contains { $0.version == n } }
                    ?? (catalog.alias(namespace, name, trigger.qualifier) != nil)
                if !exists { throw AWSError.notFound("Function not found: \(LambdaARN.function(namespace, name, trigger.qualifier))") }
            }
            let record = try await store.putFunction(namespace: namespace, name: name, config: config)
            catalog.put(record)
            if old != nil {
                runtime.retire(namespace: namespace, name: name, version: .latest, keepRevision: record.revision)
            }
            return (record, true)
        }
    }
}

/// The ARNs the Lambda API reports: a fixed region (`swell`) and the namespace as the account.
enum LambdaARN {
    static let region = "swell"

    static func function(_ namespace: String, _ name: String, _ qualifier: String? = nil) -> String {
        "arn:aws:lambda:\(region):\(namespace):function:\(name)" + (qualifier.map { ":\($0)" } ?? "")
    }

    static func stateMachine(_ namespace: String, _ name: String) -> String {
        "arn:aws:states:\(region):\(namespace):stateMachine:\(name)"
    }

    static func layer(_ namespace: String, _ name: String, _ version: Int? = nil) -> String {
        "arn:aws:lambda:\(region):\(namespace):layer:\(name)" + (version.map { ":\($0)" } ?? "")
    }

    /// A role ARN to report: Swell has no IAM roles, so functions show the one they were created with.
    static func role(_ namespace: String) -> String { "arn:aws:iam::\(namespace):role/swell" }

    /// `NAME`, `NAME:QUALIFIER`, `ACCOUNT:function:NAME[:QUALIFIER]` or the full ARN, as the
    /// Lambda API accepts in `FunctionName`; the account is the namespace.
    static func parseFunction(_ raw: String) throws(AWSError) -> (namespace: String?, name: String, qualifier: String?) {
        var parts = raw.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        var namespace: String?
        if parts.count >= 7, parts[0] == "arn", parts[2] == "lambda", parts[5] == "function" {
            namespace = parts[4]
            parts = Array(parts[6...])
        } else if parts.count >= 3, parts[1] == "function" {
            namespace = parts[0]
            parts = Array(parts[2...])
        }
        guard (1...2).contains(parts.count), Names.isFunctionName(parts[0]) else {
            throw AWSError.invalid(
                "1 validation error detected: Value '\(raw)' at 'functionName' failed to satisfy constraint: a function name, NAME:QUALIFIER or a function ARN")
        }
        if let ns = namespace, !Names.isNamespaceName(ns) {
            throw AWSError.invalid("the ARN's account \(ns) is not a Swell namespace name")
        }
        return (namespace, parts[0], parts.count == 2 ? parts[1] : nil)
    }
}
