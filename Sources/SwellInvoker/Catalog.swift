import SwellModel
import Synchronization

/// The in-memory copy of the control plane that the hot path reads: functions, versions,
/// aliases and keys. Loaded once from the store and updated after every write, so that an
/// invocation never reads the database.
public final class Catalog: Sendable {
    struct FunctionEntry: Sendable {
        var record: FunctionRecord
        var versions: [Int: VersionRecord] = [:]
        var aliases: [String: AliasRecord] = [:]
    }

    struct State: Sendable {
        var namespaces: Set<String> = []
        var functions: [String: [String: FunctionEntry]] = [:]
        var keysByHash: [String: KeyRecord] = [:]
        var keysByID: [String: KeyRecord] = [:]
    }

    private let state = Mutex(State())

    public init(_ snapshot: CatalogSnapshot = CatalogSnapshot()) {
        reload(snapshot)
    }

    /// Replaces everything with a fresh snapshot.
    public func reload(_ snapshot: CatalogSnapshot) {
        var s = State()
        s.namespaces = Set(snapshot.namespaces)
        for f in snapshot.functions { s.functions[f.namespace, default: [:]][f.name] = FunctionEntry(record: f) }
        for v in snapshot.versions { s.functions[v.namespace]?[v.function]?.versions[v.version] = v }
        for a in snapshot.aliases { s.functions[a.namespace]?[a.function]?.aliases[a.name] = a }
        for k in snapshot.keys {
            s.keysByHash[k.hash] = k
            s.keysByID[k.id] = k
        }
        state.withLock { $0 = s }
    }

    // MARK: Reads

    /// Every namespace that has a function or a key, sorted.
    public func namespaceNames() -> [String] {
        state.withLock { $0.namespaces.sorted() }
    }

    /// The key with this SHA-256, unless revoked.
    public func key(hash: String) -> KeyRecord? {
        state.withLock { s in
            guard let k = s.keysByHash[hash], !k.revoked else { return nil }
            return k
        }
    }

    /// The key with this id, unless revoked.
    public func key(id: String) -> KeyRecord? {
        state.withLock { s in
            guard let k = s.keysByID[id], !k.revoked else { return nil }
            return k
        }
    }

    public func keys(namespace: String) -> [KeyRecord] {
        state.withLock { s in s.keysByID.values.filter { $0.namespace == namespace }.sorted { $0.createdAt < $1.createdAt } }
    }

    /// The digests of every code package a function or version uses.
    public func codeInUse() -> Set<String> {
        state.withLock { s in
            var digests = Set<String>()
            for entry in s.functions.values.flatMap(\.values) {
                digests.insert(entry.record.config.codeSha256)
                for v in entry.versions.values { digests.insert(v.config.codeSha256) }
            }
            return digests
        }
    }

    public func function(_ namespace: String, _ name: String) -> FunctionRecord? {
        state.withLock { $0.functions[namespace]?[name]?.record }
    }

    public func functions(namespace: String) -> [FunctionRecord] {
        state.withLock { s in (s.functions[namespace] ?? [:]).values.map(\.record).sorted { $0.name < $1.name } }
    }

    public func versions(_ namespace: String, _ name: String) -> [VersionRecord] {
        state.withLock { s in (s.functions[namespace]?[name]?.versions.values).map { $0.sorted { $0.version < $1.version } } ?? [] }
    }

    public func aliases(_ namespace: String, _ name: String) -> [AliasRecord] {
        state.withLock { s in (s.functions[namespace]?[name]?.aliases.values).map { $0.sorted { $0.name < $1.name } } ?? [] }
    }

    public func alias(_ namespace: String, _ name: String, _ alias: String) -> AliasRecord? {
        state.withLock { $0.functions[namespace]?[name]?.aliases[alias] }
    }

