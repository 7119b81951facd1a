import NIOCore
import NIOEmbedded
import NIOHTTP1
import SwellModel
import Synchronization
import Testing
@testable import SwellRuntime

/// The Runtime API handler and the mailbox on an `EmbeddedChannel`: the test plays the runtime.
struct RuntimeAPIHandlerTests {
    final class Events: Sendable {
        let ready = Atomic<Int>(0)
        let timedOut = Mutex<[String]>([])
    }

    final class Harness {
        let channel = EmbeddedChannel()
        let mailbox: InstanceMailbox
        let events = Events()
        var ready: Int { events.ready.load(ordering: .relaxed) }
        var timedOut: [String] { events.timedOut.withLock { $0 } }

        init() throws {
            let events = self.events
            mailbox = InstanceMailbox(group: channel.embeddedEventLoop, events: .init(
                ready: { events.ready.wrappingAdd(1, ordering: .relaxed) },
                initError: { _ in },
                timedOut: { id, _ in events.timedOut.withLock { $0.append(id) } }))
            try RuntimeAPIHandler.install(on: channel.pipeline.syncOperations, mailbox: mailbox)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        }

        func send(_ text: String) throws {
            try channel.writeInbound(ByteBuffer(string: text))
        }

        /// Everything the handler wrote since the last call, as text.
        func written() throws -> String {
            var out = ""
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += String(buffer: buffer) }
            return out
        }
    }

    final class Outcome: Sendable {
        let result = Mutex<InvocationResult?>(nil)
        var value: InvocationResult? { result.withLock { $0 } }
    }

    private func invocation(_ id: String, payload: String = #"{"n":1}"#, timeout: TimeAmount = .seconds(30), into outcome: Outcome) -> PendingInvocation {
        PendingInvocation(
            requestID: id, payload: ByteBuffer(string: payload), deadlineEpochMs: 1_700_000_000_123,
            functionARN: "arn:aws:lambda:swell:ns:function:f", traceID: "Root=1-abc;Sampled=0", timeout: timeout
        ) { r in outcome.result.withLock { $0 = r } }
    }

    /// The runtime asks for its next event and gets invocation `id` (its bytes read and dropped).
    private func handOut(_ id: String, on h: Harness) throws -> Outcome {
        try h.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        let outcome = Outcome()
        h.mailbox.deliver(invocation(id, into: outcome))
        _ = try h.written()
        return outcome
    }

    /// What awslambdaric and the other runtime clients send on a handler error: the type in
    /// `Lambda-Runtime-Function-Error-Type`, a JSON body that may or may not repeat it.
    @Test func errorReportsTakeTheirTypeFromTheBodyElseTheHeader() throws {
        let both = RuntimeAPIHandler.decodeError(
            ByteBuffer(string: #"{"errorType":"KeyError","errorMessage":"'x'","stackTrace":["a"]}"#), header: "Runtime.Unknown")
        #expect(both == FunctionError(errorType: "KeyError", errorMessage: "'x'", stackTrace: ["a"]))
        let headerOnly = RuntimeAPIHandler.decodeError(ByteBuffer(string: #"{"errorMessage":"boom"}"#), header: "Runtime.ImportModuleError")
        #expect(headerOnly.errorType == "Runtime.ImportModuleError" && headerOnly.errorMessage == "boom")
        let notJSON = RuntimeAPIHandler.decodeError(ByteBuffer(string: "segfault"), header: "Runtime.ExitError")
        #expect(notJSON.errorType == "Runtime.ExitError" && notJSON.errorMessage == "segfault")
        #expect(RuntimeAPIHandler.decodeError(ByteBuffer(string: ""), header: nil).errorType == "Unhandled")

        let h = try Harness()
        let outcome = try handOut("req-e", on: h)
        let body = #"{"errorMessage":"bad","errorType":"ValueError"}"#
        try h.send("POST /2018-06-01/runtime/invocation/req-e/error HTTP/1.1\r\nLambda-Runtime-Function-Error-Type: Unhandled\r\n"
            + "Content-Type: application/vnd.aws.lambda.error+json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(try h.written().hasPrefix("HTTP/1.1 202 Accepted\r\n"))
        guard case .failure(.unhandled, let error)? = outcome.value else { Issue.record("not failed: \(String(describing: outcome.value))"); return }
        #expect(error.errorType == "ValueError" && error.errorMessage == "bad")
    }

    @Test func nextCarriesTheEventInOneResponseAndTheResponseCompletesIt() throws {
        let h = try Harness()
        try h.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(h.ready == 1)
        #expect(try h.written() == "")
        let outcome = Outcome()
        h.mailbox.deliver(invocation("req-1", into: outcome))
        let response = try h.written()
        #expect(response == "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n"
            + "Lambda-Runtime-Aws-Request-Id: req-1\r\nLambda-Runtime-Deadline-Ms: 1700000000123\r\n"
            + "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:swell:ns:function:f\r\n"
            + "Lambda-Runtime-Trace-Id: Root=1-abc;Sampled=0\r\n\r\n{\"n\":1}")
        #expect(h.mailbox.isInFlight("req-1"))
        try h.send("POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nContent-Length: 4\r\n\r\ntrue")
        #expect(try h.written() == "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}")
        guard case .success(let body)? = outcome.value else { Issue.record("not completed"); return }
        #expect(String(buffer: body) == "true")
        #expect(!h.mailbox.isInFlight("req-1"))
        // A second answer for the same request is refused.
        try h.send("POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nContent-Length: 1\r\n\r\n1")
        #expect(try h.written().hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    }

    /// Counts the flushes that reach the socket.
    final class FlushCounter: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = ByteBuffer
        var flushes = 0
        func flush(context: ChannelHandlerContext) {
            flushes += 1
            context.flush()
        }
    }

    @Test func aResultPostedWithTheNextNextGetsTheAcceptanceAndTheQueuedInvocationInOneFlush() throws {
        let h = try Harness()
        let counter = FlushCounter()
        try h.channel.pipeline.syncOperations.addHandler(counter, position: .first)
        let first = Outcome(), second = Outcome()
        h.mailbox.deliver(invocation("req-1", into: first))
        h.mailbox.deliver(invocation("req-2", payload: #"{"n":2}"#, into: second))
        try h.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try h.written().contains("Lambda-Runtime-Aws-Request-Id: req-1\r\n"))
        let before = counter.flushes
        // Swell's bootstraps post a result and ask for the next event in one write.
        try h.send("POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nContent-Length: 4\r\n\r\ntrue"
            + "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(counter.flushes == before + 1)
        let out = try h.written()
        #expect(out.hasPrefix("HTTP/1.1 202 Accepted\r\n"))
        #expect(out.contains("Lambda-Runtime-Aws-Request-Id: req-2\r\n") && out.hasSuffix(#"{"n":2}"#))
        guard case .success(let body)? = first.value else { Issue.record("req-1 not completed"); return }
        #expect(String(buffer: body) == "true")
        // An invocation handed over later, outside a read, is flushed at once.
        try h.send("POST /2018-06-01/runtime/invocation/req-2/response HTTP/1.1\r\nContent-Length: 1\r\n\r\n1"
            + "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        _ = try h.written()
        let third = Outcome()
        h.mailbox.deliver(invocation("req-3", into: third))
        #expect(try h.written().contains("Lambda-Runtime-Aws-Request-Id: req-3\r\n"))
    }

    @Test func runtimeAPIPathsAreMatchedWithoutSplitting() {
        #expect(RuntimeAPIPath("invocation/next") == .next)
        #expect(RuntimeAPIPath("init/error") == .initError)
        #expect(RuntimeAPIPath("invocation/abc-1/response") == .response("abc-1"))
        #expect(RuntimeAPIPath("invocation/abc-1/error") == .error("abc-1"))
        #expect(RuntimeAPIPath("invocation//response") == .response(""))  // answered: unknown request id
        #expect(RuntimeAPIPath("invocation/a/b/response") == .unknown)
        #expect(RuntimeAPIPath("invocation/abc/responses") == .unknown)
        #expect(RuntimeAPIPath("invocation/next/") == .unknown)
        #expect(RuntimeAPIPath("invocation") == .unknown)
        #expect(RuntimeAPIPath("init/errors") == .unknown)
        #expect(RuntimeAPIPath("") == .unknown)
    }

    @Test func anInvocationDeliveredBeforeNextWaitsForIt() throws {
        let h = try Harness()
        let outcome = Outcome()
        h.mailbox.deliver(invocation("req-2", into: outcome))
        #expect(try h.written() == "")
        try h.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
        #expect(try h.written().contains("Lambda-Runtime-Aws-Request-Id: req-2\r\n"))
        let report = #"{"errorType":"TypeError","errorMessage":"boom","stackTrace":[]}"#
        try h.send("POST /2018-06-01/runtime/invocation/req-2/error HTTP/1.1\r\nContent-Length: \(report.utf8.count)\r\n\r\n" + report)
        _ = try h.written()
        guard case .failure(let kind, let error)? = outcome.value else { Issue.record("not failed"); return }
        #expect(kind == .unhandled)
        #expect(error.errorType == "TypeError")
    }

    @Test func theTimeoutFiresOnTheInstancesLoopAndKillsFirst() throws {
        let h = try Harness()
        let outcome = Outcome()
        h.mailbox.deliver(invocation("req-3", timeout: .seconds(2), into: outcome))
        h.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1999))
        #expect(outcome.value == nil)
        h.channel.embeddedEventLoop.advanceTime(by: .milliseconds(1))
        guard case .failure(let kind, let error)? = outcome.value else { Issue.record("not timed out"); return }
        #expect(kind == .timeout)
        #expect(error.errorMessage == "Task timed out after 2.00 seconds")
        #expect(h.timedOut == ["req-3"])
    }

    @Test func anAnswerCancelsTheTimer() throws {
        let h = try Harness()
        let outcome = Outcome()
        try h.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
        h.mailbox.deliver(invocation("req-4", timeout: .seconds(1), into: outcome))
        try h.send("POST /2018-06-01/runtime/invocation/req-4/response HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        h.channel.embeddedEventLoop.advanceTime(by: .seconds(5))
        guard case .success? = outcome.value else { Issue.record("not a success"); return }
        #expect(h.timedOut.isEmpty)
    }

    @Test func headerValuesCannotSplitTheResponse() throws {
        let h = try Harness()
        try h.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
        let outcome = Outcome()
        h.mailbox.deliver(PendingInvocation(
            requestID: "req-5", payload: ByteBuffer(string: "{}"), deadlineEpochMs: 1, functionARN: "arn",
            traceID: "Root=1\r\nX-Injected: yes", clientContext: "cc\nmore", timeout: .seconds(30)) { r in outcome.result.withLock { $0 = r } })
        let text = try h.written()
        #expect(!text.contains("\r\nX-Injected"))
        #expect(text.contains("Lambda-Runtime-Trace-Id: Root=1  X-Injected: yes\r\n"))
        #expect(text.contains("Lambda-Runtime-Client-Context: cc more\r\n"))
    }

    @Test func aRequestWhileNextIsOpenClosesTheConnection() throws {
        let h = try Harness()
        try h.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
        try h.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
        #expect(!h.channel.isActive)
    }

    @Test func expectContinueGetsAnInterimAnswerBeforeTheBody() throws {
        let h = try Harness()
        let outcome = try handOut("req-c", on: h)
        try h.send("POST /2018-06-01/runtime/invocation/req-c/response HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        #expect(try h.written() == "HTTP/1.1 100 Continue\r\n\r\n")
        #expect(outcome.value == nil)
        try h.send("true")
        #expect(try h.written().hasPrefix("HTTP/1.1 202 Accepted\r\n"))
        guard case .success(let body)? = outcome.value else { Issue.record("not completed"); return }
        #expect(String(buffer: body) == "true")
    }

    @Test func aChunkedResponseOverTheLimitFailsTheInvocationAndKeepsTheConnection() throws {
        let h = try Harness()
        let outcome = try handOut("req-big", on: h)
        try h.send("POST /2018-06-01/runtime/invocation/req-big/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
        let chunk = String(repeating: "x", count: 1 << 20)
        for _ in 0..<7 { try h.send(String(chunk.utf8.count, radix: 16) + "\r\n" + chunk + "\r\n") }
        try h.send("0\r\n\r\n")
        #expect(try h.written().hasPrefix("HTTP/1.1 413 Payload Too Large\r\n"))
        guard case .failure(.responseTooLarge, let error)? = outcome.value else { Issue.record("not failed: \(String(describing: outcome.value))"); return }
        #expect(error.errorType == "Function.ResponseSizeTooLarge")
        #expect(h.channel.isActive)
        try h.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
        #expect(h.mailbox.parked == 1)
    }

    @Test func malformedRequestsAreAnswered400AndTheConnectionClosed() throws {
        for bad in [
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nBad Header: x\r\n\r\n",
            "POST /2018-06-01/runtime/invocation/x/response HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nnope\r\n",
            "\u{0}\u{1}garbage\r\n\r\n",
        ] {
            let h = try Harness()
            try h.send(bad + "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n\r\n")
            let text = try h.written()
            #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n") && text.contains("Connection: close") && text.contains("InvalidRequest"), "\(bad.debugDescription): \(text)")
            #expect(!h.channel.isActive)
            #expect(h.ready == 0, "the request after a malformed one was read")
        }
    }

    @Test func anOversizedHeaderSectionIsAnswered431AndTheConnectionClosed() throws {
        let h = try Harness()
        try h.send("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n")
        for _ in 0..<70 { try h.send("X-Filler: " + String(repeating: "f", count: 1000) + "\r\n") }
        let text = try h.written()
        #expect(text.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(!h.channel.isActive)
    }

    @Test func numbersAreWrittenInDecimal() {
        for n in [0, 7, 10, 123_456_789, Int(Int32.max)] {
            var b = ByteBuffer()
            b.writeDecimal(n)
            #expect(String(buffer: b) == String(n))
        }
    }
}
