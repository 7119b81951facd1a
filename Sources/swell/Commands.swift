import ArgumentParser
import Foundation
import Logging
import SwellDeploy
import SwellModel
import ServiceLifecycle
import SwellServer

@main
struct Swell: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "swell",
        abstract: "Swell: a self-hosted, event-driven serverless function platform.",
        discussion: """
            Client commands talk to a running `swell serve` at SWELL_URL (default: the URL saved by `swell login`, \
            else http://127.0.0.1:8080) with the key in SWELL_KEY (default: the nearest .swell/admin.key from the \
            current directory upward, else the key saved by `swell login`).
            """,
        subcommands: [
            Serve.self, Login.self, Deploy.self, Invoke.self, Functions.self, Publish.self, Alias.self, Instances.self, Tasks.self,
            Triggers.self, Logs.self, Keys.self, Usage.self, Audit.self, Workflows.self, Start.self, Executions.self, Nodes.self,
        ])
}

/// The `--namespace` option of client commands.
struct NamespaceOption: ParsableArguments {
    @Option(help: "Namespace (default: the key's).") var namespace: String?
}

/// Runs a client command, turning API failures into a message on stderr and exit status 1.
func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as APIClient.Failure {
        printError("error: \(failure.message)")
        throw ExitCode(1)
    } catch let error as SwellError {
        printError("error: \(error.description)")
        throw ExitCode(1)
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

func printJSON(_ object: Any) {
    if let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]) {
        print(String(decoding: data, as: UTF8.self))
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the Swell platform (HTTP API, function URLs, runtimes).")

    @Option(help: "Directory for the database, code packages and the admin key.") var dataDir = ".swell"
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080
    @Option(help: "Deploy an example app on start: a name under examples/ (e.g. homework) or a directory with a swell.yaml.") var example: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
    @Flag(inversion: .prefixedNo, help: "Keep pre-booted Node.js and Python processes so that cold starts skip the runtime's boot.") var warmPool = true
    @Flag(inversion: .prefixedNo, help: "Confine instances with cgroups (or rlimits) and, as root, unprivileged uids.") var sandbox = true
    @Option(help: "Memory (MB) all instances together may reserve; idle instances are evicted to make room (default: 80% of RAM).") var memoryBudget: Int?
    @Option(help: "Most instances one namespace may run at once.") var namespaceMaxInstances = 1000
    @Option(help: "GPUs instances may share, as INDEX:MIB[,INDEX:MIB...] (e.g. 0:16384,1:16384); a function asks for a share with gpu: {memory: MIB}.") var gpu: String?
    @Option(help: "Seconds a connection may stay idle between requests.") var idleTimeout = 60.0
    @Option(help: "Seconds a client may take to send a request's head.") var headerTimeout = 10.0
    @Option(help: "Seconds a client may take to send a request's body.") var bodyTimeout = 60.0
    @Option(help: "Most HTTP connections open at once (default: from the file limit, at most 16384).") var maxConnections: Int?
    @Option(help: "KB per second of log output one namespace may store.") var logRate = 1024
    @Option(help: "Log lines per second one namespace may store.") var logLinesRate = 5000
    @Option(help: "MB of log lines kept per function.") var logFunctionMaxMb = 64
    @Option(help: "MB of log lines kept per namespace, shared fairly by its functions.") var logNamespaceMaxMb = 256
    @Option(help: "MB the log database (logs.db) may occupy, shared fairly by namespaces.") var logDbMaxMb = 1024
    @Option(help: "Hours log lines are kept.") var logRetentionHours = 168.0
    @Option(help: "A JSON file of prices (perGBSecond, perMillionRequests, alwaysOnPerGBHour) to apply at start (see docs/observability.md).") var prices: String?
    @Option(help: "Where state lives: sqlite (files in the data directory, the default) or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, shared by every node (also SWELL_STORE).") var store: String?

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "swell")
        // First, so that a signal at any moment of the start-up stops the server (ServeStartup.swift).
        let signals = ShutdownSignals(logger: logger)
        var exampleDir: String?
        if let example {
            exampleDir = try Self.locateExample(example)
        }
        let adminKey = ProcessInfo.processInfo.environment["SWELL_ADMIN_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let listener = try listenerConfiguration()
        let logs = try logLimits()
        let gpus: [GPUDevice]
        do {
            gpus = try gpu.map { text throws(GPUDevice.ParseError) in try GPUDevice.parseList(text) } ?? []
        } catch {
            throw ValidationError(error.message)
        }
        let priceTable = try loadPrices()
        let storeSelection = try storeSelection()
        let lock: DataDirectoryLock
        do {
            lock = try DataDirectoryLock.acquire(dataDirectory: dataDir)
            try ListenCheck.check(host: host, port: port)
        } catch let error as StartupError {
            printError("error: \(error.description)")
            throw ExitCode(1)
        }
        if signals.received {
            logger.notice("stopped before starting")
            return
        }
        logger.notice("starting", metadata: ["data": "\(dataDir)", "pid": "\(getpid())", "lock": "\(lock.path)"])
        let server = SwellServerService(
            configuration: ServerConfiguration(
                dataDirectory: dataDir, host: host, port: port, adminKey: adminKey, exampleDirectory: exampleDir, warmPool: warmPool,
                memoryBudgetMB: memoryBudget, namespaceMaxInstances: namespaceMaxInstances, sandbox: sandbox,
                listener: listener, logs: logs, prices: priceTable, store: storeSelection
            ).withGPUs(gpus),
            logger: logger)
        // This group traps no signal itself: ShutdownSignals turns the first one into its graceful
        // shutdown, which the group remembers if it comes before run() and passes down to the
        // server's own groups, which may not exist yet.
        let group = ServiceGroup(configuration: .init(services: [server], logger: logger))
        signals.onStop { Task { await group.triggerGracefulShutdown() } }
        do {
            try await group.run()
        } catch let error as SwellError {
            printError("error: \(error.description)")
            throw ExitCode(1)
        } catch {
            printError("error: \(StartupFailure.describe(error, host: host, port: port))")
            throw ExitCode(1)
        }
        withExtendedLifetime(lock) {}
        if signals.received { logger.notice("stopped") }
    }

    /// `--store`, else `SWELL_STORE`, else SQLite.
    func storeSelection() throws -> StoreSelection {
        let environment = ProcessInfo.processInfo.environment["SWELL_STORE"].flatMap { $0.isEmpty ? nil : $0 }
        guard let text = store ?? environment else { return .sqlite }
        do {
            return try StoreSelection.parse(text)
        } catch {
            throw ValidationError("\(store == nil ? "SWELL_STORE" : "--store"): \(error.description)")
        }
    }

    func listenerConfiguration() throws -> ListenerConfiguration {
        for (name, value) in [("--idle-timeout", idleTimeout), ("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout)] {
            guard value > 0, value <= 86_400 else { throw ValidationError("\(name) must be more than 0 and at most 86400 seconds (got \(value))") }
        }
        if let maxConnections, maxConnections < 1 { throw ValidationError("--max-connections must be at least 1 (got \(maxConnections))") }
        return ListenerConfiguration(
            idleTimeout: .milliseconds(Int64(idleTimeout * 1000)), headerTimeout: .milliseconds(Int64(headerTimeout * 1000)),
            bodyTimeout: .milliseconds(Int64(bodyTimeout * 1000)), maxConnections: maxConnections)
    }

    func logLimits() throws -> LogLimits {
        for (name, value) in [("--log-rate", logRate), ("--log-lines-rate", logLinesRate), ("--log-function-max-mb", logFunctionMaxMb),
                              ("--log-namespace-max-mb", logNamespaceMaxMb), ("--log-db-max-mb", logDbMaxMb)] where value < 1 {
            throw ValidationError("\(name) must be at least 1 (got \(value))")
        }
        guard logRetentionHours > 0 else { throw ValidationError("--log-retention-hours must be positive (got \(logRetentionHours))") }
        var limits = LogLimits(namespaceBytesPerSecond: logRate * 1024, namespaceLinesPerSecond: logLinesRate)
        limits.retention = LogRetentionPolicy(
            maxAge: logRetentionHours * 3600, functionMaxBytes: logFunctionMaxMb << 20, namespaceMaxBytes: logNamespaceMaxMb << 20,
            databaseMaxBytes: logDbMaxMb << 20)
        return limits
    }

    /// The `--prices` file's table (prices it leaves out keep their defaults).
    func loadPrices() throws -> PriceTable? {
        guard let prices else { return nil }
        guard let data = FileManager.default.contents(atPath: prices) else {
            throw ValidationError("--prices: cannot read \(prices)")
        }
        let value: ConfigValue
        do {
            value = try JSONDecoder().decode(ConfigValue.self, from: data)
        } catch {
            throw ValidationError("--prices: \(prices) is not valid JSON")
        }
        do {
            return try PriceTable.defaults.updated(with: value)
        } catch {
            throw ValidationError("--prices: \(prices): \(error.description)")
        }
    }

    static func locateExample(_ name: String) throws -> String {
        let fm = FileManager.default
        if fm.fileExists(atPath: "\(name)/swell.yaml") { return name }
        var candidates = ["examples/\(name)"]
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        var dir = exe
        for _ in 0..<5 {
            candidates.append(dir.appendingPathComponent("examples/\(name)").path)
            dir = dir.deletingLastPathComponent()
        }
        for c in candidates where fm.fileExists(atPath: "\(c)/swell.yaml") { return c }
        throw ValidationError("no example named \(name) (looked for examples/\(name)/swell.yaml)")
    }
}

