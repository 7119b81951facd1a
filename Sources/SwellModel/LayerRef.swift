import Foundation

/// A layer version a function uses: extracted under `/opt` of its instances, in list order,
/// later layers overriding earlier ones (as on Lambda). Layer versions are immutable and
/// their content is a code package (content-addressed by `sha256`).
public struct LayerRef: Sendable, Codable, Hashable, CustomStringConvertible {
    /// Most layers a function may list (Lambda's limit).
    public static let maxPerFunction = 5

    public var name: String
    public var version: Int
    /// The layer version's code package; empty until the server resolved the reference.
    public var sha256: String

    public init(name: String, version: Int, sha256: String = "") {
        self.name = name
        self.version = version
        self.sha256 = sha256
    }

    /// `NAME:VERSION`
    public var description: String { "\(name):\(version)" }

    /// `NAME:VERSION` or a layer version ARN (`arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION`).
    public static func parse(_ text: String) -> (namespace: String?, name: String, version: Int)? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 8, parts[0] == "arn", parts[2] == "lambda", parts[5] == "layer", Names.isFunctionName(parts[6]), let v = Int(parts[7]), v >= 1 {
            return (parts[4], parts[6], v)
        }
        if parts.count == 2, Names.isFunctionName(parts[0]), let v = Int(parts[1]), v >= 1 { return (nil, parts[0], v) }
        return nil
    }

    /// The name of the merged `/opt` tree of a list of layers: the same layers in the same
    /// order share it.
    public static func treeName(_ layers: [LayerRef]) -> String? {
        guard !layers.isEmpty else { return nil }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in layers.map(\.sha256).joined(separator: ",").utf8 {
            hash ^= UInt64(b)
            hash = hash &* 0x100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return "opt-" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
