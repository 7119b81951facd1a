import Foundation

/// Where runtimes live and how instances are laid out on disk.
public struct RuntimeConfiguration: Sendable {
    /// The Node.js executable for `nodejs20`.
    public var nodeExecutable: String
    /// The Python executable for `python3` (Debian's, so that unprivileged uids can run it).
    public var pythonExecutable: String
    /// Directory holding `nodejs/bootstrap.js` and `python/bootstrap.py` (`LAMBDA_RUNTIME_DIR`).
    public var bootstrapDirectory: String
    /// Parent directory of each instance's private temp directory.
    public var instancesDirectory: String
    /// How long an instance may take from spawn to its first `next` request.
    public var initTimeout: Duration

    public init(
        nodeExecutable: String = RuntimeConfiguration.find("node", preferring: ["/usr/bin/node", "/usr/local/bin/node"]),
        pythonExecutable: String = RuntimeConfiguration.find("python3", preferring: ["/usr/bin/python3"]),
        bootstrapDirectory: String, instancesDirectory: String, initTimeout: Duration = .seconds(10)
    ) {
        self.nodeExecutable = nodeExecutable
        self.pythonExecutable = pythonExecutable
        self.bootstrapDirectory = bootstrapDirectory
        self.instancesDirectory = instancesDirectory
        self.initTimeout = initTimeout
    }

    /// The first of `preferring` that exists, else the first match on `PATH`, else the name.
    public static func find(_ name: String, preferring: [String]) -> String {
        let fm = FileManager.default
        for p in preferring where fm.isExecutableFile(atPath: p) { return p }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = "\(dir)/\(name)"
            if fm.isExecutableFile(atPath: p) { return p }
        }
        return name
    }

    /// Copies the bootstraps shipped as package resources into `directory` and returns it.
    public static func installBootstraps(into directory: String) throws -> String {
        let fm = FileManager.default
        guard let source = Bundle.module.url(forResource: "Bootstraps", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSLocalizedDescriptionKey: "bootstraps missing from the Swell bundle"])
        }
        try? fm.removeItem(atPath: directory)
        try fm.createDirectory(atPath: (directory as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try fm.copyItem(at: source, to: URL(fileURLWithPath: directory))
        try? fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory)
        for sub in ["nodejs", "python"] {
            try? fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: "\(directory)/\(sub)")
        }
        return directory
    }
}