struct Deploy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deploy the functions of a swell.yaml (idempotent; reports what changed).")

    @Argument(help: "Directory holding swell.yaml, or the manifest file.") var directory = "."
    @Flag(help: "Delete functions of the namespace that the manifest does not list.") var prune = false
    @Option(help: "Namespace (default: the manifest's, else the key's).") var namespace: String?

    func run() async throws {
        try await runClient {
            let manifest = try Manifest.load(directory)
            for warning in manifest.warnings { printError("warning: \(warning)") }
            let client = try APIClient.fromEnvironment()
            let ns = try await client.namespace(namespace ?? manifest.namespace)
            var uploaded = Set<String>()
            for f in manifest.functions where !uploaded.contains(f.package.sha256) {
                uploaded.insert(f.package.sha256)
                let head = try await client.send("HEAD", "/v1/namespaces/\(ns)/code/\(f.package.sha256)", allow: [404])
                if head.status == 404 {
                    try await client.send("PUT", "/v1/namespaces/\(ns)/code/\(f.package.sha256)", body: f.package.data, contentType: "application/x-tar")
                }
            }
            var functions: [String: Any] = [:]
            for f in manifest.functions {
                functions[f.name] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(f.spec))
            }
            let result = try await client.json("POST", "/v1/namespaces/\(ns)/deploy", ["functions": functions, "prune": prune])
            for change in result["changes"] as? [[String: Any]] ?? [] {
                let fields = (change["fields"] as? [String]) ?? []
                let suffix = fields.isEmpty ? "" : " (\(fields.joined(separator: ", ")))"
                print("\(change["change"] ?? "?") \(change["function"] ?? "?")\(suffix)")
            }
            try await deployWorkflows(manifest, client: client, namespace: ns)
        }
    }
}

