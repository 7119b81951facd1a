import Foundation
import SwellModel

/// Where the CLI sends its requests and which key it sends, and where it looked for them
/// (so that every error can say so).
///
/// - URL: `SWELL_URL`, else the URL `swell login` saved, else `http://127.0.0.1:8080`.
/// - Key: `SWELL_KEY`; else the nearest `.swell/admin.key` from the current directory
///   upward (`$SWELL_DATA_DIR/admin.key` when `SWELL_DATA_DIR` is set), unless the URL
///   itself came from the login; else the key `swell login` saved, when it was saved for
///   this URL. A login is kept in `$XDG_CONFIG_HOME/swell/login.json` (default
///   `~/.config/swell/login.json`, mode 0600).
public struct ClientSettings: Sendable, Equatable {
    /// Where a setting came from.
    public enum Origin: Sendable, Equatable, CustomStringConvertible {
        case environment(String)
        case file(String)
        case login(String)
        case builtIn

        public var description: String {
            switch self {
            case .environment(let name): name
            case .file(let path): path
            case .login(let path): "the login saved in \(path)"
            case .builtIn: "the default"
            }
        }
    }

    /// What `swell login` saves.
    public struct Login: Codable, Sendable, Equatable {
        public var url: String
        public var key: String

        public init(url: String, key: String) {
            self.url = url
            self.key = key
        }
    }

    public static let defaultURL = "http://127.0.0.1:8080"

    /// The server's root URL, without a trailing slash (the CLI appends `/v1/…`).
    public var url: String
    public var urlOrigin: Origin
    public var key: String?
    public var keyOrigin: Origin?
    /// Every place looked at for a key, in order (`SWELL_KEY`, key files, the login).
    public var searched: [String]

    public init(url: String, urlOrigin: Origin, key: String?, keyOrigin: Origin?, searched: [String]) {
        self.url = url
        self.urlOrigin = urlOrigin
        self.key = key
        self.keyOrigin = keyOrigin
        self.searched = searched
    }

    /// Resolves the settings from the environment and files, read through `read`.
    /// - Throws: when `SWELL_URL` (or the saved login's URL) is not a usable URL.
    public static func resolve(
        environment: [String: String], currentDirectory: String, read: (String) -> String?
    ) throws(SwellError) -> ClientSettings {
        let loginFile = loginPath(environment: environment)
        let login = read(loginFile).flatMap { try? JSONDecoder().decode(Login.self, from: Data($0.utf8)) }

        let url: String
        let urlOrigin: Origin
        if let given = environment["SWELL_URL"], !given.trimmingCharacters(in: .whitespaces).isEmpty {
            url = try normalizedURL(given, origin: "SWELL_URL")
            urlOrigin = .environment("SWELL_URL")
        } else if let login {
            url = try normalizedURL(login.url, origin: "the URL in \(loginFile)")
            urlOrigin = .login(loginFile)
        } else {
            url = defaultURL
            urlOrigin = .builtIn
        }

        var settings = ClientSettings(url: url, urlOrigin: urlOrigin, key: nil, keyOrigin: nil, searched: ["SWELL_KEY"])
        func found(_ text: String?) -> String? {
            guard let key = text?.trimmingCharacters(in: .whitespacesAndNewlines), !key.isEmpty else { return nil }
            return key
        }
        if let key = found(environment["SWELL_KEY"]) {
            settings.key = key
            settings.keyOrigin = .environment("SWELL_KEY")
            return settings
        }
        if case .login = urlOrigin {} else {
            for path in keyFileCandidates(environment: environment, currentDirectory: currentDirectory) {
                settings.searched.append(path)
                if let key = found(read(path)) {
                    settings.key = key
                    settings.keyOrigin = .file(path)
                    return settings
                }
            }
        }
        settings.searched.append(loginFile)
        if let login, (try? normalizedURL(login.url, origin: "")) == url, let key = found(login.key) {
            settings.key = key
            settings.keyOrigin = .login(loginFile)
        }
        return settings
    }

