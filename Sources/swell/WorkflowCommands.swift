import ArgumentParser
import Foundation
import SwellDeploy
import SwellModel

/// `swell workflows list|get|delete`.
struct Workflows: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show and delete workflows (deploy them with a swell.yaml workflows: map).", subcommands: [List.self, Get.self, Delete.self, Publish.self, Alias.self])

    struct List: AsyncParsableCommand {
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let list = try await client.json("GET", "/v1/namespaces/\(ns)/workflows")["workflows"] as? [[String: Any]] ?? []
                if json { return printJSON(list) }
                printTable([("NAME", 28), ("REVISION", 10), ("UPDATED", 0)], list.map { ["\($0["name"] ?? "")", "\($0["revision"] ?? "")", "\($0["updatedAt"] ?? "")"] })
            }
        }
    }

    struct Get: AsyncParsableCommand {
        @Argument var name: String
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                printJSON(try await client.json("GET", "/v1/namespaces/\(ns)/workflows/\(name.pathEscaped)")["workflow"] ?? [:])
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        @Argument var name: String
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                try await client.send("DELETE", "/v1/namespaces/\(ns)/workflows/\(name.pathEscaped)")
                print("deleted \(name)")
            }
        }
    }
}

extension Workflows {
    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Publish the workflow's current definition as a version (prints its number).")
        @Argument var name: String
        @Option(help: "A description of the version.") var description: String?
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let r = try await client.json("POST", "/v1/namespaces/\(ns)/workflows/\(name.pathEscaped)/versions", ["description": description ?? ""])
                print((r["version"] as? [String: Any])?["version"] ?? "?")
            }
        }
    }

    struct Alias: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Point an alias of a workflow at a published version, optionally with a weighted second one (start WORKFLOW:ALIAS).")
        @Argument var name: String
        @Argument var alias: String
        @Argument var version: Int
        @Option(help: "Start a share of executions on another version: V=WEIGHT, e.g. 3=0.1 (chosen once per execution).") var weight: String?
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            var body: [String: Any] = ["version": String(version)]
            if let weight {
                let parts = weight.split(separator: "=")
                guard parts.count == 2, let share = Double(parts[1]) else { throw ValidationError("--weight must look like VERSION=WEIGHT, e.g. 3=0.1") }
                body["additionalVersionWeights"] = [String(parts[0]): share]
            }
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let result = try await client.json("PUT", "/v1/namespaces/\(ns)/workflows/\(name.pathEscaped)/aliases/\(alias.pathEscaped)", body)
                let a = result["alias"] as? [String: Any] ?? [:]
                let weights = (a["additionalVersionWeights"] as? [String: Any] ?? [:]).map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                print("\(name):\(alias) -> \(version)" + (weights.isEmpty ? "" : " (+\(weights))"))
            }
        }
    }
}

