import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A small client of Swell's REST API for the CLI: reads `SWELL_URL` and `SWELL_KEY`.
struct APIClient {
    let baseURL: String
    let key: String?
    let session: URLSession

    struct Failure: Error, CustomStringConvertible {
        var status: Int
        var message: String
        var description: String { message }
    }

    /// `SWELL_URL` (default `http://127.0.0.1:8080`) and `SWELL_KEY` (default `./.swell/admin.key`).
    static func fromEnvironment() -> APIClient {
        let env = ProcessInfo.processInfo.environment
        let url = (env["SWELL_URL"] ?? "http://127.0.0.1:8080").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        var key = env["SWELL_KEY"]
        if key == nil || key!.isEmpty {
            let dataDir = env["SWELL_DATA_DIR"] ?? ".swell"
            key = (try? String(contentsOfFile: "\(dataDir)/admin.key", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let config = URLSessionConfiguration.default
        config.timeoutIntervalForRequest = 960
        config.timeoutIntervalForResource = 3600
        return APIClient(baseURL: url, key: key, session: URLSession(configuration: config))
    }

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data

        func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }

        func json() -> [String: Any] {
            (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        }
    }

    /// Sends a request; non-2xx answers become `Failure` with the server's message.
    @discardableResult
    func send(_ method: String, _ path: String, body: Data? = nil, contentType: String = "application/json", headers: [String: String] = [:], allow: Set<Int> = []) async throws -> Reply {
        guard let url = URL(string: baseURL + path) else { throw Failure(status: 0, message: "invalid URL \(baseURL + path)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        if let key { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = body
            request.setValue(contentType, forHTTPHeaderField: "Content-Type")
        }
        for (k, v) in headers { request.setValue(v, forHTTPHeaderField: k) }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw Failure(status: 0, message: "cannot reach Swell at \(baseURL): \(error.localizedDescription) (is `swell serve` running? set SWELL_URL)")
        }
        let http = response as! HTTPURLResponse
        var headerMap: [String: String] = [:]
        for (k, v) in http.allHeaderFields { headerMap["\(k)"] = "\(v)" }
        let reply = Reply(status: http.statusCode, headers: headerMap, body: data)
        if !(200..<300).contains(http.statusCode) && !allow.contains(http.statusCode) {
            let error = (reply.json()["error"] as? [String: Any])
            let message = (error?["message"] as? String) ?? String(decoding: data, as: UTF8.self)
            if http.statusCode == 401 && key == nil {
                throw Failure(status: 401, message: "\(message) — no key found: set SWELL_KEY or run from the directory holding .swell/admin.key")
            }
            throw Failure(status: http.statusCode, message: "\(message) (HTTP \(http.statusCode))")
        }
        return reply
    }

    func json(_ method: String, _ path: String, _ object: Any? = nil) async throws -> [String: Any] {
        let body = try object.map { try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        return try await send(method, path, body: body).json()
    }

    /// A client from the environment and the namespace to act in.
    static func connect(namespace: String?) async throws -> (APIClient, String) {
        let client = fromEnvironment()
        return (client, try await client.namespace(namespace))
    }

    /// The namespace of the key (or `SWELL_NAMESPACE`).
    func namespace(_ override: String? = nil) async throws -> String {
        if let override { return override }
        if let ns = ProcessInfo.processInfo.environment["SWELL_NAMESPACE"], !ns.isEmpty { return ns }
        return (try await json("GET", "/v1/whoami")["namespace"] as? String) ?? "default"
    }
}

/// Path segment escaping for names the user typed.
extension String {
    var pathEscaped: String {
        addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? self
    }
}
