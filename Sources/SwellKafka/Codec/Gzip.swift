import CSwellZlib

/// gzip for record batches, through the system zlib.
enum Gzip {
    /// Inflates a gzip stream (several concatenated members are allowed; a bare zlib
    /// stream is accepted too). Fails when the output would exceed `limit` bytes.
    static func decompress(_ input: [UInt8], limit: Int) throws -> [UInt8] {
        var stream = z_stream()
        // 15 + 32: maximal window, detect gzip or zlib headers automatically.
        var status = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw KafkaError.compressionFailed("inflateInit2 failed (\(status))") }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: max(4096, min(input.count * 4, 1 << 20)))
        try input.withUnsafeBufferPointer { inputPointer in
            stream.next_in = UnsafeMutablePointer(mutating: inputPointer.baseAddress)
            stream.avail_in = UInt32(inputPointer.count)
            while true {
                let produced: Int = chunk.withUnsafeMutableBufferPointer { chunkPointer in
                    stream.next_out = chunkPointer.baseAddress
                    stream.avail_out = UInt32(chunkPointer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return chunkPointer.count - Int(stream.avail_out)
                }
                output.append(contentsOf: chunk[0..<produced])
                guard output.count <= limit else {
                    throw KafkaError.compressionFailed("decompressed data exceeds \(limit) bytes")
                }
                switch status {
                case Z_STREAM_END:
                    // Another gzip member may follow.
                    if stream.avail_in == 0 { return }
                    guard inflateReset(&stream) == Z_OK else {
                        throw KafkaError.compressionFailed("inflateReset failed")
                    }
                case Z_OK:
                    continue
                case Z_BUF_ERROR where stream.avail_in == 0:
                    throw KafkaError.compressionFailed("truncated gzip stream")
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                    throw KafkaError.compressionFailed("inflate: \(message)")
                }
            }
        }
        return output
    }

    /// Deflates `input` into one gzip member.
    static func compress(_ input: [UInt8], level: Int32 = Z_DEFAULT_COMPRESSION) throws -> [UInt8] {
        var stream = z_stream()
        // 15 + 16: maximal window with a gzip header and trailer.
        var status = deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                                   ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else { throw KafkaError.compressionFailed("deflateInit2 failed (\(status))") }
        defer { deflateEnd(&stream) }

        let bound = Int(deflateBound(&stream, UInt(input.count)))
        var output = [UInt8](repeating: 0, count: bound)
        var input = input
        let written: Int = input.withUnsafeMutableBufferPointer { inputPointer in
            output.withUnsafeMutableBufferPointer { outputPointer in
                stream.next_in = inputPointer.baseAddress
                stream.avail_in = UInt32(inputPointer.count)
                stream.next_out = outputPointer.baseAddress
                stream.avail_out = UInt32(outputPointer.count)
                status = deflate(&stream, Z_FINISH)
                return outputPointer.count - Int(stream.avail_out)
            }
        }
        guard status == Z_STREAM_END else { throw KafkaError.compressionFailed("deflate failed (\(status))") }
        output.removeSubrange(written...)
        return output
    }
}