struct Invoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Invoke a function and print its result.")

    @Argument(help: "NAME or NAME:QUALIFIER ($LATEST, a version number or an alias).") var function: String
    @Option(help: "The event, as JSON.") var data: String?
    @Option(help: "Read the event from a file (- for stdin).") var file: String?
    @Flag(help: "Print the invocation's log lines to stderr.") var logTail = false
    @Flag(name: .customLong("async"), help: "Queue the invocation as a durable task and print its id (202).") var asynchronous = false
    @Option(help: "With --async: duplicates with this key (within a day) return the first task.") var idempotencyKey: String?
    @Option(help: "With --async: 0-9, higher runs first.") var priority: Int?
    @Option(help: "With --async: run no sooner than this many seconds from now.") var delay: Double?
    @OptionGroup var scope: NamespaceOption

    func run() async throws {
        if data != nil && file != nil { throw ValidationError("give --data or --file, not both") }
        if !asynchronous && (idempotencyKey != nil || priority != nil || delay != nil) {
            throw ValidationError("--idempotency-key, --priority and --delay need --async")
        }
        try await runClient {
            let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
            var body = Data((data ?? "{}").utf8)
            if let file {
                body = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
            }
            let (name, qualifier) = split(function)
            var path = "/v1/namespaces/\(ns)/functions/\(name.pathEscaped)/invoke"
            var query: [String] = []
            if let qualifier { query.append("qualifier=\(qualifier.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? qualifier)") }
            if asynchronous {
                query.append("mode=async")
                if let priority { query.append("priority=\(priority)") }
                if let delay { query.append("delay=\(delay)") }
                if !query.isEmpty { path += "?" + query.joined(separator: "&") }
                let headers = idempotencyKey.map { ["Idempotency-Key": $0] } ?? [:]
                let reply = try await client.send("POST", path, body: body, headers: headers)
                let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any]
                guard let id = object?["taskId"] as? String else { throw APIClient.Failure(status: 0, message: "unexpected answer: " + String(decoding: reply.body, as: UTF8.self)) }
                print(id)
                return
            }
            if !query.isEmpty { path += "?" + query.joined(separator: "&") }
            let reply = try await client.send("POST", path, body: body, headers: logTail ? ["X-Swell-Log-Type": "Tail"] : [:])
            if logTail, let tail = reply.header("X-Swell-Log-Result"), let decoded = Data(base64Encoded: tail) {
                FileHandle.standardError.write(decoded)
            }
            if let kind = reply.header("X-Swell-Function-Error") {
                printError("function error (\(kind)): \(String(decoding: reply.body, as: UTF8.self))")
                throw ExitCode(1)
            }
            FileHandle.standardOutput.write(reply.body)
            if reply.body.last != UInt8(ascii: "\n") { print("") }
        }
    }

    func split(_ s: String) -> (String, String?) {
        guard let colon = s.firstIndex(of: ":") else { return (s, nil) }
        return (String(s[..<colon]), String(s[s.index(after: colon)...]))
    }
}

