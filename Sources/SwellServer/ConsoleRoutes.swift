import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// One file of the web console, ready to send.
struct ConsoleAsset: Sendable {
    let contentType: String
    let body: ByteBuffer
    /// A strong validator: the first 16 bytes of the body's SHA-256, quoted.
    let etag: String

    init(name: String, text: String) {
        contentType = Self.contentType(of: name)
        body = ByteBuffer(string: text)
        etag = "\"" + SHA256.hash(data: Data(text.utf8)).prefix(16).map { String(format: "%02x", $0) }.joined() + "\""
    }

    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        case "json": "application/json"
        default: "application/octet-stream"
        }
    }
}

/// The web console's files, from the literals in `ConsoleAssets.swift` (generated from
/// `console/` by `scripts/embed-console.py`), so the binary carries them.
enum ConsoleAssetCatalog {
    static let assets: [String: ConsoleAsset] = {
        var assets: [String: ConsoleAsset] = [:]
        for (name, text) in ConsoleAssets.files { assets[name] = ConsoleAsset(name: name, text: text) }
        return assets
    }()

    /// The asset for a path below `/console/` (`""` is the page itself). Only names that
    /// exist are served: nothing is read from disk, so no path can reach anything else.
    static func asset(path: String) -> ConsoleAsset? {
        assets[path.isEmpty ? "index.html" : path]
    }

    /// What every console response carries: scripts, styles and connections from this
    /// origin only, no inline code, no string-to-HTML sinks (Trusted Types with no policy),
    /// never framed.
    static let securityHeaders: [(HTTPField.Name, String)] = [
        (.contentSecurityPolicy, contentSecurityPolicy),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
        (HTTPField.Name("X-Frame-Options")!, "DENY"),
        (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
        (.cacheControl, "no-cache"),
    ]

    static let contentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
        + "require-trusted-types-for 'script'; trusted-types 'none'"
}

/// `GET /console` and `/console/*`: the web console, public (it holds no data; every call it
/// makes goes to the authenticated `/v1` API with the key the user signs in with).
struct ConsoleRoutes {
    func register(on router: Router<SwellRequestContext>) {
        for method in [HTTPRequest.Method.get, .head] {
            router.on("console", method: method) { request, _ in
                // Module URLs are relative to the page, so the page lives at /console/.
                guard request.uri.path.hasSuffix("/") else {
                    var headers = Self.headers()
                    headers[.location] = "/console/"
                    return Response(status: .movedPermanently, headers: headers)
                }
                return Self.serve("", request: request)
            }
            router.on("console/**", method: method) { request, ctx in
                Self.serve(ctx.parameters.getCatchAll().joined(separator: "/"), request: request)
            }
        }
    }

    static func headers() -> HTTPFields {
        var headers = HTTPFields()
        for (name, value) in ConsoleAssetCatalog.securityHeaders { headers[name] = value }
        return headers
    }

    static func serve(_ path: String, request: Request) -> Response {
        var headers = headers()
        guard let asset = ConsoleAssetCatalog.asset(path: path) else {
            headers[.contentType] = "text/plain; charset=utf-8"
            return Response(status: .notFound, headers: headers, body: .init(byteBuffer: ByteBuffer(string: "not found\n")))
        }
        headers[.eTag] = asset.etag
        headers[.contentType] = asset.contentType
        if request.headers[.ifNoneMatch] == asset.etag {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentLength] = String(asset.body.readableBytes)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: request.method == .head ? ByteBuffer() : asset.body))
    }
}