    /// The pools that keep instances warm without traffic: `$LATEST` and every version an
    /// alias routes to, of each function whose `scaling` has a minimum or a schedule.
    public func provisionTargets() -> [Resolved] {
        state.withLock { s in
            var targets: [Resolved] = []
            for (namespace, functions) in s.functions {
                for (name, entry) in functions {
                    let scaling = entry.record.config.scaling
                    if scaling.minInstances > 0 || !scaling.schedule.isEmpty {
                        targets.append(Resolved(
                            key: FunctionKey(namespace: namespace, name: name, version: .latest), config: entry.record.config,
                            revision: entry.record.revision))
                    }
                    let routed = Set(entry.aliases.values.flatMap { a in [a.config.version] + Array(a.config.additionalVersionWeights.keys) })
                    for n in routed.sorted() {
                        guard let v = entry.versions[n], v.config.scaling.minInstances > 0 || !v.config.scaling.schedule.isEmpty else { continue }
                        targets.append(Resolved(key: FunctionKey(namespace: namespace, name: name, version: .number(n)), config: v.config, revision: 0))
                    }
                }
            }
            return targets
        }
    }

    /// Every function's triggers: (namespace, function, its triggers), functions without triggers left out.
    public func triggerBindings() -> [(namespace: String, function: String, triggers: [TriggerConfig])] {
        state.withLock { s in
            var result: [(namespace: String, function: String, triggers: [TriggerConfig])] = []
            for (namespace, functions) in s.functions {
                for (name, entry) in functions where !entry.record.config.triggers.isEmpty {
                    result.append((namespace, name, entry.record.config.triggers))
                }
            }
            return result
        }
    }

    /// What an invocation of `name:qualifier` runs.
    public struct Resolved: Sendable {
        public var key: FunctionKey
        public var config: FunctionConfig
        /// Pools of `$LATEST` are keyed by revision; published versions never change.
        public var revision: Int
    }

    /// Resolves a qualifier to a concrete version; `random` picks between an alias's weighted versions.
    public func resolve(_ namespace: String, _ name: String, _ qualifier: Qualifier, random: Double) throws(SwellError) -> Resolved {
        let result: Result<Resolved, SwellError> = state.withLock { s in
            guard let entry = s.functions[namespace]?[name] else {
                return .failure(.notFound("function \(name) does not exist in namespace \(namespace)"))
            }
            switch qualifier {
            case .latest:
                return .success(Resolved(key: FunctionKey(namespace: namespace, name: name, version: .latest), config: entry.record.config, revision: entry.record.revision))
            case .version(let n):
                guard let v = entry.versions[n] else { return .failure(.notFound("function \(name) has no version \(n)")) }
                return .success(Resolved(key: FunctionKey(namespace: namespace, name: name, version: .number(n)), config: v.config, revision: 0))
            case .alias(let a):
                guard let alias = entry.aliases[a] else { return .failure(.notFound("function \(name) has no alias \(a)")) }
                let n = alias.config.pick(random)
                guard let v = entry.versions[n] else { return .failure(.notFound("alias \(a) points at missing version \(n)")) }
                return .success(Resolved(key: FunctionKey(namespace: namespace, name: name, version: .number(n)), config: v.config, revision: 0))
            }
        }
        return try result.get()
    }

    // MARK: Writes (after the store has them)

    public func put(_ record: FunctionRecord) {
        state.withLock { s in
            s.namespaces.insert(record.namespace)
            if s.functions[record.namespace]?[record.name] != nil {
                s.functions[record.namespace]![record.name]!.record = record
            } else {
                s.functions[record.namespace, default: [:]][record.name] = FunctionEntry(record: record)
            }
        }
    }

    public func removeFunction(_ namespace: String, _ name: String) {
        state.withLock { _ = $0.functions[namespace]?.removeValue(forKey: name) }
    }

    public func put(_ version: VersionRecord) {
        state.withLock { $0.functions[version.namespace]?[version.function]?.versions[version.version] = version }
    }

    public func put(_ alias: AliasRecord) {
        state.withLock { $0.functions[alias.namespace]?[alias.function]?.aliases[alias.name] = alias }
    }

    public func removeAlias(_ namespace: String, _ function: String, _ name: String) {
        state.withLock { _ = $0.functions[namespace]?[function]?.aliases.removeValue(forKey: name) }
    }

    public func put(_ key: KeyRecord) {
        state.withLock { s in
            s.namespaces.insert(key.namespace)
            s.keysByHash[key.hash] = key
            s.keysByID[key.id] = key
        }
    }

    public func revokeKey(id: String) {
        state.withLock { s in
            guard var k = s.keysByID[id] else { return }
            k.revoked = true
            s.keysByID[id] = k
            s.keysByHash[k.hash] = k
        }
    }
}