struct Functions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show or delete functions.", subcommands: [List.self, Get.self, Delete.self])

    struct List: AsyncParsableCommand {
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let result = try await client.json("GET", "/v1/namespaces/\(ns)/functions")
                let functions = result["functions"] as? [[String: Any]] ?? []
                if json { return printJSON(functions) }
                printTable([("NAME", 24), ("RUNTIME", 10), ("MEMORY", 8), ("TIMEOUT", 9), ("CONCURRENCY", 13), ("URL", 0)], functions.map { f in
                    ["\(f["name"] ?? "")", "\(f["runtime"] ?? "")", "\(f["memory"] ?? "")", "\(f["timeout"] ?? "")s",
                     "\(f["concurrency"] ?? "")", (f["url"] as? [String: Any])?["path"] as? String ?? "-"]
                })
            }
        }
    }

    struct Get: AsyncParsableCommand {
        @Argument var name: String
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                printJSON(try await client.json("GET", "/v1/namespaces/\(ns)/functions/\(name.pathEscaped)"))
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        @Argument var name: String
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                try await client.send("DELETE", "/v1/namespaces/\(ns)/functions/\(name.pathEscaped)")
                print("deleted \(name)")
            }
        }
    }
}

struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Freeze $LATEST as a new numbered version; prints the version.")

    @Argument var name: String
    @Option(help: "A description of the version.") var description: String?
    @OptionGroup var scope: NamespaceOption

    func run() async throws {
        try await runClient {
            let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
            let result = try await client.json("POST", "/v1/namespaces/\(ns)/functions/\(name.pathEscaped)/versions", ["description": description ?? ""])
            print(result["version"] as? String ?? "?")
        }
    }
}

