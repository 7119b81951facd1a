import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SwellDeploy
import SwellInvoker
import SwellModel
import SwellRuntime
import SwellStore
import SwellTasks
import SwellTriggers

/// Settings of `swell serve`.
public struct ServerConfiguration: Sendable {
    public var dataDirectory: String
    public var host: String
    public var port: Int
    /// Use this admin key instead of generating one (`SWELL_ADMIN_KEY`).
    public var adminKey: String?
    /// A directory with a `swell.yaml` to deploy on start (into its namespace or `default`).
    public var exampleDirectory: String?
    /// Keep pre-booted Node.js and Python processes for cold starts.
    public var warmPool: Bool
    /// Memory all instances together may reserve, in MB (nil: 80% of the machine's memory).
    public var memoryBudgetMB: Int?
    /// Most instances one namespace may run at once.
    public var namespaceMaxInstances: Int
    /// Confine instances with cgroups where writable (else rlimits) and, as root, unprivileged uids.
    public var sandbox: Bool
    /// Timeouts and connection cap of the HTTP listener.
    public var listener: ListenerConfiguration
    /// Log rate limits, queue bound and retention.
    public var logs: LogLimits
    /// GPUs instances may hold shares of (`--gpu`); none by default.
    public var gpus: [GPUDevice] = []
    /// Prices to apply at start (`--prices FILE`); nil keeps the stored ones (or the defaults).
    public var prices: PriceTable?
    /// Where the state lives: SQLite files in the data directory, or a PostgreSQL database shared by many nodes.
    public var store: StoreSelection = .sqlite

    public init(
        dataDirectory: String, host: String = "127.0.0.1", port: Int = 8080, adminKey: String? = nil, exampleDirectory: String? = nil,
        warmPool: Bool = true, memoryBudgetMB: Int? = nil, namespaceMaxInstances: Int = 1000, sandbox: Bool = true,
        listener: ListenerConfiguration = ListenerConfiguration(), logs: LogLimits = LogLimits(), prices: PriceTable? = nil,
        store: StoreSelection = .sqlite
    ) {
        self.prices = prices
        self.store = store
        self.listener = listener
        self.logs = logs
        self.memoryBudgetMB = memoryBudgetMB
        self.namespaceMaxInstances = namespaceMaxInstances
        self.sandbox = sandbox
        self.warmPool = warmPool
        self.dataDirectory = dataDirectory
        self.host = host
        self.port = port
        self.adminKey = adminKey
        self.exampleDirectory = exampleDirectory
    }
}

/// Wires the store, runtime, invoker and HTTP API into one service group and runs it
/// until SIGINT or SIGTERM, then shuts down gracefully: the listener closes, in-flight
/// invocations finish, instances stop, buffered records are flushed.
public enum SwellServer {
    public static func run(_ configuration: ServerConfiguration, logger: Logger) async throws {
        // Absolute, because instances run with their code directory as working directory.
        // Private to Swell (0700, databases 0600): instances never see the data directory.
        let data = try DataDirectory.prepare(
            URL(fileURLWithPath: configuration.dataDirectory).standardizedFileURL.path, createDatabases: configuration.store == .sqlite, logger: logger)
        switch configuration.store {
        case .sqlite:
            // The write-ahead log is an eighth of the log database's bound at most (and 4 MB).
            let stores = Stores(
                control: try SQLiteStore(path: "\(data)/swell.db"),
                logs: try LogStore(
                    path: "\(data)/logs.db", walLimitBytes: max(256 << 10, min(4 << 20, configuration.logs.retention.databaseMaxBytes / 8))),
                tasks: try TaskStore(path: "\(data)/tasks.db"), triggers: try TriggerStore(path: "\(data)/triggers.db"), packages: nil)
            try await run(configuration, data: data, stores: stores, logger: logger)
        case .postgres(let location):
            logger.notice("using the PostgreSQL store", metadata: ["store": "\(location)"])
            try await PostgresStore.withStore(location, logger: logger) { pg in
                var stores = Stores(control: pg, logs: pg, tasks: pg, triggers: pg, packages: pg)
                stores.useShared(pg)
                try await run(configuration, data: data, stores: stores, logger: logger)
            }
        }
    }

