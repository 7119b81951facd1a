import Foundation

/// Where a PostgreSQL store lives, parsed from `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`
/// (also `postgresql://`), with libpq's TLS parameters: `sslmode=disable|prefer|require|verify-ca|verify-full`
/// (default `disable`) and `sslrootcert=PATH` (the PEM file of the CAs to trust; the system's
/// when absent).
///
/// Its `description` masks the password, so it can go into logs and error messages.
///
/// ```swift
/// let location = try PostgresLocation(parsing: "postgres://swell:secret@db.local:5432/swell")
/// print(location)   // postgres://swell:***@db.local:5432/swell
/// ```
public struct PostgresLocation: Sendable, Hashable, CustomStringConvertible {
    /// As libpq: `require` encrypts without checking the certificate (unless `sslrootcert` is
    /// given: then it checks the chain, as `verify-ca` does); `verify-ca` checks the chain;
    /// `verify-full` also checks that the certificate names the host.
    public enum TLSMode: String, Sendable, Hashable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var tls: TLSMode
    /// The PEM file of the certificate authorities to trust (`sslrootcert`); nil: the system's.
    public var rootCertificate: String?

    /// Why a store URL was refused (the URL itself is not repeated: it may hold a password).
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    public init(
        user: String, password: String? = nil, host: String, port: Int = 5432, database: String, tls: TLSMode = .disable,
        rootCertificate: String? = nil
    ) {
        self.rootCertificate = rootCertificate
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
        self.tls = tls
    }

    /// Whether `text` names a PostgreSQL store (rather than the embedded SQLite one).
    public static func isPostgresURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    public init(parsing text: String) throws(ParseError) {
        guard Self.isPostgresURL(text), let components = URLComponents(string: text) else {
            throw ParseError(description: "a PostgreSQL store is postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        guard let user = components.percentEncodedUser.flatMap({ $0.removingPercentEncoding }), !user.isEmpty else {
            throw ParseError(description: "the store URL names no user (postgres://USER@HOST:PORT/DATABASE)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw ParseError(description: "the store URL names no host (postgres://USER@HOST:PORT/DATABASE)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw ParseError(description: "the store URL names no database (postgres://USER@HOST:PORT/DATABASE)")
        }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw ParseError(description: "the store URL's port must be between 1 and 65535") }
        var tls = TLSMode.disable
        var rootCertificate: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw ParseError(description: "sslmode must be disable, prefer, require, verify-ca or verify-full")
                }
                tls = mode
            case "sslrootcert":
                guard let path = item.value, !path.isEmpty else { throw ParseError(description: "sslrootcert must name a PEM file") }
                rootCertificate = path
            default:
                throw ParseError(description: "the store URL has an unknown parameter \(item.name) (only sslmode and sslrootcert)")
            }
        }
        if rootCertificate != nil, tls == .disable || tls == .prefer {
            throw ParseError(description: "sslrootcert needs sslmode=require, verify-ca or verify-full")
        }
        self.init(
            user: user, password: components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }, host: host, port: port,
            database: database.removingPercentEncoding ?? database, tls: tls, rootCertificate: rootCertificate)
    }

    /// The URL with the password replaced by `***`.
    public var description: String {
        let credentials = password == nil ? user : "\(user):***"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        var text = "postgres://\(credentials)@\(hostPart):\(port)/\(database)"
        if tls != .disable { text += "?sslmode=\(tls.rawValue)" }
        if let rootCertificate { text += "&sslrootcert=\(rootCertificate)" }
        return text
    }
}