struct Alias: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Point aliases at versions (optionally with canary weights).", subcommands: [Set.self, List.self, Delete.self])

    struct Set: AsyncParsableCommand {
        @Argument var function: String
        @Argument var alias: String
        @Argument var version: String
        @Option(help: "Send a share of invocations to another version: V=WEIGHT, e.g. 3=0.1.") var weight: String?
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            var body: [String: Any] = ["version": version]
            if let weight {
                let parts = weight.split(separator: "=")
                guard parts.count == 2, Double(parts[1]) != nil else { throw ValidationError("--weight must look like VERSION=WEIGHT, e.g. 3=0.1") }
                body["additionalVersionWeights"] = [String(parts[0]): Double(parts[1])!]
            }
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let result = try await client.json("PUT", "/v1/namespaces/\(ns)/functions/\(function.pathEscaped)/aliases/\(alias.pathEscaped)", body)
                let weights = (result["additionalVersionWeights"] as? [String: Any] ?? [:]).map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                print("\(alias) -> \(result["version"] ?? "?")" + (weights.isEmpty ? "" : " (+\(weights))"))
            }
        }
    }

    struct List: AsyncParsableCommand {
        @Argument var function: String
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                printJSON(try await client.json("GET", "/v1/namespaces/\(ns)/functions/\(function.pathEscaped)/aliases")["aliases"] ?? [])
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        @Argument var function: String
        @Argument var alias: String
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                try await client.send("DELETE", "/v1/namespaces/\(ns)/functions/\(function.pathEscaped)/aliases/\(alias.pathEscaped)")
                print("deleted alias \(alias)")
            }
        }
    }
}

struct Tasks: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, inspect, stop and re-run async tasks.", subcommands: [List.self, Get.self, Stop.self, Retry.self, SendSuccess.self, SendFailure.self])

    struct List: AsyncParsableCommand {
        @Option(help: "Only this function's tasks.") var function: String?
        @Option(help: "queued, running, succeeded, failed, stopped or expired.") var state: String?
        @Option(help: "How many (newest first).") var limit = 50
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                var query = ["limit=\(limit)"]
                if let function { query.append("function=\(function.pathEscaped)") }
                if let state { query.append("state=\(state.pathEscaped)") }
                let result = try await client.json("GET", "/v1/namespaces/\(ns)/tasks?" + query.joined(separator: "&"))
                let tasks = result["tasks"] as? [[String: Any]] ?? []
                if json { return printJSON(tasks) }
                printTable([("ID", 32), ("FUNCTION", 20), ("STATE", 11), ("STARTS", 8), ("PRIO", 6), ("CREATED", 0)], tasks.map { t in
                    ["\(t["id"] ?? "")", "\(t["function"] ?? "")", "\(t["state"] ?? "")", "\(t["starts"] ?? 0)",
                     "\(t["priority"] ?? 0)", "\(t["createdAt"] ?? "")"]
                })
            }
        }
    }

    struct Get: AsyncParsableCommand {
        @Argument var id: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let result = try await client.json("GET", "/v1/namespaces/\(ns)/tasks/\(id.pathEscaped)")
                guard let t = result["task"] as? [String: Any] else { throw APIClient.Failure(status: 0, message: "no task in the answer") }
                if json { return printJSON(t) }
                print("task      \(t["id"] ?? "")\nfunction  \(t["function"] ?? ""):\(t["qualifier"] ?? "")\nstate     \(t["state"] ?? "")")
                print("created   \(t["createdAt"] ?? "")\nfinished  \(t["finishedAt"] ?? "-")")
                for a in t["attempts"] as? [[String: Any]] ?? [] {
                    let ms = (a["durationMs"] as? Double).map { String(format: "%.1f ms", $0) } ?? "-"
                    let wait = (a["queueDelayMs"] as? Double).map { String(format: "waited %.1f ms", $0) } ?? ""
                    print("attempt \(a["number"] ?? "") \(a["startedAt"] ?? "") \(a["outcome"] as? String ?? "running") \(ms) \(wait) request \(a["requestId"] ?? "")")
                }
                if let r = t["result"], !(r is NSNull) { print("result    \(jsonText(r))") }
                if let e = t["error"], !(e is NSNull) { print("error     \(jsonText(e))") }
                for line in t["logs"] as? [[String: Any]] ?? [] { print("log       \(line["message"] ?? "")") }
            }
        }
    }

    struct Stop: AsyncParsableCommand {
        @Argument var id: String
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let result = try await client.json("POST", "/v1/namespaces/\(ns)/tasks/\(id.pathEscaped)/stop")
                print("\(id) \(result["state"] ?? "")")
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        @Argument var id: String
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                _ = try await client.json("POST", "/v1/namespaces/\(ns)/tasks/\(id.pathEscaped)/retry")
                print("\(id) queued")
            }
        }
    }
}

