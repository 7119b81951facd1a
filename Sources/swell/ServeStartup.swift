import Dispatch
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SwellServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why `swell serve` could not start, in words that name the fix. Printed as
/// `error: …` on stderr before the process exits with status 1.
struct StartupError: Error, CustomStringConvertible {
    var description: String
}

/// An exclusive lock on a data directory: one `swell serve` per data directory (scale-out
/// nodes share a database, never a data directory). `flock` on `swell.lock` inside it; the
/// kernel drops the lock when the process ends, however it ends, so a stale file never
/// blocks a restart. The file holds the holder's PID, for the refusal message.
final class DataDirectoryLock {
    let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// Creates the data directory if needed and takes its lock.
    /// - Throws: ``StartupError`` naming the PID of the server holding it.
    static func acquire(dataDirectory: String) throws -> DataDirectoryLock {
        let dir = URL(fileURLWithPath: dataDirectory).standardizedFileURL.path
        do {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        } catch {
            throw StartupError(description: "cannot create the data directory \(dir): \(Self.reason(error)) (choose another with --data-dir)")
        }
        let path = "\(dir)/swell.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StartupError(description: "cannot open \(path): \(String(cString: strerror(errno))) (choose another data directory with --data-dir)")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = Self.readPID(fd)
            close(fd)
            if code == EWOULDBLOCK {
                let who = holder.map { "another swell serve (pid \($0))" } ?? "another swell serve"
                throw StartupError(description: "the data directory \(dir) is in use by \(who): stop it first, or give this server its own --data-dir")
            }
            throw StartupError(description: "cannot lock \(path): \(String(cString: strerror(code)))")
        }
        let text = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return DataDirectoryLock(path: path, fd: fd)
    }

    static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func reason(_ error: any Error) -> String {
        if let posix = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        return error.localizedDescription
    }
}

/// Whether `swell serve` can listen on host:port, tried before anything else starts so that
/// a taken port is reported at once (the real listener binds only after every service has
/// started). The listener binds again for real later: a port taken in between is reported
/// by ``StartupFailure/describe(_:host:port:)``.
enum ListenCheck {
    static func check(host: String, port: Int) throws {
        guard port != 0 else { return }
        guard (1...65535).contains(port) else {
            throw StartupError(description: "--port must be between 1 and 65535 (got \(port))")
        }
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw StartupError(description: "cannot listen on \(host):\(port): cannot resolve \(host) (\(String(cString: gai_strerror(status)))); use --host with an address of this machine")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { return }  // cannot test here; the listener reports it
        defer { close(fd) }
        var one: Int32 = 1
        // As the listener does, so that a port in TIME_WAIT does not count as taken.
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
            throw StartupError(description: StartupFailure.listenMessage(errno: errno, host: host, port: port))
        }
    }
}

enum StartupFailure {
    /// `cannot listen on HOST:PORT: …` with the fix for the usual causes.
    static func listenMessage(errno code: Int32, host: String, port: Int) -> String {
        let prefix = "cannot listen on \(host):\(port)"
        switch code {
        case EADDRINUSE: return "\(prefix): address already in use (is another swell serve running? use --port)"
        case EACCES: return "\(prefix): permission denied (ports below 1024 need root; use --port)"
        case EADDRNOTAVAIL: return "\(prefix): \(host) is not an address of this machine (use --host)"
        default: return "\(prefix): \(String(cString: strerror(code)))"
        }
    }

    /// A start-up error in words: the listener's bind errors as ``listenMessage(errno:host:port:)``,
    /// the rest as they describe themselves.
    static func describe(_ error: any Error, host: String, port: Int) -> String {
        // The listener's bind failing (the port was taken after ListenCheck tried it).
        if let io = error as? IOError, [EADDRINUSE, EACCES, EADDRNOTAVAIL].contains(io.errnoCode) {
            return listenMessage(errno: io.errnoCode, host: host, port: port)
        }
        if let startup = error as? StartupError { return startup.description }
        return "swell serve could not start: \(error)"
    }
}

/// The signal caught before the dispatch sources were registered (0: none).
nonisolated(unsafe) private var earlySignal: sig_atomic_t = 0

/// Records a signal until the dispatch sources take over (async-signal-safe: one store).
private let recordEarlySignal: @convention(c) (Int32) -> Void = { signal in earlySignal = signal }

/// SIGTERM and SIGINT from the very start of `swell serve`, start-up included: the first
/// asks every service to stop gracefully (through the command's service group, which
/// remembers the request if it is not running yet); a second one ends the process at once
/// (exit status 130 or 143). Installed before anything else, so that no signal finds the
/// default action (which would end the process without a graceful stop).
final class ShutdownSignals: @unchecked Sendable {
    private let sources: [any DispatchSourceSignal]
    private let count = Mutex(0)
    private let onFirst = Mutex<(@Sendable () -> Void)?>(nil)
    private let logger: Logger

    /// What a first signal does besides logging (set once the service group exists).
    func onStop(_ action: @escaping @Sendable () -> Void) {
        let received = onFirst.withLock { current -> Bool in
            current = action
            return self.received
        }
        if received { action() }
    }

    init(logger: Logger) {
        self.logger = logger
        let signals: [(Int32, String)] = [(SIGTERM, "SIGTERM"), (SIGINT, "SIGINT")]
        // Dispatch registers a signal source's handler asynchronously: until it has, a
        // handler of our own keeps the signal from killing the process and remembers it.
        for (number, _) in signals { _ = signal(number, recordEarlySignal) }
        let queue = DispatchQueue(label: "swell.signals")
        sources = signals.map { signal, _ in DispatchSource.makeSignalSource(signal: signal, queue: queue) }
        for (source, (signal, name)) in zip(sources, signals) {
            source.setEventHandler { [weak self] in self?.received(signal, name) }
            source.resume()
        }
        // Wait (briefly) until dispatch's handlers replace ours, then replay what ours caught.
        let ours = unsafeBitCast(recordEarlySignal, to: Int.self)
        for _ in 0..<500 {
            let pending = signals.contains { number, _ in
                var current = sigaction()
                sigaction(number, nil, &current)
                return unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == ours
            }
            if !pending { break }
            usleep(1000)
        }
        let early = earlySignal
        if early != 0, let (signal, name) = signals.first(where: { $0.0 == early }) {
            queue.async { self.received(signal, name) }
        }
    }

    private func received(_ signal: Int32, _ name: String) {
        let n = count.withLock { n in
            n += 1
            return n
        }
        if n == 1 {
            logger.notice("stopping: \(name) received (send it again to stop at once)")
            onFirst.withLock { $0 }?()
        } else {
            FileHandle.standardError.write(Data("swell: \(name) received again: stopping at once\n".utf8))
            _exit(signal == SIGINT ? 130 : 143)
        }
    }

    /// Whether a stop was asked for.
    var received: Bool { count.withLock { $0 > 0 } }
}

/// A tiny lock around a value (Synchronization's Mutex needs a newer deployment target on macOS).
final class Mutex<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// The whole server as one service of the command's own service group, so that a signal
/// during start-up (before the server's own group exists) still reaches it as a graceful
/// shutdown once it is running.
struct SwellServerService: Service {
    let configuration: ServerConfiguration
    let logger: Logger

    func run() async throws {
        try await SwellServer.run(configuration, logger: logger)
    }
}
