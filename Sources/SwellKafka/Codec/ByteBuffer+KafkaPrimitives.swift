import NIOCore

// The Kafka protocol's primitive types (big-endian integers, int16-length strings,
// int32-length bytes and arrays, zigzag varints) over NIO's ByteBuffer.
// Readers throw `KafkaError.malformedMessage` instead of returning nil on short input.

extension ByteBuffer {
    // MARK: Fixed-width integers

    @inlinable
    mutating func readKafkaInteger<T: FixedWidthInteger>(as type: T.Type = T.self, _ what: @autoclosure () -> String = "integer") throws -> T {
        guard let value = readInteger(endianness: .big, as: T.self) else {
            throw KafkaError.malformedMessage("truncated \(what())")
        }
        return value
    }

    mutating func readKafkaInt8() throws -> Int8 { try readKafkaInteger(as: Int8.self, "int8") }
    mutating func readKafkaInt16() throws -> Int16 { try readKafkaInteger(as: Int16.self, "int16") }
    mutating func readKafkaInt32() throws -> Int32 { try readKafkaInteger(as: Int32.self, "int32") }
    mutating func readKafkaInt64() throws -> Int64 { try readKafkaInteger(as: Int64.self, "int64") }
    mutating func readKafkaBool() throws -> Bool { try readKafkaInt8() != 0 }

    mutating func writeKafkaInt8(_ value: Int8) { writeInteger(value, endianness: .big) }
    mutating func writeKafkaInt16(_ value: Int16) { writeInteger(value, endianness: .big) }
    mutating func writeKafkaInt32(_ value: Int32) { writeInteger(value, endianness: .big) }
    mutating func writeKafkaInt64(_ value: Int64) { writeInteger(value, endianness: .big) }
    mutating func writeKafkaBool(_ value: Bool) { writeInteger(value ? 1 : 0, as: Int8.self) }

    // MARK: Strings (INT16 length, -1 for null)

    mutating func readKafkaNullableString() throws -> String? {
        let length = try readKafkaInt16()
        if length == -1 { return nil }
        guard length >= 0 else { throw KafkaError.malformedMessage("negative string length \(length)") }
        guard let string = readString(length: Int(length)) else {
            throw KafkaError.malformedMessage("truncated string of \(length) bytes")
        }
        return string
    }

    mutating func readKafkaString() throws -> String {
        guard let string = try readKafkaNullableString() else {
            throw KafkaError.malformedMessage("null where a string is required")
        }
        return string
    }

    mutating func writeKafkaString(_ string: String) {
        writeKafkaInt16(Int16(truncatingIfNeeded: string.utf8.count))
        writeString(string)
    }

    mutating func writeKafkaNullableString(_ string: String?) {
        guard let string else {
            writeKafkaInt16(-1)
            return
        }
        writeKafkaString(string)
    }

    // MARK: Bytes (INT32 length, -1 for null)

    mutating func readKafkaNullableBytes() throws -> ByteBuffer? {
        let length = try readKafkaInt32()
        if length == -1 { return nil }
        guard length >= 0 else { throw KafkaError.malformedMessage("negative bytes length \(length)") }
        guard let bytes = readSlice(length: Int(length)) else {
            throw KafkaError.malformedMessage("truncated bytes field of \(length) bytes")
        }
        return bytes
    }

    mutating func writeKafkaNullableBytes(_ bytes: ByteBuffer?) {
        guard var bytes else {
            writeKafkaInt32(-1)
            return
        }
        writeKafkaInt32(Int32(bytes.readableBytes))
        writeBuffer(&bytes)
    }

    // MARK: Arrays (INT32 count, -1 for null)

