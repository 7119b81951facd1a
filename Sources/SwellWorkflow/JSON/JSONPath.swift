/// A JSONPath as the States Language uses it in `InputPath`, `OutputPath`, `ItemsPath`,
/// `.$` fields, and (restricted to a Reference Path) in `ResultPath`, `Variable` and the
/// `…Path` fields.
///
/// `$` is the state's input, `$$` the context object. Supported: `.name`, `['name']`,
/// `[n]` (negative from the end), `[*]`/`.*`, `[a,b]`, `[start:end:step]`, `..name`/`..*`,
/// and filters `[?(@.x < 10 && @.y == 'a')]` with `== != < <= > >=`, `&&`, `||`, `!`
/// and existence tests. A path without wildcards, unions, slices, filters or recursion is
/// *definite*: it selects one node or fails. An indefinite path selects a list (possibly empty).
public struct JSONPath: Sendable, Hashable, CustomStringConvertible {
    public enum Root: Sendable, Hashable { case input, context }

    public let root: Root
    let segments: [Segment]
    /// The path as written.
    public let text: String

    public var description: String { text }

    indirect enum Segment: Sendable, Hashable {
        case member(String)
        case index(Int)
        case wildcard
        case union([UnionItem])
        case slice(start: Int?, end: Int?, step: Int?)
        case descendant(Segment)
        case filter(FilterExpression)
    }

    enum UnionItem: Sendable, Hashable {
        case member(String)
        case index(Int)
    }

    /// Selects exactly one node: only members and non-negative indexes.
    public var isReferencePath: Bool {
        segments.allSatisfy {
            switch $0 {
            case .member: true
            case .index(let i): i >= 0
            default: false
            }
        }
    }

    /// True when the path selects at most one node.
    public var isDefinite: Bool {
        segments.allSatisfy {
            switch $0 {
            case .member, .index: true
            default: false
            }
        }
    }

    /// Parses `text`; throws with what is wrong.
    public init(_ text: String) throws(JSONPathError) {
        var parser = JSONPathParser(text: text)
        let (root, segments) = try parser.parsePath()
        self.root = root
        self.segments = segments
        self.text = text
    }

    /// The node a definite path selects, or a list of the nodes an indefinite one selects.
    /// - Returns: nil when a definite path does not exist in `value`.
    public func select(in value: JSON, context: JSON = .null) -> JSON? {
        let start = root == .input ? value : context
        if isDefinite {
            var current = start
            for segment in segments {
                switch segment {
                case .member(let name):
                    guard let next = current[name] else { return nil }
                    current = next
                case .index(let i):
                    guard case .array(let a) = current else { return nil }
                    let k = i < 0 ? a.count + i : i
                    guard a.indices.contains(k) else { return nil }
                    current = a[k]
                default: return nil
                }
            }
            return current
        }
        var nodes = [start]
        for segment in segments {
            nodes = nodes.flatMap { JSONPath.apply(segment, to: $0, root: start) }
        }
        return .array(nodes)
    }

    static func apply(_ segment: Segment, to node: JSON, root: JSON) -> [JSON] {
        switch segment {
        case .member(let name):
            return node[name].map { [$0] } ?? []
        case .index(let i):
            guard case .array(let a) = node else { return [] }
            let k = i < 0 ? a.count + i : i
            return a.indices.contains(k) ? [a[k]] : []
        case .wildcard:
            switch node {
            case .array(let a): return a
            case .object(let o): return o.map(\.value)
            default: return []
            }
        case .union(let items):
            return items.flatMap { item -> [JSON] in
                switch item {
                case .member(let name): apply(.member(name), to: node, root: root)
                case .index(let i): apply(.index(i), to: node, root: root)
                }
            }
        case .slice(let start, let end, let step):
            guard case .array(let a) = node else { return [] }
            let n = a.count
            let step = step ?? 1
            guard step > 0 else { return [] }
            func clamp(_ v: Int?, _ def: Int) -> Int {
                guard let v else { return def }
                return v < 0 ? max(0, n + v) : min(v, n)
            }
            var out: [JSON] = []
            var i = clamp(start, 0)
            let e = clamp(end, n)
            while i < e {
                out.append(a[i])
                let (next, overflow) = i.addingReportingOverflow(step)
                if overflow { break }
                i = next
            }
            return out
        case .descendant(let inner):
            var out: [JSON] = []
            func walk(_ v: JSON) {
                out.append(contentsOf: apply(inner, to: v, root: root))
                switch v {
                case .array(let a): a.forEach(walk)
                case .object(let o): o.forEach { walk($0.value) }
                default: break
                }
            }
            walk(node)
            return out
        case .filter(let expression):
            let candidates: [JSON]
            switch node {
            case .array(let a): candidates = a
            case .object(let o): candidates = o.map(\.value)
            default: candidates = []
            }
            return candidates.filter { expression.test($0, root: root) }
        }
    }