/// Prints a header and rows in left-aligned columns of the given widths (0: as wide as the text).
func printTable(_ columns: [(title: String, width: Int)], _ rows: [[String]]) {
    func line(_ cells: [String]) -> String {
        zip(cells, columns).map { $1.width > 0 ? $0.padding(toLength: $1.width, withPad: " ", startingAt: 0) : $0 }.joined()
    }
    print(line(columns.map(\.title)))
    for row in rows { print(line(row)) }
}

func jsonText(_ value: Any) -> String {
    guard JSONSerialization.isValidJSONObject([value]),
          let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) else { return "\(value)" }
    return String(decoding: data, as: UTF8.self)
}

struct Instances: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a function's instances: state, busy and free slots, memory, age.")

    @Argument var name: String
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var scope: NamespaceOption

    func run() async throws {
        try await runClient {
            let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
            let result = try await client.json("GET", "/v1/namespaces/\(ns)/functions/\(name.pathEscaped)/instances")
            let instances = result["instances"] as? [[String: Any]] ?? []
            if json { return printJSON(instances) }
            printTable(
                [("ID", 16), ("VERSION", 9), ("STATE", 10), ("BUSY", 6), ("FREE", 6), ("MEMORY", 10), ("AGE", 9), ("PID", 0)],
                instances.map { i in
                    ["\(i["id"] ?? "")", "\(i["version"] ?? "")", "\(i["state"] ?? "")", "\(i["busy"] ?? 0)", "\(i["free"] ?? 0)",
                     (i["memoryBytes"] as? Int).map { String(format: "%.1f MB", Double($0) / 1_048_576) } ?? "-",
                     (i["ageSeconds"] as? Double).map { String(format: "%.0fs", $0) } ?? "-",
                     (i["pid"] as? Int).map(String.init) ?? "-"]
                })
            if instances.isEmpty { print("(no instances: \(name) is scaled to zero)") }
        }
    }
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a function's log lines (and follow new ones).")

    @Argument var name: String
    @Flag(help: "Keep printing new lines as they arrive.") var follow = false
    @Option(help: "Only the lines of this request id.") var requestId: String?
    @Option(help: "How many of the newest lines to print first.") var limit = 100
    @Option(help: "Only lines since this long ago (30s, 10m, 2h, 1d) or this RFC 3339 time.") var since: String?
    @OptionGroup var scope: NamespaceOption

    func run() async throws {
        try await runClient {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be between 1 and 10000 (got \(limit))") }
            let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
            let base = "/v1/namespaces/\(ns)/functions/\(name.pathEscaped)/logs"
            var filter = requestId.map { "&requestId=\($0.pathEscaped)" } ?? ""
            if let since { filter += "&since=\(try Self.sinceTime(since).pathEscaped)" }
            // The newest `limit` lines in one request, however many are stored.
            let page = try await client.json("GET", "\(base)?newest=true&limit=\(limit)\(filter)")
            let lines = page["lines"] as? [[String: Any]] ?? []
            lines.forEach(Self.printLine)
            if let dropped = page["dropped"] as? [String: Any], let summary = Self.dropSummary(dropped) { printError(summary) }
            var after = (page["next"] as? NSNumber)?.int64Value ?? 0
            guard follow else { return }
            while true {
                let page = try await client.json("GET", "\(base)?after=\(after)&limit=1000&wait=25\(filter)")
                let lines = page["lines"] as? [[String: Any]] ?? []
                lines.forEach(Self.printLine)
                after = (page["next"] as? NSNumber)?.int64Value ?? after
            }
        }
    }

    /// `30s`, `10m`, `2h`, `1d` ago, or an RFC 3339 time as given.
    static func sinceTime(_ text: String) throws -> String {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if let unit = text.last, let scale = units[unit], let n = Double(text.dropLast()), n >= 0 {
            return Date().addingTimeInterval(-n * scale).ISO8601Format()
        }
        guard (try? Date(text, strategy: Date.ISO8601FormatStyle())) != nil else {
            throw ValidationError("--since must be a duration such as 10m or 2h, or an RFC 3339 time (got \(text))")
        }
        return text
    }

    /// One line on what was not stored of the function's output, or nil when nothing was lost.
    static func dropSummary(_ d: [String: Any]) -> String? {
        func n(_ key: String) -> Int { (d[key] as? NSNumber)?.intValue ?? 0 }
        var parts: [String] = []
        if n("rateLimitedLines") > 0 { parts.append("\(n("rateLimitedLines")) lines dropped by the namespace's log rate limit") }
        if n("queueFullLines") > 0 { parts.append("\(n("queueFullLines")) lines dropped while the log writer was busy") }
        if n("cutLines") > 0 { parts.append("\(n("cutLines")) lines cut to the line limit") }
        if n("prunedLines") > 0 { parts.append("\(n("prunedLines")) older lines removed by retention") }
        return parts.isEmpty ? nil : "note: " + parts.joined(separator: "; ")
    }

    static func printLine(_ line: [String: Any]) {
        let rid = (line["requestId"] as? String).map { String($0.prefix(8)) } ?? "--------"
        let text = "\(line["time"] ?? "") \(rid) \(line["stream"] ?? "") \(line["message"] ?? "")\n"
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Manage API keys.", subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        @Option(help: "admin, developer or invoker.") var role: String
        @Option(help: "A label for the key.") var name: String?
        @Option(help: "Namespace (default: the key's; the default namespace's admin may create keys for any).") var namespace: String?
        @Flag(help: "Also issue an AWS access key id and secret access key bound to the new key (for boto3, the AWS CLI and the AWS SDKs).")
        var aws = false

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: namespace)
                let result = try await client.json("POST", "/v1/namespaces/\(ns)/keys", ["role": role, "name": name ?? ""])
                printError("key \(result["id"] ?? "") (\(result["role"] ?? "") in \(result["namespace"] ?? "")); it is shown only once:")
                print(result["key"] as? String ?? "")
                guard aws, let id = result["id"] as? String else { return }
                let issued = try await client.json("POST", "/v1/namespaces/\(ns)/keys/\(id.pathEscaped)/aws", [String: String]())
                printError("AWS credentials bound to key \(id), shown only once (for ~/.aws/credentials):")
                print("aws_access_key_id = \(issued["accessKeyId"] as? String ?? "")")
                print("aws_secret_access_key = \(issued["secretAccessKey"] as? String ?? "")")
            }
        }
    }

    struct List: AsyncParsableCommand {
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let keys = try await client.json("GET", "/v1/namespaces/\(ns)/keys")["keys"] as? [[String: Any]] ?? []
                for k in keys {
                    print("\(k["id"] ?? "")  \(k["role"] ?? "")  \((k["revoked"] as? Bool) == true ? "revoked" : "active")  \(k["name"] ?? "")")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        @Argument var id: String
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                try await client.send("DELETE", "/v1/namespaces/\(ns)/keys/\(id.pathEscaped)")
                print("revoked \(id)")
            }
        }
    }
}
