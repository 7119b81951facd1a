import Foundation
import Logging
import NIOPosix
import SwellInvoker
import SwellModel
import SwellRuntime
import SwellStore
import Synchronization

/// Every change to functions, versions, aliases and keys: written to the store first, then
/// to the in-memory catalog, then running instances of changed code are retired.
public final class ControlPlane: Sendable {
    let store: any ControlStore
    let catalog: Catalog
    let runtime: RuntimeManager
    let code: CodeStore
    /// The uids this server's functions get: its data directory's block of the host's.
    let uidRange: UIDRange
    /// Layer versions functions may list (nil: none can be resolved).
    let layers: (any LayerStorage)?
    private let revocations = AsyncLock()

    init(
        store: any ControlStore, catalog: Catalog, runtime: RuntimeManager, code: CodeStore, uidRange: UIDRange = .standard,
        layers: (any LayerStorage)? = nil
    ) {
        self.layers = layers
        self.uidRange = uidRange
        self.store = store
        self.catalog = catalog
        self.runtime = runtime
        self.code = code
    }

    /// The function's uid, allocated and stored on first use (also when Swell is not root, so
    /// that the table is complete if it later is).
    func uid(namespace: String, name: String) async throws -> UInt32 {
        let identities = runtime.sandbox.identities
        if let uid = identities.uid(namespace: namespace, name: name) { return uid }
        let uid = try await store.allocateUID(namespace: namespace, name: name, range: uidRange)
        identities.set(uid, namespace: namespace, name: name)
        return uid
    }

    /// Unpacks the function's own copy of its code, group-owned by its gid when Swell is root.
    func prepareCode(namespace: String, name: String, sha256: String, field: String) async throws {
        let uid = try await self.uid(namespace: namespace, name: name)
        let owner = runtime.sandbox.switchesUID ? CodeStore.Owner(uid: uid, gid: uid) : nil
        do {
            // File work: off the cooperative pool.
            let code = self.code
            _ = try await NIOThreadPool.singleton.runIfActive { try code.prepare(namespace: namespace, function: name, sha256: sha256, owner: owner) }
        } catch let error as TarArchive.FormatError {
            throw SwellError.invalid(field, "the code package cannot be unpacked: \(error.description)")
        }
    }

    /// Validates and stores a function's `$LATEST`; reports what changed.
    func putFunction(namespace: String, name: String, spec: ConfigValue, path: String) async throws -> (FunctionRecord, change: String, fields: [String]) {
        let config = try await validateFunction(namespace: namespace, name: name, spec: spec, path: path)
        let codeField = path.isEmpty ? "codeSha256" : "\(path).codeSha256"
        let old = catalog.function(namespace, name)
        if let old, old.config == config { return (old, "unchanged", []) }
        try await prepareCode(namespace: namespace, name: name, sha256: config.codeSha256, field: codeField)
        try await prepareLayers(namespace: namespace, name: name, layers: config.layers)
        let record = try await store.putFunction(namespace: namespace, name: name, config: config)
        catalog.put(record)
        if let old {
            let fields = config.changedFields(from: old.config)
            // Instances of the old revision finish what they run, then stop.
            runtime.retire(namespace: namespace, name: name, version: .latest, keepRevision: record.revision)
            return (record, "updated", fields)
        }
        return (record, "created", [])
    }

    /// Checks a function entry against the catalog and its code package without changing
    /// anything, reporting every problem at once: the spec's fields, the package, the
    /// aliases it names and the handler's file (``HandlerCheck``).
    func validateFunction(namespace: String, name: String, spec: ConfigValue, path: String) async throws(SwellError) -> FunctionConfig {
        func field(_ f: String) -> String { path.isEmpty ? f : "\(path).\(f)" }
        var problems = Problems()
        if !Names.isFunctionName(name) {
            problems.add(.invalid(path.isEmpty ? "name" : path, "function names are 1-64 characters of A-Z a-z 0-9 - _ (got \"\(name)\")"))
        }
        guard var config = problems.check({ () throws(SwellError) in try FunctionSpec.parse(spec, path: path) }) else {
            try problems.throwIfAny()
            throw SwellError.invalid(path.isEmpty ? "body" : path, "is not a valid function")
        }
        if !config.layers.isEmpty {
            do {
                config.layers = try await resolveLayers(config.layers, namespace: namespace, field: field("layers"))
            } catch {
                problems.add(error)
            }
        }
        // A package uploaded through another node (scale-out) is fetched from the shared store first.
        if (try? await code.ensureLocal(namespace: namespace, sha256: config.codeSha256)) == true {
            config.codeSize = code.size(namespace: namespace, sha256: config.codeSha256)
            do {
                // The function's own copy (unpacked without following links) is what the check reads.
                try await prepareCode(namespace: namespace, name: name, sha256: config.codeSha256, field: field("codeSha256"))
                let root = CodeStore.functionDirectory(
                    root: code.unpackDirectory, namespace: namespace, function: name, sha256: config.codeSha256)
                if let problem = HandlerCheck.check(handler: config.handler, runtime: config.runtime, field: field("handler"), files: DirectoryFiles(root: root)),
                    await !layersProvideBootstrap(namespace: namespace, name: name, config: config)
                {
                    problems.add(problem)
                }
            } catch let error as SwellError {
                problems.add(error)
            } catch {
                problems.add(.invalid(field("codeSha256"), "the code package \(config.codeSha256) cannot be unpacked: \(error)"))
            }
        } else {
            problems.add(.invalid(field("codeSha256"), "no code package \(config.codeSha256) was uploaded to namespace \(namespace) (PUT /v1/namespaces/\(namespace)/code/SHA256 first)"))
        }
        if let url = config.url, url.qualifier != "$LATEST", catalog.alias(namespace, name, url.qualifier) == nil {
            problems.add(.invalid(field("url.qualifier"), "alias \(url.qualifier) does not exist"))
        }
        for (i, trigger) in config.triggers.enumerated() where trigger.qualifier != "$LATEST" {
            let f = field("triggers[\(i)].qualifier")
            if let n = Int(trigger.qualifier) {
                if !catalog.versions(namespace, name).contains(where: { $0.version == n }) { problems.add(.invalid(f, "version \(n) does not exist")) }
            } else if catalog.alias(namespace, name, trigger.qualifier) == nil {
                problems.add(.invalid(f, "alias \(trigger.qualifier) does not exist"))
            }
        }
        try problems.throwIfAny()
        return config
    }

