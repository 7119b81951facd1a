import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import SwellDeploy
import SwellModel

/// `swell login URL [KEY]`: checks the key against the server and saves both for later
/// commands run from anywhere (`~/.config/swell/login.json`, mode 0600).
struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Save a server's URL and key for the CLI (checked against the server first).",
        discussion: """
            The login is kept in $XDG_CONFIG_HOME/swell/login.json (default ~/.config/swell/login.json, mode 0600). \\
            SWELL_URL and SWELL_KEY still win over it. Give the key as - (or leave it out) to read it from stdin, \\
            so that it stays out of the shell history.
            """)

    @Argument(help: "The server's root URL, e.g. http://127.0.0.1:8080.") var url: String
    @Argument(help: "An API key (swk_…); - or none: read from stdin.") var key: String?
    @Flag(help: "Save without asking the server whether it accepts the key.") var noVerify = false

    func run() async throws {
        try await runClient {
            let root = try ClientSettings.normalizedURL(url, origin: "the URL")
            var given = key ?? "-"
            if given == "-" {
                if isatty(0) != 0 { FileHandle.standardError.write(Data("key for \(root): ".utf8)) }
                given = readLine(strippingNewline: true) ?? ""
            }
            given = given.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !given.isEmpty else { throw SwellError(.invalidRequest, "no key given: swell login \(root) KEY (or pipe the key into swell login \(root) -)") }
            let environment = ProcessInfo.processInfo.environment
            let path = ClientSettings.loginPath(environment: environment)
            if !noVerify {
                let settings = ClientSettings(url: root, urlOrigin: .environment("the URL"), key: given, keyOrigin: .environment("the key given"), searched: [])
                let client = APIClient(settings: settings, session: URLSession(configuration: .default))
                let who = try await client.json("GET", "/v1/whoami")
                printError("the key is \(who["role"] ?? "?") of namespace \(who["namespace"] ?? "?") on \(root)")
            }
            try Self.save(ClientSettings.Login(url: root, key: given), to: path)
            printError("saved to \(path) (mode 0600); SWELL_URL and SWELL_KEY still win over it")
        }
    }

    /// Writes the login through a temporary file (mode 0600 from the start), then renames it.
    static func save(_ login: ClientSettings.Login, to path: String) throws {
        let fm = FileManager.default
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let temp = "\(path).\(getpid()).tmp"
            try? fm.removeItem(atPath: temp)
            guard fm.createFile(atPath: temp, contents: try encoder.encode(login), attributes: [.posixPermissions: 0o600]) else {
                throw SwellError(.internal, "cannot write \(temp)")
            }
            guard rename(temp, path) == 0 else {
                let reason = String(cString: strerror(errno))
                try? fm.removeItem(atPath: temp)
                throw SwellError(.internal, "cannot save \(path): \(reason)")
            }
        } catch let error as SwellError {
            throw error
        } catch {
            throw SwellError(.internal, "cannot save the login in \(path): \(error.localizedDescription) (set XDG_CONFIG_HOME to a writable directory)")
        }
    }
}
