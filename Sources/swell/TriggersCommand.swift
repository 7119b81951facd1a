import ArgumentParser
import Foundation

/// `swell triggers list|get|pause|resume`.
struct Triggers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, inspect, pause and resume functions' and workflows' triggers (Kafka, timer, object store).",
        subcommands: [List.self, Get.self, Pause.self, Resume.self])

    /// A trigger named by its function (or workflow) and, when that has several, its name.
    struct Target: ParsableArguments {
        @Argument(help: "The function (the workflow with --workflow).") var function: String
        @Argument(help: "The trigger's name (may be left out when the function has one trigger).") var name: String?
        @Flag(help: "The trigger belongs to a workflow of this name.") var workflow = false

        var kind: String { workflow ? "workflow" : "function" }
        /// `functions/NAME` or `workflows/NAME`.
        var path: String { "\(kind)s/\(function.pathEscaped)" }

        /// The trigger's name, looked up when not given.
        func resolve(_ client: APIClient, _ ns: String) async throws -> String {
            if let name { return name }
            let result = try await client.json("GET", "/v1/namespaces/\(ns)/triggers?\(kind)=\(function.pathEscaped)")
            let names = (result["triggers"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            guard names.count == 1 else {
                throw APIClient.Failure(status: 0, message: names.isEmpty
                    ? "\(kind) \(function) has no triggers"
                    : "\(kind) \(function) has \(names.count) triggers (\(names.joined(separator: ", "))); name one")
            }
            return names[0]
        }
    }

    struct List: AsyncParsableCommand {
        @Option(help: "Only this function's triggers.") var function: String?
        @Option(help: "Only this workflow's triggers.") var workflow: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let query = function.map { "?function=\($0.pathEscaped)" } ?? workflow.map { "?workflow=\($0.pathEscaped)" } ?? ""
                let result = try await client.json("GET", "/v1/namespaces/\(ns)/triggers\(query)")
                let triggers = result["triggers"] as? [[String: Any]] ?? []
                if json { return printJSON(triggers) }
                printTable([("FUNCTION", 20), ("NAME", 16), ("TYPE", 14), ("STATE", 9), ("EVENTS", 10), ("DETAIL", 0)], triggers.map { t in
                    [Triggers.owner(t), "\(t["name"] ?? "")", "\(t["type"] ?? "")", "\(t["state"] ?? "")",
                     "\((t["counters"] as? [String: Any])?["events"] ?? 0)", Triggers.detail(t)]
                })
            }
        }
    }

    struct Get: AsyncParsableCommand {
        @OptionGroup var target: Target
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let name = try await target.resolve(client, ns)
                let t = try await client.json("GET", "/v1/namespaces/\(ns)/\(target.path)/triggers/\(name.pathEscaped)")
                if json { return printJSON(t) }
                print("trigger   \(Triggers.owner(t))/\(t["name"] ?? "") (\(t["type"] ?? "") → \(t["qualifier"] ?? ""))")
                print("state     \(t["state"] ?? "")")
                if let e = t["error"] as? String { print("error     \(e) (at \(t["errorAt"] ?? ""))") }
                if let c = t["counters"] as? [String: Any] {
                    print("counters  " + ["events", "invocations", "succeeded", "failedAttempts", "deadLettered", "results"]
                        .map { "\($0) \(c[$0] ?? 0)" }.joined(separator: "  "))
                }
                if let k = t["kafka"] as? [String: Any] {
                    print("group     \(k["groupId"] ?? "")  lag \(k["lag"] ?? 0)  in flight \(k["inFlight"] ?? 0)  \(k["recordsPerSecond"] ?? 0) records/s")
                    printTable([("TOPIC", 24), ("PARTITION", 11), ("COMMITTED", 12), ("POSITION", 12), ("HIGH", 12), ("LAG", 0)],
                               (k["partitions"] as? [[String: Any]] ?? []).map { p in
                                   ["\(p["topic"] ?? "")", "\(p["partition"] ?? "")", "\(Triggers.text(p["committed"]))", "\(p["position"] ?? "")",
                                    "\(p["highWatermark"] ?? "")", "\(Triggers.text(p["lag"]))"]
                               })
                }
                if let timer = t["timer"] as? [String: Any] {
                    print("last fire \(Triggers.text(timer["lastFire"]))\nnext fire \(Triggers.text(timer["nextFire"]))")
                }
            }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop delivering events until resumed (kept across restarts).")
        @OptionGroup var target: Target
        @OptionGroup var scope: NamespaceOption

        func run() async throws { try await Triggers.set(target, scope, action: "pause") }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Deliver events again.")
        @OptionGroup var target: Target
        @OptionGroup var scope: NamespaceOption

        func run() async throws { try await Triggers.set(target, scope, action: "resume") }
    }

    static func set(_ target: Target, _ scope: NamespaceOption, action: String) async throws {
        try await runClient {
            let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
            let name = try await target.resolve(client, ns)
            let t = try await client.json("POST", "/v1/namespaces/\(ns)/\(target.path)/triggers/\(name.pathEscaped)/\(action)")
            print("\(target.function)/\(name) \(t["state"] ?? "")")
        }
    }

    /// The function a trigger belongs to, or `workflow:NAME`.
    static func owner(_ t: [String: Any]) -> String {
        if let w = t["workflow"] as? String { return "workflow:\(w)" }
        return "\(t["function"] ?? "")"
    }

    /// One line about a trigger for the list: its source and how far it is.
    static func detail(_ t: [String: Any]) -> String {
        let config = t["config"] as? [String: Any] ?? [:]
        var parts: [String] = []
        switch t["type"] as? String {
        case "kafka":
            parts.append(((config["topics"] as? [String]) ?? []).joined(separator: ","))
            if let k = t["kafka"] as? [String: Any] { parts.append("lag \(k["lag"] ?? 0)") }
        case "timer":
            parts.append("\(config["cron"] ?? "") \(config["timezone"] ?? "")")
            if let next = (t["timer"] as? [String: Any])?["nextFire"] as? String { parts.append("next \(next)") }
        default:
            parts.append("\(config["bucket"] ?? "")/\(config["prefix"] ?? "")*\(config["suffix"] ?? "")")
        }
        if let e = t["error"] as? String { parts.append("error: \(e)") }
        return parts.joined(separator: "  ")
    }

    static func text(_ value: Any?) -> String {
        guard let value, !(value is NSNull) else { return "-" }
        return "\(value)"
    }
}