    // MARK: Writing (ResultPath)

    /// A copy of `target` with `value` placed at this Reference Path, creating missing
    /// object members on the way. Throws when the way passes through a value that is not
    /// an object (or an array index that does not exist).
    public func setting(_ value: JSON, in target: JSON) throws(JSONPathError) -> JSON {
        try JSONPath.set(value, in: target, segments: segments[...], path: text)
    }

    private static func set(_ value: JSON, in target: JSON, segments: ArraySlice<Segment>, path: String) throws(JSONPathError) -> JSON {
        guard let first = segments.first else { return value }
        let rest = segments.dropFirst()
        switch first {
        case .member(let name):
            var object: JSONObject
            switch target {
            case .object(let o): object = o
            default:
                throw JSONPathError("cannot set \(path): the value at \"\(name)\"'s parent is \(target.kind.rawValue), not an object")
            }
            let child = object[name] ?? .object(JSONObject())
            object[name] = try set(value, in: child, segments: rest, path: path)
            return .object(object)
        case .index(let i):
            guard case .array(var array) = target, array.indices.contains(i) else {
                throw JSONPathError("cannot set \(path): no array element [\(i)]")
            }
            array[i] = try set(value, in: array[i], segments: rest, path: path)
            return .array(array)
        default:
            throw JSONPathError("\(path) is not a reference path")
        }
    }
}

/// A path that cannot be parsed, or a write through a path that cannot be done.
public struct JSONPathError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

// MARK: - Filters

/// The expression of a `[?( … )]` filter, evaluated against each candidate (`@`).
indirect enum FilterExpression: Sendable, Hashable {
    case and(FilterExpression, FilterExpression)
    case or(FilterExpression, FilterExpression)
    case not(FilterExpression)
    case exists(FilterOperand)
    case compare(FilterOperand, Comparison, FilterOperand)

    enum Comparison: String, Sendable, Hashable { case eq = "==", ne = "!=", lt = "<", le = "<=", gt = ">", ge = ">=" }

    func test(_ candidate: JSON, root: JSON) -> Bool {
        switch self {
        case .and(let a, let b): return a.test(candidate, root: root) && b.test(candidate, root: root)
        case .or(let a, let b): return a.test(candidate, root: root) || b.test(candidate, root: root)
        case .not(let a): return !a.test(candidate, root: root)
        case .exists(let operand):
            guard let v = operand.value(candidate, root: root) else { return false }
            if case .bool(let b) = v, case .literal = operand { return b }
            return true
        case .compare(let lhs, let op, let rhs):
            guard let a = lhs.value(candidate, root: root), let b = rhs.value(candidate, root: root) else { return false }
            switch op {
            case .eq: return a == b
            case .ne: return a != b
            default:
                let order: Int
                switch (a, b) {
                case (.number(let x), .number(let y)): order = JSONNumber.compare(x, y)
                case (.string(let x), .string(let y)): order = x < y ? -1 : (x == y ? 0 : 1)
                default: return false
                }
                switch op {
                case .lt: return order < 0
                case .le: return order <= 0
                case .gt: return order > 0
                default: return order >= 0
                }
            }
        }
    }
}

enum FilterOperand: Sendable, Hashable {
    case current([JSONPath.Segment])
    case root([JSONPath.Segment])
    case literal(JSON)

