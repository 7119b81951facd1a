import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

extension Swell {
    /// The entry point: for `swell serve`, Swift concurrency first runs on SwiftNIO's event
    /// loops (unless `SWELL_EXECUTOR=default`), so that a request's handler, the instance
    /// pool and the Runtime API share threads instead of handing every request from the event
    /// loops to the cooperative pool and back. Blocking work must then stay off those threads
    /// (the stores write on thread pools of their own).
    static func main() async {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "serve", ProcessInfo.processInfo.environment["SWELL_EXECUTOR"] != "default" {
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
