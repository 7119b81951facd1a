/// The uids functions run under when Swell is root: one per function (namespace/name),
/// allocated once from a range, stored durably and never derived from the name, so two
/// functions can never share one (a hash of the name could be searched for a collision).
/// The gid of a function is the same number.
public struct UIDRange: Sendable, Hashable {
    public var first: UInt32
    public var count: UInt32

    public init(first: UInt32 = 200_000, count: UInt32 = 1_000_000) {
        self.first = first
        self.count = count
    }

    public static let standard = UIDRange()

    public func contains(_ uid: UInt32) -> Bool { uid >= first && uid - first < count }

    /// The uid the next function gets, given the highest uid already handed out in this
    /// range (nil: none yet). uids are never reused, so a deleted function's leftovers can
    /// never be reached by a later function. - Returns: nil when the range is used up.
    public func next(afterHighest highest: UInt32?) -> UInt32? {
        guard let highest, contains(highest) else { return first }
        let candidate = highest + 1
        return contains(candidate) ? candidate : nil
    }
}

/// Why a uid could not be given to a function.
public enum IdentityError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Every uid of the range has been handed out.
    case exhausted(UIDRange)
    /// The function has no uid yet (it was never deployed through this server).
    case unassigned(namespace: String, name: String)

    public var description: String {
        switch self {
        case .exhausted(let r): "all \(r.count) function uids from \(r.first) are in use"
        case .unassigned(let ns, let name): "function \(ns)/\(name) has no uid assigned"
        }
    }
}