    func value(_ candidate: JSON, root: JSON) -> JSON? {
        switch self {
        case .literal(let v): return v
        case .current(let segments), .root(let segments):
            var node: JSON
            if case .current = self { node = candidate } else { node = root }
            for segment in segments {
                let next = JSONPath.apply(segment, to: node, root: root)
                guard next.count == 1 else { return nil }
                node = next[0]
            }
            return node
        }
    }
}

// MARK: - Parser

struct JSONPathParser {
    let chars: [Character]
    let text: String
    var i = 0
    var depth = 0

    init(text: String) {
        self.text = text
        self.chars = Array(text)
    }

    func fail(_ what: String) -> JSONPathError {
        JSONPathError("invalid path \"\(text)\": \(what)")
    }

    var atEnd: Bool { i >= chars.count }
    func peek(_ offset: Int = 0) -> Character? { i + offset < chars.count ? chars[i + offset] : nil }

    mutating func parsePath() throws(JSONPathError) -> (JSONPath.Root, [JSONPath.Segment]) {
        guard peek() == "$" else { throw fail("must begin with $") }
        i += 1
        var root = JSONPath.Root.input
        if peek() == "$" {
            root = .context
            i += 1
        }
        let segments = try parseSegments(stopAt: nil)
        guard atEnd else { throw fail("unexpected \"\(chars[i])\"") }
        return (root, segments)
    }

    /// Segments until the end, or until a character in `stopAt` (inside filters).
    mutating func parseSegments(stopAt: Set<Character>?) throws(JSONPathError) -> [JSONPath.Segment] {
        var segments: [JSONPath.Segment] = []
        while let c = peek() {
            if let stopAt, stopAt.contains(c) { break }
            if c == "." {
                if peek(1) == "." {
                    i += 2
                    if peek() == "[" {
                        segments.append(.descendant(try parseBracket()))
                    } else if peek() == "*" {
                        i += 1
                        segments.append(.descendant(.wildcard))
                    } else {
                        segments.append(.descendant(.member(try parseName(stopAt: stopAt))))
                    }
                } else {
                    i += 1
                    if peek() == "*" {
                        i += 1
                        segments.append(.wildcard)
                    } else {
                        segments.append(.member(try parseName(stopAt: stopAt)))
                    }
                }
            } else if c == "[" {
                segments.append(try parseBracket())
            } else if stopAt != nil {
                break
            } else {
                throw fail("expected '.' or '[' at position \(i)")
            }
        }
        return segments
    }

    mutating func parseName(stopAt: Set<Character>?) throws(JSONPathError) -> String {
        var name = ""
        while let c = peek(), c != ".", c != "[" {
            if let stopAt, stopAt.contains(c) || c == " " || "=!<>&|)".contains(c) { break }
            name.append(c)
            i += 1
        }
        guard !name.isEmpty else { throw fail("empty member name at position \(i)") }
        return name
    }

    mutating func skipSpaces() {
        while peek() == " " { i += 1 }
    }

    mutating func parseBracket() throws(JSONPathError) -> JSONPath.Segment {
        i += 1  // [
        skipSpaces()
        guard let c = peek() else { throw fail("unterminated [") }
        let segment: JSONPath.Segment
        if c == "*" {
            i += 1
            segment = .wildcard
        } else if c == "?" {
            i += 1
            skipSpaces()
            guard peek() == "(" else { throw fail("expected ( after ?") }
            i += 1
            let expression = try parseOr()
            skipSpaces()
            guard peek() == ")" else { throw fail("expected ) to close the filter") }
            i += 1
            segment = .filter(expression)
        } else {
            // Elements separated by ',' (a union) or ':' (a slice); an element may be empty in a slice.
            var elements: [JSONPath.UnionItem?] = []
            var separator: Character? = nil
            while true {
                skipSpaces()
                if peek() == "'" || peek() == "\"" {
                    elements.append(.member(try parseQuoted()))
                } else if let n = parseInt() {
                    elements.append(.index(n))
                } else {
                    elements.append(nil)
                }
                skipSpaces()
                guard let c = peek(), c == "," || c == ":" else { break }
                if let separator, separator != c { throw fail("cannot mix ',' and ':' in brackets") }
                separator = c
                i += 1
            }
            if separator == ":" {
                guard elements.count <= 3 else { throw fail("a slice has at most three parts") }
                var parts: [Int?] = []
                for element in elements {
                    switch element {
                    case nil: parts.append(nil)
                    case .index(let n): parts.append(n)
                    case .member: throw fail("a slice takes numbers")
                    }
                }
                while parts.count < 3 { parts.append(nil) }
                segment = .slice(start: parts[0], end: parts[1], step: parts[2])
            } else {
                var items: [JSONPath.UnionItem] = []
                for element in elements {
                    guard let element else { throw fail("empty element in brackets") }
                    items.append(element)
                }
                if items.count == 1 {
                    switch items[0] {
                    case .member(let name): segment = .member(name)
                    case .index(let n): segment = .index(n)
                    }
                } else {
                    segment = .union(items)
                }
            }
        }
        skipSpaces()
        guard peek() == "]" else { throw fail("expected ]") }
        i += 1
        return segment
    }

