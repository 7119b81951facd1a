/// An alias: a name pointing at one published version, optionally sending a weighted
/// share of invocations to a second version (canary routing).
public struct AliasConfig: Sendable, Codable, Hashable {
    public var version: Int
    /// Version number → share of invocations in (0, 1). At most one entry.
    public var additionalVersionWeights: [Int: Double]
    public var description: String

    public init(version: Int, additionalVersionWeights: [Int: Double] = [:], description: String = "") {
        self.version = version
        self.additionalVersionWeights = additionalVersionWeights
        self.description = description
    }

    /// Parses an alias body: `{"version": "1", "additionalVersionWeights": {"2": 0.1}}`.
    public static func parse(_ value: ConfigValue) throws(SwellError) -> AliasConfig {
        let r = try FieldReader(value, path: "")
        try r.rejectUnknown(["version", "additionalVersionWeights", "description"])
        guard let version = try r.int("version", range: 1...Int(Int32.max)) else {
            throw SwellError.invalid("version", "is required (a published version number)")
        }
        var weights: [Int: Double] = [:]
        if let w = try r.object("additionalVersionWeights") {
            for (key, _) in w.entries() {
                let field = w.field(key)
                guard let v = Int(key), v >= 1 else { throw SwellError.invalid(field, "must be keyed by a version number") }
                guard v != version else { throw SwellError.invalid(field, "must differ from the alias's main version \(version)") }
                guard let weight = try w.number(key), weight > 0, weight < 1 else {
                    throw SwellError.invalid(field, "must be a weight strictly between 0 and 1")
                }
                weights[v] = weight
            }
            guard weights.count <= 1 else {
                throw SwellError.invalid(w.path, "may name at most one additional version")
            }
        }
        let description = try r.string("description") ?? ""
        return AliasConfig(version: version, additionalVersionWeights: weights, description: description)
    }

    /// Picks the version for one invocation from a uniform random number in [0, 1).
    public func pick(_ random: Double) -> Int {
        var threshold = 0.0
        for (v, w) in additionalVersionWeights.sorted(by: { $0.key < $1.key }) {
            threshold += w
            if random < threshold { return v }
        }
        return version
    }
}