    /// Reads an array; a null array reads as `nil`.
    mutating func readKafkaNullableArray<T>(_ element: (inout ByteBuffer) throws -> T) throws -> [T]? {
        let count = try readKafkaInt32()
        if count == -1 { return nil }
        guard count >= 0 else { throw KafkaError.malformedMessage("negative array length \(count)") }
        // Every element takes at least one byte: refuse counts the buffer cannot hold
        // before reserving memory for them.
        guard Int(count) <= readableBytes else {
            throw KafkaError.malformedMessage("array of \(count) elements in \(readableBytes) bytes")
        }
        var result: [T] = []
        result.reserveCapacity(Int(count))
        for _ in 0..<count { result.append(try element(&self)) }
        return result
    }

    /// Reads an array; a null array reads as empty.
    mutating func readKafkaArray<T>(_ element: (inout ByteBuffer) throws -> T) throws -> [T] {
        try readKafkaNullableArray(element) ?? []
    }

    mutating func writeKafkaArray<T>(_ elements: [T], _ element: (inout ByteBuffer, T) -> Void) {
        writeKafkaInt32(Int32(elements.count))
        for value in elements { element(&self, value) }
    }

    mutating func writeKafkaNullableArray<T>(_ elements: [T]?, _ element: (inout ByteBuffer, T) -> Void) {
        guard let elements else {
            writeKafkaInt32(-1)
            return
        }
        writeKafkaArray(elements, element)
    }

    // MARK: Varints (zigzag, as in record batch v2)

    /// Reads an unsigned LEB128 value of at most `maxBytes` bytes.
    mutating func readKafkaUnsignedVarint(maxBytes: Int) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        for index in 0..<maxBytes {
            guard let byte = readInteger(as: UInt8.self) else {
                throw KafkaError.malformedMessage("truncated varint")
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 {
                // The last byte of a 5-byte varint holds 4 significant bits, of a 10-byte one 1 bit.
                if index == maxBytes - 1 {
                    let usedBits = maxBytes == 5 ? 4 : 1
                    guard byte >> usedBits == 0 else { throw KafkaError.malformedMessage("varint overflow") }
                }
                return result
            }
            shift += 7
        }
        throw KafkaError.malformedMessage("varint longer than \(maxBytes) bytes")
    }

    /// Reads a zigzag-encoded signed 32-bit varint.
    mutating func readKafkaVarint() throws -> Int32 {
        let raw = UInt32(truncatingIfNeeded: try readKafkaUnsignedVarint(maxBytes: 5))
        return Int32(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    /// Reads a zigzag-encoded signed 64-bit varlong.
    mutating func readKafkaVarlong() throws -> Int64 {
        let raw = try readKafkaUnsignedVarint(maxBytes: 10)
        return Int64(bitPattern: (raw >> 1) ^ (0 &- (raw & 1)))
    }

    mutating func writeKafkaUnsignedVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        writeInteger(UInt8(value))
    }

    mutating func writeKafkaVarint(_ value: Int32) {
        let zigzag = UInt32(bitPattern: (value << 1) ^ (value >> 31))
        writeKafkaUnsignedVarint(UInt64(zigzag))
    }

    mutating func writeKafkaVarlong(_ value: Int64) {
        let zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        writeKafkaUnsignedVarint(zigzag)
    }

    /// Reads varint-length bytes (-1 for null), as record keys, values and headers use.
    mutating func readKafkaVarintBytes() throws -> ByteBuffer? {
        let length = try readKafkaVarint()
        if length == -1 { return nil }
        guard length >= 0 else { throw KafkaError.malformedMessage("negative varint length \(length)") }
        guard let bytes = readSlice(length: Int(length)) else {
            throw KafkaError.malformedMessage("truncated record field of \(length) bytes")
        }
        return bytes
    }

    mutating func writeKafkaVarintBytes(_ bytes: ByteBuffer?) {
        guard var bytes else {
            writeKafkaVarint(-1)
            return
        }
        writeKafkaVarint(Int32(bytes.readableBytes))
        writeBuffer(&bytes)
    }

    /// Number of bytes `writeKafkaVarint` would write.
    static func kafkaVarintSize(_ value: Int64) -> Int {
        var zigzag = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        var size = 1
        while zigzag >= 0x80 {
            zigzag >>= 7
            size += 1
        }
        return size
    }
}