    /// The stores one server uses (all of one engine).
    struct Stores: Sendable {
        var control: any ControlStore & RecordStore
        var logs: any LogStorage
        var tasks: any TaskStorage
        var triggers: any TriggerStorage
        /// Code packages every node can fetch (scale-out only).
        var packages: (any PackageStorage)?
        /// This process's name among the nodes sharing the store (unique per start).
        var node: String = NodeName.make()
        /// Stores shared by every node (scale-out); nil: their SQLite file in the data directory.
        var shared: SharedStores?
    }

    static func run(_ configuration: ServerConfiguration, data: String, stores: Stores, logger: Logger) async throws {
        let store = stores.control
        let identities = FunctionIdentities(try await store.functionUIDs())
        let sandbox = configuration.sandbox
            ? Sandbox.detect(logger: logger, identities: identities)
            : Sandbox(mode: .rlimits(reason: "disabled"), switchesUID: false, identities: identities)
        // What instances see (code, bootstraps, temp dirs) lives in a fresh run directory,
        // removed at shutdown; those of servers that are gone are reclaimed first.
        RunDirectory.reclaimStale(logger: logger)
        let runDirectory = try RunDirectory.create(dataDirectory: data, reachableByOthers: sandbox.switchesUID)
        defer {
            do { try runDirectory.remove() } catch { logger.warning("cannot remove the run directory", metadata: ["error": "\(error)"]) }
        }
        let run = runDirectory.path
        logger.notice("instances' files live in the run directory", metadata: ["run": "\(run)"])
        let code = try CodeStore(directory: "\(data)/code", unpackDirectory: "\(run)/code", shared: stores.packages)
        let instancesDirectory = "\(run)/instances"
        guard mkdir(instancesDirectory, 0o711) == 0, chmod(instancesDirectory, 0o711) == 0 else {
            throw DirectoryError(description: "cannot create \(instancesDirectory): \(String(cString: strerror(errno)))")
        }
        let bootstraps = try RuntimeConfiguration.installBootstraps(into: "\(run)/runtime")

        try await store.ensureNamespace("default")
        // Scale-out: the revision the catalog is loaded at (CatalogSync reloads when it moves).
        let loadedRevision = try await (store as? any CatalogWatching)?.catalogRevision()
        let snapshot = try await store.loadCatalog()
        let catalog = Catalog(snapshot)
        let logStore = stores.logs
        let usage = try await Metering.meter(data: data, store: stores.shared?.usage, prices: configuration.prices, logger: logger)
        let writer = RecordWriter(store: store, logs: logStore, limits: configuration.logs, logger: logger, usage: usage)
        let hub = LogHub(writer: writer, limits: configuration.logs)
        let runtimeConfiguration = RuntimeConfiguration(bootstrapDirectory: bootstraps, instancesDirectory: instancesDirectory)
        let warmPool = configuration.warmPool ? WarmPool(runtime: runtimeConfiguration, logger: logger, sandbox: sandbox) : nil
        let budget = configuration.memoryBudgetMB ?? Int(ProcessInfo.processInfo.physicalMemory / 1024 / 1024 * 8 / 10)
        let capacity = CapacityGate(memoryBudgetMB: budget, namespaceMaxInstances: configuration.namespaceMaxInstances, gpus: configuration.gpus)
        if !configuration.gpus.isEmpty { logger.notice("GPUs declared", metadata: ["gpus": "\(configuration.gpus.map(\.description).joined(separator: ","))"]) }
        let runtime = RuntimeManager(
            configuration: runtimeConfiguration, sink: hub, logger: logger, warmPool: warmPool, sandbox: sandbox, capacity: capacity)
        // Trace export when the OTEL_* variables ask for it; nothing of it on the invoke path otherwise.
        let environment = ProcessInfo.processInfo.environment
        let tracing = Telemetry.tracingWanted(environment)
        let telemetry: (any Service)? = tracing ? try Telemetry.bootstrapTracing(environment: environment) : nil
        if tracing {
            logger.notice("exporting traces (OpenTelemetry)", metadata: [
                "endpoint": "\(environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? environment["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? "console")",
            ])
        }
        // Scale-out: minimum and scheduled instances are split across the live nodes.
        let share = stores.packages == nil ? nil : ClusterShare()
        let nodeMetrics = NodeMetrics()
        runtime.metrics.use(nodeMetrics.factory)
        let invoker = Invoker(
            catalog: catalog, runtime: runtime, codeDirectory: code.unpackDirectory, hub: hub, writer: writer,
            metrics: nodeMetrics.invocationMetrics(), tracing: tracing, share: share)
        usage.sampleInstances { Metering.instanceSamples(runtime) }
        let taskStore = stores.tasks
        let kafka = KafkaClients(logger: logger)
        // Scale-out: this node claims tasks from the queue all nodes share.
        let tasks = TaskService(
            store: taskStore, invoker: invoker, logger: logger, kafka: kafka,
            cluster: stores.packages == nil ? nil : TaskLeaseSettings(node: stores.node))
        let triggers = TriggerManager(
            catalog: catalog, invoker: invoker, tasks: tasks, store: stores.triggers, kafka: kafka, logger: logger)
        let workflows = WorkflowEngine(
            store: try stores.shared?.workflows ?? SQLiteWorkflowStore(path: "\(data)/workflows.db"), runner: InvokerTaskRunner(invoker: invoker, tasks: tasks),
            logger: logger)
        tasks.setWorkflowStarter(WorkflowRoutes.destinationStarter(workflows))
        await triggers.setWorkflowHost(WorkflowTriggerStarter(engine: workflows))
        let provisioner = Provisioner(catalog: catalog, runtime: runtime, codeDirectory: code.unpackDirectory, logger: logger, share: share)
        // As root, functions get uids from a block of the host's that no other data directory has.
        let uidRange = sandbox.switchesUID ? try HostUIDBlocks.claim(dataDirectory: data) : .standard
        let layers: any LayerStorage = try stores.shared?.layers ?? LayerStore(path: "\(data)/layers.db")
        let control = ControlPlane(store: store, catalog: catalog, runtime: runtime, code: code, uidRange: uidRange, layers: layers)
        // Scale-out: changes other nodes make to the catalog reach this one.
        let catalogSync = (store as? any CatalogWatching).map {
            CatalogSync(watcher: $0, store: store, control: control, loadedRevision: loadedRevision ?? 0, logger: logger)
        }

