import NIOCore

/// One Runtime API request, read whole: what ``RuntimeAPIHandler`` needs of it and nothing more.
struct RuntimeAPIRequest: Equatable {
    /// As sent (`GET`, `POST`, …).
    var method: String
    /// The request target as sent.
    var target: String
    /// Whether the connection stays open after the answer (HTTP/1.1 unless `Connection: close`;
    /// HTTP/1.0 only with `Connection: keep-alive`).
    var keepAlive: Bool
    /// `Lambda-Runtime-Function-Error-Type`, the first one.
    var errorType: String?
    /// The body (empty when it was over the limit).
    var body: ByteBuffer
    /// The body was over the limit: it was read and dropped, not kept.
    var bodyTooLarge: Bool
}

/// An HTTP/1.1 request decoder sized for the Runtime API, as a value: bytes in, requests out.
///
/// It reads the request line; of the headers only `Content-Length`, `Transfer-Encoding`,
/// `Connection`, `Expect` and `Lambda-Runtime-Function-Error-Type` (names in any case); the body
/// by `Content-Length` or chunked (extensions and trailers read and ignored). A body over
/// `maxBodyBytes` is read and dropped as it comes, never held. The header section is capped;
/// anything malformed ends the connection. Requests may come pipelined, split at any byte.
///
/// Strict where laxness lets one message be read as two (request smuggling): both
/// `Content-Length` and `Transfer-Encoding`, conflicting lengths, a transfer coding other than
/// `chunked`, bare CR or LF in the head, folded header lines and whitespace before a colon are
/// all refused.
struct RuntimeAPIRequestParser {
    enum Event: Equatable {
        /// The client sent `Expect: 100-continue` and waits: answer `100 Continue` now.
        case continueExpected
        case request(RuntimeAPIRequest)
        /// The connection must be answered with the failure's status and closed; nothing more is read.
        case failed(Failure)
    }

    enum Failure: Error, Equatable {
        /// The header section (or the trailers) is over the cap: 431.
        case headerTooLarge
        /// Not HTTP/1.x as this decoder reads it: 400. The reason names what is wrong.
        case malformed(String)
    }

    let maxHeaderBytes: Int
    let maxBodyBytes: Int

    private enum State {
        /// Looking for the end of the head; `scanned` bytes are known not to hold it.
        case head(scanned: Int)
        case body(remaining: Int)
        case chunkSize(scanned: Int)
        case chunkData(remaining: Int)
        /// The CRLF after a chunk's data.
        case chunkEnd
        case trailers(scanned: Int)
        case failed
    }

    private var state = State.head(scanned: 0)
    /// The request whose body is being read.
    private var request: RuntimeAPIRequest?
    private var bodyBytes = 0

    /// Longest chunk-size line accepted (size and extensions).
    static let maxChunkLine = 4096