    func deleteFunction(namespace: String, name: String) async throws {
        guard try await store.deleteFunction(namespace: namespace, name: name) else {
            throw SwellError.notFound("function \(name) does not exist in namespace \(namespace)")
        }
        catalog.removeFunction(namespace, name)
        runtime.retire(namespace: namespace, name: name)
    }

    func publish(namespace: String, name: String, description: String) async throws -> (VersionRecord, created: Bool) {
        guard catalog.function(namespace, name) != nil else {
            throw SwellError.notFound("function \(name) does not exist in namespace \(namespace)")
        }
        let (version, created) = try await store.publishVersion(namespace: namespace, name: name, description: description)
        catalog.put(version)
        return (version, created)
    }

    func putAlias(namespace: String, function: String, name: String, body: ConfigValue) async throws -> AliasRecord {
        guard catalog.function(namespace, function) != nil else {
            throw SwellError.notFound("function \(function) does not exist in namespace \(namespace)")
        }
        guard Names.isAliasName(name) else {
            throw SwellError.invalid("alias", "alias names start with a letter, then up to 63 of A-Z a-z 0-9 - _ (got \"\(name)\")")
        }
        let config = try AliasConfig.parse(body)
        let versions = Set(catalog.versions(namespace, function).map(\.version))
        guard versions.contains(config.version) else {
            throw SwellError.invalid("version", "function \(function) has no published version \(config.version)")
        }
        for v in config.additionalVersionWeights.keys where !versions.contains(v) {
            throw SwellError.invalid("additionalVersionWeights.\(v)", "function \(function) has no published version \(v)")
        }
        let alias = AliasRecord(namespace: namespace, function: function, name: name, config: config)
        try await store.putAlias(alias)
        catalog.put(alias)
        return alias
    }

    func deleteAlias(namespace: String, function: String, name: String) async throws {
        guard try await store.deleteAlias(namespace: namespace, function: function, name: name) else {
            throw SwellError.notFound("function \(function) has no alias \(name)")
        }
        catalog.removeAlias(namespace, function, name)
    }

    /// Creates a key; the plaintext is returned once and never stored.
    func createKey(namespace: String, role: Role, name: String, plaintext: String? = nil) async throws -> (KeyRecord, String) {
        let key = plaintext ?? APIKeys.generate()
        let record = KeyRecord(id: APIKeys.newID(), namespace: namespace, role: role, name: name, hash: APIKeys.hash(key), createdAt: Date())
        try await store.createKey(record)
        catalog.put(record)
        return (record, key)
    }

    /// Revokes a key, except the last active admin key of `default` (the platform admin's:
    /// without it nobody could manage the platform any more). One revocation at a time, so
    /// two concurrent revocations cannot remove the last two admin keys together.
    func revokeKey(namespace: String, id: String) async throws {
        try await revocations.withLock {
            if namespace == "default" {
                let admins = catalog.keys(namespace: "default").filter { $0.role == .admin && !$0.revoked }
                if admins.count == 1, admins[0].id == id {
                    throw SwellError(.conflict, "key \(id) is the last admin key of namespace default (the platform admin); create another admin key before revoking it")
                }
            }
            guard try await store.revokeKey(namespace: namespace, id: id) else {
                throw SwellError.notFound("no active key \(id) in namespace \(namespace)")
            }
            catalog.revokeKey(id: id)
        }
    }
}

/// Mutual exclusion across suspension points (an actor alone would let a second caller in
/// at every await): callers run one at a time, in arrival order.
final class AsyncLock: Sendable {
    private struct State {
        var locked = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    func withLock<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { s -> Bool in
                if s.locked {
                    s.waiters.append(c)
                    return false
                }
                s.locked = true
                return true
            }
            if acquired { c.resume() }
        }
        defer {
            let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if s.waiters.isEmpty {
                    s.locked = false
                    return nil
                }
                return s.waiters.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}