        // Every function gets its uid and its own unpacked copy of each package it uses.
        try await prepareFunctions(snapshot, control: control, code: code, logger: logger)

        try await ensureAdminKey(control: control, catalog: catalog, data: data, given: configuration.adminKey, logger: logger)

        if let example = configuration.exampleDirectory {
            try await deployExample(example, control: control, code: code, logger: logger)
            try await deployExampleWorkflows(example, store: workflows.store, logger: logger)
        }

        // Every node's status, in the shared store (scale-out).
        let heartbeat = NodeHeartbeat(
            id: stores.node, address: "\(configuration.host):\(configuration.port)", registry: stores.control as? any NodeRegistry,
            capacity: capacity, tasks: tasks, share: share, logger: logger)

        let router = Router(context: SwellRequestContext.self)
        if tracing {
            // A server span per request, continuing a caller's W3C traceparent.
            router.add(middleware: requestTracing())
        }
        router.add(middleware: ErrorMiddleware())
        router.get("v1/health") { _, _ in try JSONBody.response(["status": "ok"]) }
        router.get("v1/openapi.yaml") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/yaml"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.text)))
        }
        let audit: any AuditStore = try stores.shared?.audit ?? SQLiteAuditStore(path: "\(data)/audit.db")
        let v1 = router.group("v1").add(middleware: AuthMiddleware(catalog: catalog)).add(middleware: AuditMiddleware(store: audit))
        FunctionRoutes(control: control, catalog: catalog, code: code).register(on: v1)
        InvokeRoutes(invoker: invoker, tasks: tasks).register(on: v1)
        TaskRoutes(tasks: tasks, store: taskStore, logs: logStore).register(on: v1)
        AdminRoutes(control: control, catalog: catalog, records: store, logs: logStore, hub: hub, writer: writer).register(on: v1)
        InstanceRoutes(catalog: catalog, runtime: runtime, triggers: triggers, tasks: tasks, node: nodeMetrics, workflows: workflows).register(on: v1)
        WorkflowRoutes(engine: workflows).register(on: v1)
        TriggerRoutes(triggers: triggers).register(on: v1)
        ConsoleAPIRoutes(catalog: catalog, runtime: runtime).register(on: v1)
        UsageRoutes(meter: usage).register(on: v1)
        AuditRoutes(store: audit).register(on: v1)
        NodeRoutes(heartbeat: heartbeat).register(on: v1)
        let functionURLs = FunctionURLRoutes(invoker: invoker, catalog: catalog)
        functionURLs.register(on: router)
        ConsoleRoutes().register(on: router)
        AWSFront(
            keys: try await stores.shared?.awsKeys() ?? AWSKeyStore(directory: data),
            lambda: LambdaRoutes(control: control, catalog: catalog, code: code, invoker: invoker, tasks: tasks, layers: layers),
            stepFunctions: StepFunctionsRoutes(engine: workflows)
        ).register(on: router, v1: v1)

        let host = configuration.host
        let port = configuration.port
        // Idle connections must never exhaust the descriptors instances and databases need.
        let fileLimit = FileLimit.raise()
        let maxConnections = configuration.listener.maxConnections ?? ListenerConfiguration.defaultMaxConnections(fileLimit: fileLimit)
        let serverName = "swell"
        let app = Application(
            router: router,
            server: .guardedHTTP1(
                configuration.listener, maxConnections: maxConnections, logger: logger,
                functionURLs: FunctionURLService(
                    routes: functionURLs, logger: logger, serverName: serverName, application: router.buildResponder())),
            configuration: .init(address: .hostname(host, port: port), serverName: serverName, backlog: 4096),
            // Stopped in reverse order: triggers first (they feed tasks), the record writer last.
            // The trace exporter stops last, flushing the spans of everything before it.
            services: (telemetry.map { [$0] } ?? []) + [usage, writer, runtime, provisioner] + (warmPool.map { [$0] } ?? [])
                + (catalogSync.map { [$0] } ?? []) + [tasks, workflows, triggers] + (heartbeat.registry == nil ? [] : [heartbeat]),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.notice("swell is listening", metadata: [
                    "url": "http://\(host):\(bound)", "data": "\(data)", "max_connections": "\(maxConnections)", "file_limit": "\(fileLimit)",
                ])
            },
            logger: logger)
        try await app.runService()
    }

    /// Gives every stored function a uid (functions deployed before uids were stored get one
    /// now) and unpacks the code of `$LATEST` and every version into the run directory.
    static func prepareFunctions(_ snapshot: CatalogSnapshot, control: ControlPlane, code: CodeStore, logger: Logger) async throws {
        var uses: Set<[String]> = []
        for f in snapshot.functions { uses.insert([f.namespace, f.name, f.config.codeSha256]) }
        for v in snapshot.versions { uses.insert([v.namespace, v.function, v.config.codeSha256]) }
        for use in uses.sorted(by: { $0.joined(separator: "/") < $1.joined(separator: "/") }) {
            let (ns, name, sha) = (use[0], use[1], use[2])
            _ = try await control.uid(namespace: ns, name: name)
            // Packages stored before code was kept per namespace belong to the namespaces that use them;
            // with a shared store, packages another node stored are fetched.
            var present = code.adoptLegacy(namespace: ns, sha256: sha)
            if !present { present = (try? await code.ensureLocal(namespace: ns, sha256: sha)) == true }
            guard present else {
                logger.error("a function's code package is missing", metadata: ["function": "\(ns)/\(name)", "sha256": "\(sha)"])
                continue
            }
            do {
                try await control.prepareCode(namespace: ns, name: name, sha256: sha, field: "codeSha256")
            } catch {
                logger.error("cannot unpack a function's code", metadata: ["function": "\(ns)/\(name)", "sha256": "\(sha)", "error": "\(error)"])
            }
        }
        // The merged /opt trees of functions with layers (the run directory is new at every start).
        let layered = snapshot.functions.map { ($0.namespace, $0.name, $0.config.layers) } + snapshot.versions.map { ($0.namespace, $0.function, $0.config.layers) }
        for (ns, name, layers) in layered where !layers.isEmpty {
            do {
                try await control.prepareLayers(namespace: ns, name: name, layers: layers)
            } catch {
                logger.error("cannot unpack a function's layers", metadata: ["function": "\(ns)/\(name)", "error": "\(error)"])
            }
        }
    }

    /// Creates the first admin key (or registers `SWELL_ADMIN_KEY`) and keeps it in `admin.key` (mode 0600).
    static func ensureAdminKey(control: ControlPlane, catalog: Catalog, data: String, given: String?, logger: Logger) async throws {
        let path = "\(data)/admin.key"
        if let given {
            guard given.hasPrefix("swk_"), given.count >= 20 else {
                throw SwellError.invalid("SWELL_ADMIN_KEY", "must start with swk_ and be at least 20 characters")
            }
            if catalog.key(hash: APIKeys.hash(given)) == nil {
                _ = try await control.createKey(namespace: "default", role: .admin, name: "admin (SWELL_ADMIN_KEY)", plaintext: given)
            }
            try writeKeyFile(path, given)
            return
        }
        if let existing = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
            catalog.key(hash: APIKeys.hash(existing)) != nil
        {
            return
        }
        let hasAdmin = catalog.keys(namespace: "default").contains { $0.role == .admin && !$0.revoked }
        if hasAdmin && !FileManager.default.fileExists(atPath: path) { return }
        let (_, key) = try await control.createKey(namespace: "default", role: .admin, name: "admin")
        try writeKeyFile(path, key)
        FileHandle.standardError.write(Data("""
            Swell admin key (shown once; also saved to \(path), mode 0600):
              \(key)

            """.utf8))
    }

    static func writeKeyFile(_ path: String, _ key: String) throws {
        let fm = FileManager.default
        try? fm.removeItem(atPath: path)
        guard fm.createFile(atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw SwellError(.internal, "cannot write \(path)")
        }
    }

    /// Deploys a manifest directory in-process, as `swell deploy` would.
    static func deployExample(_ directory: String, control: ControlPlane, code: CodeStore, logger: Logger) async throws {
        let manifest = try Manifest.load(directory)
        let ns = manifest.namespace ?? "default"
        for function in manifest.functions {
            _ = try await code.store(function.package.data, namespace: ns, sha256: function.package.sha256)
            let (_, change, _) = try await control.putFunction(namespace: ns, name: function.name, spec: function.spec, path: "functions.\(function.name)")
            logger.notice("example deployed", metadata: ["function": "\(ns)/\(function.name)", "change": "\(change)"])
        }
    }
}

extension ServerConfiguration {
    /// This configuration with `gpus` declared.
    public func withGPUs(_ gpus: [GPUDevice]) -> ServerConfiguration {
        var c = self
        c.gpus = gpus
        return c
    }
}

/// Where a server keeps its state.
public enum StoreSelection: Sendable, Hashable, CustomStringConvertible {
    /// SQLite databases in the data directory (the embedded default).
    case sqlite
    /// One PostgreSQL database that any number of nodes share.
    case postgres(PostgresLocation)

    /// `sqlite`, or a `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` URL.
    public static func parse(_ text: String) throws(PostgresLocation.ParseError) -> StoreSelection {
        if text == "sqlite" { return .sqlite }
        guard PostgresLocation.isPostgresURL(text) else {
            throw PostgresLocation.ParseError(description: "the store is sqlite or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        return .postgres(try PostgresLocation(parsing: text))
    }

    /// The store with any password masked.
    public var description: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres(let location): location.description
        }
    }
}

/// A node's name: host, process and a random suffix (a restarted node is a new node; its
/// old claims lapse and go to the living).
enum NodeName {
    static func make() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node"
        return "\(host)-\(getpid())-\(UUID().uuidString.prefix(8).lowercased())"
    }
}
