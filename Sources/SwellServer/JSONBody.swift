import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SwellModel

/// JSON in and out of routes, with errors that name the problem.
enum JSONBody {
    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(Timestamps.iso8601(date))
        }
        return e
    }()

    /// Reads a JSON body (at most `limit` bytes) as a `ConfigValue`.
    static func read(_ request: Request, limit: Int = 1 << 20) async throws -> ConfigValue {
        var request = request
        let buffer = try await collect(&request, limit: limit)
        if buffer.readableBytes == 0 { return .object([:]) }
        do {
            return try JSONDecoder().decode(ConfigValue.self, from: Data(buffer.readableBytesView))
        } catch {
            throw SwellError(.invalidJSON, "the request body is not valid JSON")
        }
    }

    /// Collects a body, answering 413 beyond `limit`.
    static func collect(_ request: inout Request, limit: Int) async throws -> ByteBuffer {
        do {
            return try await request.collectBody(upTo: limit)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw SwellError(.payloadTooLarge, "the request body is larger than \(limit) bytes")
        } catch is NIOTooManyBytesError {
            throw SwellError(.payloadTooLarge, "the request body is larger than \(limit) bytes")
        } catch {
            // A body that cannot be read (truncated, bad chunking) is the client's fault.
            throw SwellError(.invalidRequest, "the request body could not be read: \(error)")
        }
    }

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try encoder.encode(value)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}

/// ISO 8601 with milliseconds, UTC.
enum Timestamps {
    static func iso8601(_ date: Date) -> String {
        Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(date)
    }
}