/// `swell start WORKFLOW[:QUALIFIER] --input JSON [--name N] [--wait]`.
struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start a workflow execution (prints it; with --wait, its output).")

    @Argument(help: "The workflow, WORKFLOW or WORKFLOW:QUALIFIER (a version number or an alias).") var workflow: String
    @Option(help: "The input, as JSON.") var input = "{}"
    @Option(help: "The execution's name (unique per workflow; the same name and input return the first execution).") var name: String?
    @Flag(help: "Wait for the end (up to 300 s) and print the output; exit 1 when the execution did not succeed.") var wait = false
    @OptionGroup var scope: NamespaceOption

    func run() async throws {
        guard (try? JSONSerialization.jsonObject(with: Data(input.utf8), options: [.fragmentsAllowed])) != nil else {
            throw ValidationError("--input is not valid JSON")
        }
        try await runClient {
            let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
            var body = "{\"input\":\(input)"
            if let name { body += ",\"name\":" + String(decoding: try JSONSerialization.data(withJSONObject: name, options: [.fragmentsAllowed]), as: UTF8.self) }
            body += "}"
            let parts = workflow.split(separator: ":", maxSplits: 1).map(String.init)
            var query: [String] = []
            if wait { query.append("wait=true") }
            if parts.count == 2 { query.append("qualifier=\(parts[1].pathEscaped)") }
            let path = "/v1/namespaces/\(ns)/workflows/\(parts[0].pathEscaped)/executions" + (query.isEmpty ? "" : "?" + query.joined(separator: "&"))
            let reply = try await client.send("POST", path, body: Data(body.utf8))
            let execution = reply.json()["execution"] as? [String: Any] ?? [:]
            guard wait else { return printJSON(execution) }
            let status = execution["status"] as? String ?? "?"
            if status == "SUCCEEDED" {
                let output = execution["output"] ?? NSNull()
                let data = try JSONSerialization.data(withJSONObject: output, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            printError("execution \(execution["name"] ?? "") is \(status)" + ((execution["error"] as? String).map { ": \($0) \(execution["cause"] as? String ?? "")" } ?? ""))
            throw ExitCode(1)
        }
    }
}

/// `swell executions list|get|history|stop|redrive`.
struct Executions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List and inspect workflow executions, show their history, stop and redrive them.",
        subcommands: [List.self, Get.self, History.self, Stop.self, Redrive.self])

    struct List: AsyncParsableCommand {
        @Argument(help: "The workflow.") var workflow: String
        @Option(help: "RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.") var status: String?
        @Option(help: "How many (newest first).") var limit = 50
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                var query = ["limit=\(limit)"]
                if let status { query.append("status=\(status.pathEscaped)") }
                let list = try await client.json("GET", "/v1/namespaces/\(ns)/workflows/\(workflow.pathEscaped)/executions?" + query.joined(separator: "&"))["executions"] as? [[String: Any]] ?? []
                if json { return printJSON(list) }
                printTable([("NAME", 38), ("STATUS", 11), ("STARTED", 26), ("STOPPED", 0)], list.map {
                    ["\($0["name"] ?? "")", "\($0["status"] ?? "")", "\($0["startDate"] ?? "")", "\($0["stopDate"] as? String ?? "-")"]
                })
            }
        }
    }

    struct Get: AsyncParsableCommand {
        @Argument var workflow: String
        @Argument var name: String
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                printJSON(try await client.json("GET", "/v1/namespaces/\(ns)/workflows/\(workflow.pathEscaped)/executions/\(name.pathEscaped)")["execution"] ?? [:])
            }
        }
    }

    struct History: AsyncParsableCommand {
        @Argument var workflow: String
        @Argument var name: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                var events: [[String: Any]] = []
                var cursor = "0"
                while true {
                    let page = try await client.json("GET", "/v1/namespaces/\(ns)/workflows/\(workflow.pathEscaped)/executions/\(name.pathEscaped)/history?limit=1000&cursor=\(cursor)")
                    events += page["events"] as? [[String: Any]] ?? []
                    guard let next = page["nextCursor"] as? String else { break }
                    cursor = next
                }
                if json { return printJSON(events) }
                printTable([("ID", 6), ("PREV", 6), ("TIMESTAMP", 26), ("TYPE", 26), ("DETAIL", 0)], events.map { e in
                    var detail = [String]()
                    if let n = e["name"] { detail.append("\(n)") }
                    if let i = e["index"] { detail.append("#\(i)") }
                    if let err = e["error"] { detail.append("error=\(err)") }
                    return ["\(e["id"] ?? "")", "\(e["previousEventId"] ?? "")", "\(e["timestamp"] ?? "")", "\(e["type"] ?? "")", detail.joined(separator: " ")]
                })
            }
        }
    }

    struct Stop: AsyncParsableCommand {
        @Argument var workflow: String
        @Argument var name: String
        @Option(help: "The error to record.") var error: String?
        @Option(help: "The cause to record.") var cause: String?
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                var body: [String: Any] = [:]
                if let error { body["error"] = error }
                if let cause { body["cause"] = cause }
                let r = try await client.json("POST", "/v1/namespaces/\(ns)/workflows/\(workflow.pathEscaped)/executions/\(name.pathEscaped)/stop", body)
                print((r["execution"] as? [String: Any])?["status"] ?? "?")
            }
        }
    }

    struct Redrive: AsyncParsableCommand {
        @Argument var workflow: String
        @Argument var name: String
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let r = try await client.json("POST", "/v1/namespaces/\(ns)/workflows/\(workflow.pathEscaped)/executions/\(name.pathEscaped)/redrive")
                print((r["execution"] as? [String: Any])?["status"] ?? "?")
            }
        }
    }
}

/// `swell tasks send-success|send-failure TOKEN`: the callbacks of `.waitForTaskToken` workflow tasks.
extension Tasks {
    struct SendSuccess: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Complete a workflow task that waits for its task token.")
        @Argument var token: String
        @Option(help: "The task's output, as JSON.") var output = "{}"
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            guard (try? JSONSerialization.jsonObject(with: Data(output.utf8), options: [.fragmentsAllowed])) != nil else {
                throw ValidationError("--output is not valid JSON")
            }
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                let tokenJSON = String(decoding: try JSONSerialization.data(withJSONObject: token, options: [.fragmentsAllowed]), as: UTF8.self)
                try await client.send("POST", "/v1/namespaces/\(ns)/workflow-tasks/success", body: Data("{\"taskToken\":\(tokenJSON),\"output\":\(output)}".utf8))
                print("sent")
            }
        }
    }

    struct SendFailure: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Fail a workflow task that waits for its task token.")
        @Argument var token: String
        @Option(help: "The error name (what Retry and Catch match).") var error = ""
        @Option(help: "The cause.") var cause = ""
        @OptionGroup var scope: NamespaceOption

        func run() async throws {
            try await runClient {
                let (client, ns) = try await APIClient.connect(namespace: scope.namespace)
                _ = try await client.json("POST", "/v1/namespaces/\(ns)/workflow-tasks/failure", ["taskToken": token, "error": error, "cause": cause])
                print("sent")
            }
        }
    }
}

/// Puts every workflow of the manifest (after its functions), printing what changed.
func deployWorkflows(_ manifest: Manifest, client: APIClient, namespace ns: String) async throws {
    for w in manifest.workflows {
        let triggers = String(decoding: try JSONEncoder().encode(w.triggers), as: UTF8.self)
        let body = Data("{\"definition\":\(w.definition),\"triggers\":\(triggers)}".utf8)
        let reply = try await client.send("PUT", "/v1/namespaces/\(ns)/workflows/\(w.name.pathEscaped)", body: body)
        let workflow = reply.json()["workflow"] as? [String: Any] ?? [:]
        let changed = workflow["changed"] as? Bool ?? true
        print("workflow \(w.name): \(reply.status == 201 ? "created" : changed ? "updated" : "unchanged")")
    }
}
