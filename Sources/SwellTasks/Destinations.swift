import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import SwellModel
import Synchronization

/// Publishes a destination record to a Kafka topic. Implemented by the Kafka client's
/// producer; when none is installed, Kafka destinations fail with a clear log line.
public protocol KafkaRecordPublisher: Sendable {
    func publish(brokers: [String], topic: String, key: Data?, value: Data) async throws
}

/// The record sent to a destination when a task ends: Lambda's destination record shape,
/// plus the attempts.
struct DestinationRecord: Encodable {
    struct RequestContext: Encodable {
        var requestId: String
        var taskId: String
        var functionArn: String
        var condition: String
        var approximateInvokeCount: Int
    }

    struct ResponseContext: Encodable {
        var statusCode: Int
        var executedVersion: String
        var functionError: String?
    }

    struct Attempt: Encodable {
        var number: Int
        var requestId: String
        var startedAt: String
        var durationMs: Double?
        var outcome: String?
    }

    var version = "1.0"
    var timestamp: String
    var requestContext: RequestContext
    var requestPayload: JSONFragment
    var responseContext: ResponseContext
    var responsePayload: JSONFragment
    var attempts: [Attempt]
}

/// Raw JSON bytes embedded as they are (falling back to a string when they are not JSON).
struct JSONFragment: Encodable {
    var data: Data?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        guard let data, !data.isEmpty else { return try c.encodeNil() }
        if let value = try? JSONDecoder().decode(ConfigValue.self, from: data) {
            try c.encode(value)
        } else {
            try c.encode(String(decoding: data, as: UTF8.self))
        }
    }
}

/// Starts a workflow execution with a destination record as its input (set by the server once
/// its workflow engine exists).
public typealias WorkflowStarter = @Sendable (_ namespace: String, _ workflow: String, _ input: Data) async throws -> Void

final class WorkflowStarterSlot: Sendable {
    private let slot = Mutex<WorkflowStarter?>(nil)
    func set(_ starter: @escaping WorkflowStarter) { slot.withLock { $0 = starter } }
    var starter: WorkflowStarter? { slot.withLock { $0 } }
}

/// Sends destination records: to another function (as an async task), a webhook, Kafka or a workflow.
struct DestinationSender: Sendable {
    let logger: Logger
    let kafka: (any KafkaRecordPublisher)?
    let enqueue: @Sendable (_ namespace: String, _ function: String, _ qualifier: String, _ payload: Data) async throws -> Void
    let workflows = WorkflowStarterSlot()

    func send(_ destination: Destination, record: Data, namespace: String, taskID: String, success: Bool, source: String) async {
        do {
            switch destination {
            case .function(let name, let qualifier):
                try await enqueue(namespace, name, qualifier ?? "$LATEST", record)
            case .webhook(let url, let cloudEvents):
                try await postWebhook(url: url, body: record, cloudEvents: cloudEvents, taskID: taskID, success: success, source: source)
            case .kafka(let brokers, let topic):
                guard let kafka else { throw DestinationError.kafkaUnavailable }
                try await kafka.publish(brokers: brokers, topic: topic, key: Data(taskID.utf8), value: record)
            case .workflow(let name):
                guard let start = workflows.starter else { throw DestinationError.workflowsUnavailable }
                try await start(namespace, name, record)
            }
        } catch {
            logger.error("task destination failed", metadata: ["task": "\(taskID)", "destination": "\(destination)", "error": "\(error)"])
        }
    }

    /// POSTs the record; retries 3 times (0.2 s, 1 s, 5 s) on connection errors and 5xx.
    func postWebhook(url: String, body: Data, cloudEvents: Bool, taskID: String, success: Bool, source: String) async throws {
        guard let target = URL(string: url) else { throw DestinationError.badURL(url) }
        var request = URLRequest(url: target)
        request.httpMethod = "POST"
        request.httpBody = body
        request.timeoutInterval = 10
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if cloudEvents {
            // CloudEvents 1.0, HTTP binary mode: attributes in ce-* headers, the record as the body.
            request.setValue("1.0", forHTTPHeaderField: "ce-specversion")
            request.setValue(success ? "dev.swell.task.succeeded" : "dev.swell.task.failed", forHTTPHeaderField: "ce-type")
            request.setValue(source, forHTTPHeaderField: "ce-source")
            request.setValue(taskID, forHTTPHeaderField: "ce-id")
            request.setValue(ISO8601DateFormatter().string(from: Date()), forHTTPHeaderField: "ce-time")
            request.setValue(taskID, forHTTPHeaderField: "ce-subject")
        }
        var lastError: any Error = DestinationError.webhookStatus(0)
        for (i, delay) in [0.0, 0.2, 1.0, 5.0].enumerated() {
            if i > 0 { try await Task.sleep(for: .seconds(delay)) }
            do {
                let (_, response) = try await URLSession.shared.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if (200..<300).contains(status) { return }
                lastError = DestinationError.webhookStatus(status)
                if status < 500 { break }
            } catch {
                lastError = error
            }
        }
        throw lastError
    }
}

enum DestinationError: Error, CustomStringConvertible {
    case kafkaUnavailable
    case workflowsUnavailable
    case badURL(String)
    case webhookStatus(Int)

    var description: String {
        switch self {
        case .kafkaUnavailable: "no Kafka producer is configured on this server"
        case .workflowsUnavailable: "no workflow engine runs on this server"
        case .badURL(let u): "not a URL: \(u)"
        case .webhookStatus(let s): "the webhook answered HTTP \(s)"
        }
    }
}