    mutating func parseInt() -> Int? {
        var j = i
        var digits = ""
        if j < chars.count, chars[j] == "-" {
            digits.append("-")
            j += 1
        }
        while j < chars.count, chars[j].isASCII, chars[j].isNumber {
            digits.append(chars[j])
            j += 1
        }
        guard let n = Int(digits) else { return nil }
        i = j
        return n
    }

    mutating func parseQuoted() throws(JSONPathError) -> String {
        let quote = chars[i]
        i += 1
        var s = ""
        while let c = peek() {
            i += 1
            if c == "\\", let next = peek() {
                s.append(next)
                i += 1
            } else if c == quote {
                return s
            } else {
                s.append(c)
            }
        }
        throw fail("unterminated quoted name")
    }

    // Filter expressions.

    mutating func parseOr() throws(JSONPathError) -> FilterExpression {
        var left = try parseAnd()
        while true {
            skipSpaces()
            guard peek() == "|", peek(1) == "|" else { return left }
            i += 2
            left = .or(left, try parseAnd())
        }
    }

    mutating func parseAnd() throws(JSONPathError) -> FilterExpression {
        var left = try parseUnary()
        while true {
            skipSpaces()
            guard peek() == "&", peek(1) == "&" else { return left }
            i += 2
            left = .and(left, try parseUnary())
        }
    }

    mutating func parseUnary() throws(JSONPathError) -> FilterExpression {
        depth += 1
        defer { depth -= 1 }
        guard depth <= 64 else { throw fail("filter nested too deeply") }
        skipSpaces()
        if peek() == "!", peek(1) != "=" {
            i += 1
            return .not(try parseUnary())
        }
        if peek() == "(" {
            i += 1
            let inner = try parseOr()
            skipSpaces()
            guard peek() == ")" else { throw fail("expected )") }
            i += 1
            return inner
        }
        let lhs = try parseOperand()
        skipSpaces()
        for op in ["==", "!=", "<=", ">=", "<", ">"] {
            let opChars = Array(op)
            if peek() == opChars[0], opChars.count == 1 || peek(1) == opChars[1] {
                i += opChars.count
                let rhs = try parseOperand()
                return .compare(lhs, FilterExpression.Comparison(rawValue: op)!, rhs)
            }
        }
        return .exists(lhs)
    }

    mutating func parseOperand() throws(JSONPathError) -> FilterOperand {
        skipSpaces()
        guard let c = peek() else { throw fail("unexpected end in filter") }
        let stops: Set<Character> = [")", " ", "=", "!", "<", ">", "&", "|"]
        switch c {
        case "@":
            i += 1
            return .current(try parseSegments(stopAt: stops))
        case "$":
            i += 1
            return .root(try parseSegments(stopAt: stops))
        case "'", "\"":
            return .literal(.string(try parseQuoted()))
        default:
            var word = ""
            while let c = peek(), !stops.contains(c) {
                word.append(c)
                i += 1
            }
            guard let v = JSON.scalarLiteral(word) else { throw fail("invalid literal \"\(word)\" in filter") }
            return .literal(v)
        }
    }
}
