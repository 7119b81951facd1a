import ArgumentParser
import Foundation

/// `swell nodes`: the nodes sharing the server's store, alive or dead.
struct Nodes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the nodes sharing the server's store (scale-out): address, start, version, load; dead after 5 s without a heartbeat.")

    @Flag(help: "Print JSON.") var json = false

    func run() async throws {
        try await runClient {
            let (client, _) = try await APIClient.connect(namespace: nil)
            let result = try await client.json("GET", "/v1/nodes")
            let nodes = result["nodes"] as? [[String: Any]] ?? []
            if json { return printJSON(result) }
            let me = result["self"] as? String
            print("NODE                              ADDRESS                STATE  STARTED               VERSION     INSTANCES  MEMORY MB      TASKS")
            for n in nodes {
                let id = n["id"] as? String ?? "?"
                let state = (n["alive"] as? Bool ?? false) ? "alive" : "dead"
                let memory = "\(n["memoryReservedMB"] as? Int ?? 0)/\(n["memoryBudgetMB"] as? Int ?? 0)"
                let tasks = "\(n["tasksRunning"] as? Int ?? 0) running, \(n["tasksWaiting"] as? Int ?? 0) waiting"
                print([
                    (id + (id == me ? " *" : "")).padding(toLength: 33, withPad: " ", startingAt: 0),
                    (n["address"] as? String ?? "").padding(toLength: 22, withPad: " ", startingAt: 0),
                    state.padding(toLength: 6, withPad: " ", startingAt: 0),
                    (n["startedAt"] as? String ?? "").padding(toLength: 21, withPad: " ", startingAt: 0),
                    (n["version"] as? String ?? "").padding(toLength: 11, withPad: " ", startingAt: 0),
                    String(n["instances"] as? Int ?? 0).padding(toLength: 10, withPad: " ", startingAt: 0),
                    memory.padding(toLength: 14, withPad: " ", startingAt: 0),
                    tasks,
                ].joined(separator: " "))
            }
        }
    }
}
