import ArgumentParser
import Foundation
import NIOCore
import NIOPosix

extension Swell {
    /// The entry point. With `SWELL_EXECUTOR=nio`, `swell serve` runs Swift concurrency on
    /// SwiftNIO's event loops, so that a request's handler, the instance pool and the Runtime
    /// API share threads instead of handing requests between the event loops and the
    /// cooperative pool. It is off by default: measured on this 2-core machine it did not lower
    /// the CPU per warm invoke (docs/BENCHMARKS.md), and the control plane's SQLite and file
    /// work would then block event loops.
    static func main() async {
        let arguments = CommandLine.arguments.dropFirst()
        if arguments.first == "serve", ProcessInfo.processInfo.environment["SWELL_EXECUTOR"] == "nio" {
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