    /// `$SWELL_DATA_DIR/admin.key`, or `.swell/admin.key` in the directory and each parent.
    public static func keyFileCandidates(environment: [String: String], currentDirectory: String) -> [String] {
        if let dataDir = environment["SWELL_DATA_DIR"], !dataDir.isEmpty {
            let absolute = dataDir.hasPrefix("/") ? dataDir : (currentDirectory as NSString).appendingPathComponent(dataDir)
            return [((absolute as NSString).appendingPathComponent("admin.key") as NSString).standardizingPath]
        }
        var paths: [String] = []
        var dir = (currentDirectory as NSString).standardizingPath
        while true {
            paths.append(dir == "/" ? "/.swell/admin.key" : "\(dir)/.swell/admin.key")
            let parent = (dir as NSString).deletingLastPathComponent
            if parent == dir || parent.isEmpty { break }
            dir = parent
        }
        return paths
    }

    /// `$XDG_CONFIG_HOME/swell/login.json`, default `$HOME/.config/swell/login.json`.
    public static func loginPath(environment: [String: String]) -> String {
        if let xdg = environment["XDG_CONFIG_HOME"], xdg.hasPrefix("/") { return "\(xdg)/swell/login.json" }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return "\(home)/.config/swell/login.json"
    }

    /// The root URL of a server as the user gave it, checked: a scheme (http or https), a
    /// host, no `/v1` (the CLI adds it), no query; trailing slashes dropped.
    /// - Parameter origin: what to call the value in errors (`SWELL_URL`).
    public static func normalizedURL(_ text: String, origin: String) throws(SwellError) -> String {
        let given = text.trimmingCharacters(in: .whitespaces)
        func fail(_ why: String) -> SwellError { SwellError(.invalidRequest, "\(origin) \"\(given)\" \(why)") }
        guard let schemeEnd = given.range(of: "://") else {
            throw fail("has no scheme: use http://\(given.isEmpty ? "127.0.0.1:8080" : given)")
        }
        let scheme = given[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else {
            throw fail("must start with http:// or https:// (got \(scheme)://)")
        }
        guard let components = URLComponents(string: given), let host = components.host, !host.isEmpty else {
            throw fail("is not a valid URL: give the server's root, e.g. http://127.0.0.1:8080")
        }
        guard components.query == nil, components.fragment == nil else {
            throw fail("must not carry a query or fragment: give the server's root, e.g. \(scheme)://\(hostPort(components))")
        }
        var path = components.path
        while path.hasSuffix("/") { path.removeLast() }
        if path == "/v1" || path.hasSuffix("/v1") {
            let root = "\(scheme)://\(hostPort(components))\(path.dropLast(3))"
            throw fail("ends in /v1: give the server's root, \(root) (the CLI adds /v1 itself)")
        }
        var result = given
        while result.hasSuffix("/") { result.removeLast() }
        return result
    }

    static func hostPort(_ c: URLComponents) -> String {
        let host = c.host.map { $0.contains(":") ? "[\($0)]" : $0 } ?? ""
        return c.port.map { "\(host):\($0)" } ?? host
    }

    /// What to tell the user when the server answers 401 with these settings.
    public func unauthorizedHint() -> String {
        switch keyOrigin {
        case nil:
            return "no key found (looked in \(searched.joined(separator: ", "))): set SWELL_KEY, run from the directory holding .swell/admin.key, or save one with `swell login \(url) KEY`"
        case .environment(let name)?:
            return "the key in \(name) was refused by \(url): check it, or unset it to use the key file (`swell keys create` makes new keys)"
        case .file(let path)?:
            return "the key in \(path) was refused by \(url) (is it another server's data directory?): set SWELL_KEY or run `swell login \(url) KEY`"
        case .login(let path)?:
            return "the key saved in \(path) was refused by \(url): run `swell login \(url) KEY` again, or set SWELL_KEY"
        case .builtIn?:
            return "set SWELL_KEY"
        }
    }
}
