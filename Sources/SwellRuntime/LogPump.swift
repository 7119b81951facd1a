import Foundation
import NIOCore
import NIOPosix
import SwellModel
import Synchronization

/// A line a function wrote, attributed to an invocation when possible.
public struct CapturedLine: Sendable {
    public var time: Date
    public var requestID: String?
    public var stream: String
    public var message: String
    /// The line was longer than `Limits.maxLogLineBytes`: `message` holds its start and a mark.
    public var cut = false
}

/// Where an instance's output goes.
public protocol LogSink: Sendable {
    /// A complete line from an instance.
    func accept(_ line: CapturedLine, instance: InstanceInfo)
    /// The runtime finished writing the output of `requestID` (the `\u{1e}` marker).
    func endOfOutput(requestID: String)
}

/// Reads an instance's stdout or stderr pipe and turns it into attributed lines.
///
/// Swell's bootstraps prefix each line written during an invocation with
/// `\u{1f}REQUEST_ID\u{1f}` and write `\u{1e}REQUEST_ID` when an invocation's output is
/// complete. Unmarked lines (third-party runtimes, init code) are attributed to the
/// invocation in flight when there is exactly one.
///
/// Memory is bounded whatever the function writes: a line longer than
/// `Limits.maxLogLineBytes` is passed on cut (its first bytes and a mark) and the rest of
/// it, up to the next newline, is discarded as it arrives.
final class LogPumpHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let stream: String
    private let instance: InstanceInfo
    private let mailbox: InstanceMailbox
    private let sink: any LogSink
    private let recent: RecentLines
    private var partial = ByteBuffer()
    /// Discarding the rest of a line that was too long, up to its newline.
    private var skipping = false
    /// Room for the `\u{1f}REQUEST_ID\u{1f}` prefix, which does not count towards a line's length.
    static let markerAllowance = 256

    init(stream: String, instance: InstanceInfo, mailbox: InstanceMailbox, sink: any LogSink, recent: RecentLines) {
        self.stream = stream
        self.instance = instance
        self.mailbox = mailbox
        self.sink = sink
        self.recent = recent
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        partial.writeBuffer(&chunk)
        while let newline = partial.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - partial.readerIndex
            if skipping {
                partial.moveReaderIndex(forwardBy: length + 1)
                skipping = false
                continue
            }
            let line = partial.readSlice(length: length)!
            partial.moveReaderIndex(forwardBy: 1)
            emit(line)
        }
        if skipping {
            partial.clear()
        } else if partial.readableBytes > Limits.maxLogLineBytes + Self.markerAllowance {
            emit(partial.readSlice(length: partial.readableBytes)!)
            partial.clear()
            skipping = true
        }
        partial.discardReadBytes()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if partial.readableBytes > 0 {
            let line = partial.readSlice(length: partial.readableBytes)!
            emit(line)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func emit(_ raw: ByteBuffer) {
        var bytes = raw.readableBytesView
        var requestID: String?
        if bytes.first == 0x1E {
            let id = String(decoding: bytes.dropFirst(), as: UTF8.self)
            sink.endOfOutput(requestID: id)
            return
        }
        if bytes.first == 0x1F, let end = bytes.dropFirst().firstIndex(of: 0x1F) {
            requestID = String(decoding: bytes[(bytes.startIndex + 1)..<end], as: UTF8.self)
            bytes = bytes[(end + 1)...]
        } else {
            requestID = mailbox.soleInFlightRequestID
        }
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        var cut = false
        if bytes.count > Limits.maxLogLineBytes {
            bytes = bytes.prefix(Limits.maxLogLineBytes)
            // Never end inside a UTF-8 sequence.
            while let last = bytes.last, last & 0xC0 == 0x80 { bytes = bytes.dropLast() }
            if let last = bytes.last, last & 0xC0 == 0xC0 { bytes = bytes.dropLast() }
            cut = true
        }
        var message = String(decoding: bytes, as: UTF8.self)
        if cut { message += " [swell: line cut at \(Limits.maxLogLineBytes) bytes]" }
        recent.append(message)
        sink.accept(CapturedLine(time: Date(), requestID: requestID, stream: stream, message: message, cut: cut), instance: instance)
    }

    /// Starts pumping `fd` (taking ownership of it).
    static func start(fd: Int32, stream: String, instance: InstanceInfo, mailbox: InstanceMailbox, sink: any LogSink, recent: RecentLines, group: any EventLoopGroup) async throws -> any Channel {
        try await NIOPipeBootstrap(group: group)
            .channelOption(.autoRead, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        LogPumpHandler(stream: stream, instance: instance, mailbox: mailbox, sink: sink, recent: recent))
                }
            }
            .takingOwnershipOfDescriptor(input: fd)
            .get()
    }
}

@available(*, unavailable)
extension LogPumpHandler: Sendable {}

/// The last few lines an instance wrote, quoted when it crashes.
final class RecentLines: Sendable {
    private let lines = Mutex<[String]>([])
    private let capacity: Int

    init(capacity: Int = 20) {
        self.capacity = capacity
    }

    func append(_ line: String) {
        lines.withLock { l in
            l.append(line)
            if l.count > capacity { l.removeFirst(l.count - capacity) }
        }
    }

    var all: [String] { lines.withLock { $0 } }
}