    init(maxHeaderBytes: Int = 64 * 1024, maxBodyBytes: Int) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
    }

    /// The next event from the bytes in `buffer` (what it uses is read off it); nil when more bytes are needed.
    mutating func next(_ buffer: inout ByteBuffer) -> Event? {
        while true {
            switch state {
            case .failed:
                return nil

            case .head(let scanned):
                // Empty lines before a request line are ignored (RFC 9112, 2.2).
                while buffer.readableBytes >= 2, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A {
                    buffer.moveReaderIndex(forwardBy: 2)
                }
                guard let end = Self.find(crlfcrlf: buffer, from: scanned) else {
                    if buffer.readableBytes > maxHeaderBytes { return fail(.headerTooLarge) }
                    state = .head(scanned: max(0, buffer.readableBytes - 3))
                    return nil
                }
                if end + 4 > maxHeaderBytes { return fail(.headerTooLarge) }
                let parsed = buffer.withUnsafeReadableBytes { Self.parseHead(UnsafeRawBufferPointer(rebasing: $0[..<(end + 2)])) }
                buffer.moveReaderIndex(forwardBy: end + 4)
                switch parsed {
                case .failure(let failure):
                    return fail(failure)
                case .success(let head):
                    var request = RuntimeAPIRequest(
                        method: head.method, target: head.target, keepAlive: head.keepAlive, errorType: head.errorType,
                        body: ByteBuffer(), bodyTooLarge: false)
                    bodyBytes = 0
                    if head.chunked {
                        state = .chunkSize(scanned: 0)
                    } else if head.contentLength > 0 {
                        request.bodyTooLarge = head.contentLength > maxBodyBytes
                        state = .body(remaining: head.contentLength)
                    } else {
                        state = .head(scanned: 0)
                        return .request(request)
                    }
                    self.request = request
                    if head.expectContinue { return .continueExpected }
                }

            case .body(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let n = min(remaining, buffer.readableBytes)
                take(n, from: &buffer, whole: n == remaining)
                if n < remaining {
                    state = .body(remaining: remaining - n)
                    return nil
                }
                return finish()

            case .chunkSize(let scanned):
                guard let lineEnd = Self.find(crlf: buffer, from: scanned) else {
                    if buffer.readableBytes > Self.maxChunkLine { return fail(.malformed("chunk size line too long")) }
                    state = .chunkSize(scanned: max(0, buffer.readableBytes - 1))
                    return nil
                }
                let size = buffer.withUnsafeReadableBytes { Self.parseChunkSize(UnsafeRawBufferPointer(rebasing: $0[..<lineEnd])) }
                buffer.moveReaderIndex(forwardBy: lineEnd + 2)
                guard let size else { return fail(.malformed("invalid chunk size")) }
                if size == 0 {
                    state = .trailers(scanned: 0)
                } else {
                    let (total, overflow) = bodyBytes.addingReportingOverflow(size)
                    if overflow || total > maxBodyBytes, request?.bodyTooLarge == false {
                        request?.bodyTooLarge = true
                        request?.body = ByteBuffer()
                    }
                    bodyBytes = overflow ? Int.max : total
                    state = .chunkData(remaining: size)
                }

            case .chunkData(let remaining):
                guard buffer.readableBytes > 0 else { return nil }
                let n = min(remaining, buffer.readableBytes)
                take(n, from: &buffer, whole: false)
                state = n < remaining ? .chunkData(remaining: remaining - n) : .chunkEnd

            case .chunkEnd:
                guard buffer.readableBytes >= 2 else { return nil }
                guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { return fail(.malformed("chunk data not followed by CRLF")) }
                state = .chunkSize(scanned: 0)

            case .trailers(let scanned):
                guard buffer.readableBytes >= 2 else { return nil }
                if scanned == 0, buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) == 0x0D0A {
                    buffer.moveReaderIndex(forwardBy: 2)
                    return finish()
                }
                guard let end = Self.find(crlfcrlf: buffer, from: scanned) else {
                    if buffer.readableBytes > maxHeaderBytes { return fail(.headerTooLarge) }
                    state = .trailers(scanned: max(1, buffer.readableBytes - 3))
                    return nil
                }
                if end + 4 > maxHeaderBytes { return fail(.headerTooLarge) }
                let valid = buffer.withUnsafeReadableBytes { Self.validTrailers(UnsafeRawBufferPointer(rebasing: $0[..<(end + 2)])) }
                guard valid else { return fail(.malformed("invalid trailer")) }
                buffer.moveReaderIndex(forwardBy: end + 4)
                return finish()
            }
        }
    }

    private mutating func fail(_ failure: Failure) -> Event {
        state = .failed
        request = nil
        return .failed(failure)
    }

    private mutating func finish() -> Event {
        state = .head(scanned: 0)
        let done = request!
        request = nil
        return .request(done)
    }

    /// Moves `n` body bytes off `buffer`: dropped when the body is too large, else kept (the
    /// slice itself, without a copy, when it is the whole body).
    private mutating func take(_ n: Int, from buffer: inout ByteBuffer, whole: Bool) {
        guard request!.bodyTooLarge == false else {
            buffer.moveReaderIndex(forwardBy: n)
            return
        }
        if whole, request!.body.readableBytes == 0 {
            request!.body = buffer.readSlice(length: n)!
        } else {
            var slice = buffer.readSlice(length: n)!
            request!.body.writeBuffer(&slice)
        }
    }

    // MARK: Bytes

    /// Offset (from the reader index) of the first CRLFCRLF at or after `from`.
    static func find(crlfcrlf buffer: ByteBuffer, from: Int) -> Int? {
        buffer.withUnsafeReadableBytes { p in
            guard p.count >= 4 else { return nil }
            var i = from
            while i + 3 < p.count {
                if p[i + 3] == 0x0A {
                    if p[i] == 0x0D, p[i + 1] == 0x0A, p[i + 2] == 0x0D { return i }
                    i += 1
                } else if p[i + 3] == 0x0D {
                    i += 1
                } else {
                    i += 4
                }
            }
            return nil
        }
    }

    /// Offset of the first CRLF at or after `from`.
    static func find(crlf buffer: ByteBuffer, from: Int) -> Int? {
        buffer.withUnsafeReadableBytes { p in
            var i = from
            while i + 1 < p.count {
                if p[i] == 0x0D, p[i + 1] == 0x0A { return i }
                i += 1
            }
            return nil
        }
    }

    struct Head {
        var method: String
        var target: String
        var keepAlive: Bool
        var errorType: String?
        var contentLength: Int
        var chunked: Bool
        var expectContinue: Bool
    }

    /// Token characters (RFC 9110, 5.6.2).
    private static let tchar: [Bool] = (0..<256).map { b in
        switch UInt8(b) {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): return true
        default: return "!#$%&'*+-.^_`|~".utf8.contains(UInt8(b))
        }
    }

    /// The head, each line ending in CRLF (the final empty line excluded).
    static func parseHead(_ p: UnsafeRawBufferPointer) -> Result<Head, Failure> {
        // Lines, and no bare CR or LF anywhere.
        var lines: [Range<Int>] = []
        var start = 0
        var i = 0
        while i < p.count {
            let b = p[i]
            if b == 0x0D {
                guard i + 1 < p.count, p[i + 1] == 0x0A else { return .failure(.malformed("bare CR in the head")) }
                lines.append(start..<i)
                i += 2
                start = i
            } else if b == 0x0A {
                return .failure(.malformed("bare LF in the head"))
            } else {
                i += 1
            }
        }
        guard let requestLine = lines.first else { return .failure(.malformed("no request line")) }

        // Request line: method SP target SP version.
        let rl = p[requestLine]
        guard let sp1 = rl.firstIndex(of: 0x20), let sp2 = rl[(sp1 + 1)...].firstIndex(of: 0x20) else {
            return .failure(.malformed("request line is not method, target and version"))
        }
        let methodBytes = p[requestLine.lowerBound..<sp1]
        let targetBytes = p[(sp1 + 1)..<sp2]
        let versionBytes = p[(sp2 + 1)..<requestLine.upperBound]
        guard !methodBytes.isEmpty, methodBytes.allSatisfy({ tchar[Int($0)] }) else { return .failure(.malformed("invalid method")) }
        guard !targetBytes.isEmpty, targetBytes.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else { return .failure(.malformed("invalid request target")) }
        let http11: Bool
        if versionBytes.elementsEqual("HTTP/1.1".utf8) {
            http11 = true
        } else if versionBytes.elementsEqual("HTTP/1.0".utf8) {
            http11 = false
        } else {
            return .failure(.malformed("unsupported HTTP version"))
        }

        var head = Head(
            method: String(decoding: methodBytes, as: UTF8.self), target: String(decoding: targetBytes, as: UTF8.self),
            keepAlive: http11, errorType: nil, contentLength: 0, chunked: false, expectContinue: false)
        var contentLength: Int?
        var sawTransferEncoding = false
        var close = false, keepAlive = false

        for line in lines.dropFirst() {
            guard !line.isEmpty, p[line.lowerBound] != 0x20, p[line.lowerBound] != 0x09 else {
                return .failure(.malformed("folded or empty header line"))
            }
            guard let colon = p[line].firstIndex(of: UInt8(ascii: ":")), colon > line.lowerBound else {
                return .failure(.malformed("header line without a name"))
            }
            let name = p[line.lowerBound..<colon]
            guard name.allSatisfy({ tchar[Int($0)] }) else { return .failure(.malformed("invalid header name")) }
            var vs = colon + 1, ve = line.upperBound
            while vs < ve, p[vs] == 0x20 || p[vs] == 0x09 { vs += 1 }
            while ve > vs, p[ve - 1] == 0x20 || p[ve - 1] == 0x09 { ve -= 1 }
            let value = p[vs..<ve]
            guard value.allSatisfy({ ($0 >= 0x20 && $0 != 0x7F) || $0 == 0x09 }) else {
                return .failure(.malformed("control character in header \(String(decoding: name, as: UTF8.self))"))
            }
            switch name.count {
            case 14 where equalsLowercased(name, "content-length"):
                guard !value.isEmpty, value.count <= 18, value.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
                    return .failure(.malformed("invalid Content-Length"))
                }
                let n = value.reduce(0) { $0 * 10 + Int($1 - 0x30) }
                if let contentLength, contentLength != n { return .failure(.malformed("conflicting Content-Length")) }
                contentLength = n
            case 17 where equalsLowercased(name, "transfer-encoding"):
                guard !sawTransferEncoding, equalsLowercased(value, "chunked") else {
                    return .failure(.malformed("unsupported Transfer-Encoding (only chunked)"))
                }
                sawTransferEncoding = true
            case 10 where equalsLowercased(name, "connection"):
                for token in value.split(separator: UInt8(ascii: ",")) {
                    var t = token[...]
                    while let f = t.first, f == 0x20 || f == 0x09 { t = t.dropFirst() }
                    while let l = t.last, l == 0x20 || l == 0x09 { t = t.dropLast() }
                    if equalsLowercased(t, "close") { close = true } else if equalsLowercased(t, "keep-alive") { keepAlive = true }
                }
            case 6 where equalsLowercased(name, "expect"):
                if http11, equalsLowercased(value, "100-continue") { head.expectContinue = true }
            case 34 where equalsLowercased(name, "lambda-runtime-function-error-type"):
                if head.errorType == nil { head.errorType = String(decoding: value, as: UTF8.self) }
            default:
                break
            }
        }
        if sawTransferEncoding, contentLength != nil { return .failure(.malformed("both Content-Length and Transfer-Encoding")) }
        head.chunked = sawTransferEncoding
        head.contentLength = contentLength ?? 0
        head.keepAlive = close ? false : (http11 || keepAlive)
        if !head.chunked, head.contentLength == 0 { head.expectContinue = false }
        return .success(head)
    }

    /// Whether `bytes`, ASCII lowercased, are `lower`.
    private static func equalsLowercased<C: Collection<UInt8>>(_ bytes: C, _ lower: StaticString) -> Bool {
        guard bytes.count == lower.utf8CodeUnitCount else { return false }
        return lower.withUTF8Buffer { l in
            var i = 0
            for b in bytes {
                let folded = (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b
                if folded != l[i] { return false }
                i += 1
            }
            return true
        }
    }

    /// A chunk-size line without its CRLF: hex digits, then nothing or extensions (`;…`).
    static func parseChunkSize(_ p: UnsafeRawBufferPointer) -> Int? {
        var size = 0
        var i = 0
        while i < p.count, let digit = hexValue(p[i]) {
            guard i < 15 else { return nil }
            size = size << 4 | digit
            i += 1
        }
        guard i > 0 else { return nil }
        while i < p.count, p[i] == 0x20 || p[i] == 0x09 { i += 1 }
        guard i == p.count || p[i] == UInt8(ascii: ";") else { return nil }
        // Extensions are ignored, but may not carry control characters.
        guard p[i...].allSatisfy({ ($0 >= 0x20 && $0 != 0x7F) || $0 == 0x09 }) else { return nil }
        return size
    }

    private static func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: return Int(b - 0x30)
        case 0x41...0x46: return Int(b - 0x41 + 10)
        case 0x61...0x66: return Int(b - 0x61 + 10)
        default: return nil
        }
    }

    /// Trailer lines (each ending in CRLF): `name: value`, no bare CR or LF, no folding.
    static func validTrailers(_ p: UnsafeRawBufferPointer) -> Bool {
        var start = 0
        var i = 0
        while i < p.count {
            if p[i] == 0x0D {
                guard i + 1 < p.count, p[i + 1] == 0x0A else { return false }
                let line = p[start..<i]
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > start,
                      p[start..<colon].allSatisfy({ tchar[Int($0)] }),
                      p[(colon + 1)..<i].allSatisfy({ ($0 >= 0x20 && $0 != 0x7F) || $0 == 0x09 })
                else { return false }
                i += 2
                start = i
            } else if p[i] == 0x0A {
                return false
            } else {
                i += 1
            }
        }
        return true
    }
}
