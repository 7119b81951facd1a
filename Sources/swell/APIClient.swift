import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

import SwellDeploy
import SwellModel

/// A small client of Swell's REST API for the CLI: the URL and key come from
/// ``ClientSettings`` (`SWELL_URL`, `SWELL_KEY`, key files, `swell login`).
struct APIClient {
    let settings: ClientSettings
    let session: URLSession

    var baseURL: String { settings.url }
    var key: String? { settings.key }

    struct Failure: Error, CustomStringConvertible {
        var status: Int
        var message: String
        var description: String { message }
    }

    /// The settings from the environment, the current directory and the saved login.
    static func fromEnvironment() throws -> APIClient {
        let settings = try ClientSettings.resolve(
            environment: ProcessInfo.processInfo.environment, currentDirectory: FileManager.default.currentDirectoryPath,
            read: { path in try? String(contentsOfFile: path, encoding: .utf8) })
        let config = URLSessionConfiguration.default
        config.timeoutIntervalForRequest = 960
        config.timeoutIntervalForResource = 3600
        return APIClient(settings: settings, session: URLSession(configuration: config))
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

    /// Sends a request; non-2xx answers become `Failure` with the server's message, or a
    /// message of our own naming the fix when the answer has none.
    @discardableResult
    func send(_ method: String, _ path: String, body: Data? = nil, contentType: String = "application/json", headers: [String: String] = [:], allow: Set<Int> = []) async throws -> Reply {
        guard let url = URL(string: baseURL + path) else {
            throw Failure(status: 0, message: "cannot build a URL from \(baseURL) (\(settings.urlOrigin)) and \(path): check SWELL_URL")
        }
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
            throw Failure(status: 0, message: "cannot reach Swell at \(baseURL) (from \(settings.urlOrigin)): \(Self.explain(error)) (is `swell serve` running there? set SWELL_URL to its address)")
        }
        guard let http = response as? HTTPURLResponse else {
            throw Failure(status: 0, message: "\(baseURL) did not answer over HTTP (check SWELL_URL)")
        }
        var headerMap: [String: String] = [:]
        for (k, v) in http.allHeaderFields { headerMap["\(k)"] = "\(v)" }
        let reply = Reply(status: http.statusCode, headers: headerMap, body: data)
        if !(200..<300).contains(http.statusCode) && !allow.contains(http.statusCode) {
            let error = (reply.json()["error"] as? [String: Any])
            var message = ((error?["message"] as? String) ?? String(decoding: data, as: UTF8.self)).trimmingCharacters(in: .whitespacesAndNewlines)
            if http.statusCode == 401 {
                let hint = settings.unauthorizedHint()
                message = message.isEmpty ? hint : "\(message): \(hint)"
                throw Failure(status: 401, message: "\(message) (HTTP 401)")
            }
            if message.isEmpty { message = Self.emptyAnswer(status: http.statusCode, method: method, path: path, baseURL: baseURL) }
            throw Failure(status: http.statusCode, message: "\(message) (HTTP \(http.statusCode))")
        }
        return reply
    }

    /// A message for an error answer without a body (a HEAD request, a proxy in between).
    static func emptyAnswer(status: Int, method: String, path: String, baseURL: String) -> String {
        switch status {
        case 403: "this key may not \(method) \(path) (its role or namespace does not allow it; use an admin or developer key of the namespace)"
        case 404: "\(baseURL) has no \(path) (is SWELL_URL the address of a swell serve, without a path?)"
        case 502, 503, 504: "\(baseURL) answered \(status) with no body: a proxy in front of Swell could not reach it (is `swell serve` running?)"
        default: "\(method) \(baseURL)\(path) failed with an empty answer"
        }
    }

    /// A transport error in words, whatever Foundation's description says.
    static func explain(_ error: any Error) -> String {
        guard let e = error as? URLError else { return "\(error.localizedDescription)" }
        let host = e.failingURL?.host ?? "the host"
        switch e.code {
        case .cannotFindHost, .dnsLookupFailed: return "cannot resolve host \(host)"
        case .cannotConnectToHost: return "connection refused"
        case .timedOut: return "no answer in time"
        case .networkConnectionLost: return "the connection was closed before an answer"
        case .notConnectedToInternet: return "no network"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate, .serverCertificateNotYetValid,
            .serverCertificateHasUnknownRoot:
            return "TLS failed (\(e.localizedDescription))"
        case .badServerResponse: return "the answer was not HTTP (is it the right port?)"
        default: return "\(e.localizedDescription) (URLError \(e.code.rawValue))"
        }
    }

    func json(_ method: String, _ path: String, _ object: Any? = nil) async throws -> [String: Any] {
        let body = try object.map { try JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]) }
        return try await send(method, path, body: body).json()
    }

    /// A client from the environment and the namespace to act in.
    static func connect(namespace: String?) async throws -> (APIClient, String) {
        let client = try fromEnvironment()
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
