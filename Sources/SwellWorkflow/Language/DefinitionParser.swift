/// One static fault of a definition: where (a dotted path such as `States.Grade.Next`) and what.
public struct DefinitionFault: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    /// `States.Grade.Next: no state named "Grad"`.
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// A definition that is not valid, with every fault found (not only the first).
public struct DefinitionError: Error, Sendable, Equatable, CustomStringConvertible {
    public var faults: [DefinitionFault]

    public var description: String { faults.map(\.description).joined(separator: "\n") }
}

extension StateMachine {
    /// Reads and validates a definition in JSON.
    /// - Throws: `DefinitionError` listing every fault with its path.
    public init(parsing text: String) throws(DefinitionError) {
        let value: JSON
        do {
            value = try JSON(parsing: text)
        } catch {
            throw DefinitionError(faults: [DefinitionFault("", "the definition is not valid JSON: \(error)")])
        }
        try self.init(json: value)
    }

    /// Validates a definition already read into a JSON value (e.g. from YAML).
    public init(json: JSON) throws(DefinitionError) {
        var reader = DefinitionReader()
        let machine = reader.machine(json, at: "", kind: .top)
        guard reader.faults.isEmpty, let machine else { throw DefinitionError(faults: reader.faults) }
        self = machine
    }
}

struct DefinitionReader {
    var faults: [DefinitionFault] = []

    enum MachineKind { case top, branch, processor }

    mutating func fault(_ path: String, _ message: String) {
        faults.append(DefinitionFault(path, message))
    }

    func join(_ prefix: String, _ field: String) -> String {
        prefix.isEmpty ? field : "\(prefix).\(field)"
    }

    static let unsupported: [String: String] = [
        "Assign": "workflow variables (Assign) are not supported",
        "Arguments": "JSONata (Arguments) is not supported; use Parameters",
        "Output": "JSONata (Output) is not supported; use OutputPath/ResultSelector",
        "QueryLanguage": "only the JSONPath query language is supported",
        "ItemReader": "distributed Map (ItemReader) is not supported",
        "ItemBatcher": "distributed Map (ItemBatcher) is not supported",
        "ResultWriter": "distributed Map (ResultWriter) is not supported",
        "Credentials": "cross-account Credentials are not supported",
    ]

    mutating func machine(_ value: JSON, at prefix: String, kind: MachineKind) -> StateMachine? {
        guard case .object(let object) = value else {
            fault(prefix, "must be an object with StartAt and States")
            return nil
        }
        var allowed: Set<String> = ["Comment", "StartAt", "States"]
        switch kind {
        case .top: allowed.formUnion(["Version", "TimeoutSeconds", "QueryLanguage"])
        case .branch: break
        case .processor: allowed.insert("ProcessorConfig")
        }
        for key in object.keys where !allowed.contains(key) {
            fault(join(prefix, key), "unknown field")
        }
        if case .string(let language)? = object["QueryLanguage"], language != "JSONPath" {
            fault(join(prefix, "QueryLanguage"), "only the JSONPath query language is supported")
        }
        if let config = object["ProcessorConfig"] {
            if case .object(let c) = config {
                if let mode = c["Mode"], mode != "INLINE" {
                    fault(join(prefix, "ProcessorConfig.Mode"), "only INLINE is supported (distributed Map is not)")
                }
                for key in c.keys where key != "Mode" && key != "ExecutionType" {
                    fault(join(prefix, "ProcessorConfig.\(key)"), "unknown field")
                }
            } else {
                fault(join(prefix, "ProcessorConfig"), "must be an object")
            }
        }
        let comment = string(object, "Comment", prefix)
        let timeout = object["TimeoutSeconds"] != nil ? integer(object, "TimeoutSeconds", prefix, minimum: 1) : nil
        let startAt = string(object, "StartAt", prefix, required: true)
        guard case .object(let statesObject)? = object["States"] else {
            fault(join(prefix, "States"), object["States"] == nil ? "is required" : "must be an object of states")
            return nil
        }
        if statesObject.isEmpty { fault(join(prefix, "States"), "must hold at least one state") }
        var states: [String: State] = [:]
        for (name, stateValue) in statesObject {
            let path = join(prefix, "States.\(name)")
            if name.isEmpty || name.count > 80 { fault(path, "a state name must be 1 to 80 characters") }
            if let state = self.state(name, stateValue, at: path) { states[name] = state }
        }
        guard let startAt else { return nil }
        if statesObject[startAt] == nil {
            fault(join(prefix, "StartAt"), "no state named \"\(startAt)\"")
        }
        // Every target must exist in this machine (not in an enclosing or nested one).
        for name in statesObject.keys {
            guard let state = states[name] else { continue }
            let path = join(prefix, "States.\(name)")
            for (field, target) in targets(of: state) where statesObject[target] == nil {
                fault("\(path).\(field)", "no state named \"\(target)\"")
            }
        }
        // Every state must be reachable from StartAt.
        if statesObject[startAt] != nil {
            var seen: Set<String> = [startAt]
            var queue = [startAt]
            while let name = queue.popLast() {
                guard let state = states[name] else { continue }
                for (_, target) in targets(of: state) where statesObject[target] != nil && seen.insert(target).inserted {
                    queue.append(target)
                }
            }
            for name in statesObject.keys where !seen.contains(name) && states[name] != nil {
                fault(join(prefix, "States.\(name)"), "state is not reachable from StartAt")
            }
        }
        return StateMachine(comment: comment, startAt: startAt, states: states, stateNames: statesObject.keys, timeoutSeconds: timeout)
    }

    /// The transitions out of a state, each with the field that names it.
    func targets(of state: State) -> [(String, String)] {
        var out: [(String, String)] = []
        if case .next(let n)? = state.transition { out.append(("Next", n)) }
        if case .choice(let choices, let defaultNext) = state.body {
            for (i, choice) in choices.enumerated() { out.append(("Choices[\(i)].Next", choice.next)) }
            if let defaultNext { out.append(("Default", defaultNext)) }
        }
        for (i, catcher) in state.catchers.enumerated() { out.append(("Catch[\(i)].Next", catcher.next)) }
        return out
    }

    // MARK: States

    static let fields: [String: Set<String>] = [
        "Pass": ["InputPath", "OutputPath", "ResultPath", "Parameters", "Result", "Next", "End"],
        "Task": [
            "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch", "Next", "End",
            "Resource", "TimeoutSeconds", "TimeoutSecondsPath", "HeartbeatSeconds", "HeartbeatSecondsPath",
        ],
        "Choice": ["InputPath", "OutputPath", "Choices", "Default"],
        "Wait": ["InputPath", "OutputPath", "Next", "End", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"],
        "Succeed": ["InputPath", "OutputPath"],
        "Fail": ["Error", "ErrorPath", "Cause", "CausePath"],
        "Parallel": ["InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch", "Next", "End", "Branches"],
        "Map": [
            "InputPath", "OutputPath", "ResultPath", "Parameters", "ItemSelector", "ResultSelector", "Retry", "Catch", "Next", "End",
            "ItemsPath", "ItemProcessor", "Iterator", "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath", "Label",
        ],
    ]

    mutating func state(_ name: String, _ value: JSON, at path: String) -> State? {
        guard case .object(let o) = value else {
            fault(path, "a state must be an object")
            return nil
        }
        guard let type = string(o, "Type", path, required: true) else { return nil }
        guard let allowed = DefinitionReader.fields[type] else {
            fault("\(path).Type", "unknown state type \"\(type)\" (Pass, Task, Choice, Wait, Succeed, Fail, Parallel or Map)")
            return nil
        }
        for key in o.keys where key != "Type" && key != "Comment" && !allowed.contains(key) {
            if let reason = DefinitionReader.unsupported[key] {
                fault("\(path).\(key)", reason)
            } else {
                fault("\(path).\(key)", "field not allowed in a \(type) state")
            }
        }
        var state = State(
            name: name, comment: string(o, "Comment", path),
            inputPath: optionalPath(o, "InputPath", path), outputPath: optionalPath(o, "OutputPath", path),
            resultPath: optionalPath(o, "ResultPath", path, reference: true),
            parameters: type == "Map" ? nil : o["Parameters"].map { template($0, at: "\(path).Parameters") },  // a Map's Parameters is its legacy ItemSelector
            resultSelector: o["ResultSelector"].map { template($0, at: "\(path).ResultSelector") },
            transition: nil, retry: [], catchers: [], body: .succeed)
        if allowed.contains("Next") {
            state.transition = transition(o, path)
        }
        if allowed.contains("Retry") {
            state.retry = retriers(o["Retry"], at: "\(path).Retry")
            state.catchers = catchers(o["Catch"], at: "\(path).Catch")
        }
        switch type {
        case "Pass":
            state.body = .pass(result: o["Result"])
        case "Task":
            state.body = .task(taskSpec(o, path))
        case "Choice":
            state.body = choiceBody(o, path)
        case "Wait":
            state.body = .wait(waitSpec(o, path) ?? .seconds(0))
        case "Succeed":
            state.body = .succeed
        case "Fail":
            state.body = .fail(error: source(o, "Error", path, kind: .string), cause: source(o, "Cause", path, kind: .string))
        case "Parallel":
            var branches: [StateMachine] = []
            if case .array(let list)? = o["Branches"], !list.isEmpty {
                for (i, b) in list.enumerated() {
                    if let m = machine(b, at: "\(path).Branches[\(i)]", kind: .branch) { branches.append(m) }
                }
            } else {
                fault("\(path).Branches", o["Branches"] == nil ? "is required" : "must be a non-empty array of state machines")
            }
            state.body = .parallel(branches: branches)
        case "Map":
            if let spec = mapSpec(o, path) { state.body = .map(spec) }
        default:
            break
        }
        return state
    }

    mutating func transition(_ o: JSONObject, _ path: String) -> State.Transition? {
        let next = string(o, "Next", path)
        var end = false
        if let e = o["End"] {
            if case .bool(let b) = e { end = b } else { fault("\(path).End", "must be true or false") }
        }
        switch (next, end) {
        case (let n?, false): return .next(n)
        case (nil, true): return .end
        case (_?, true):
            fault("\(path).End", "a state with Next cannot also be End")
            return nil
        case (nil, false):
            if o["Next"] == nil { fault(path, "needs Next or \"End\": true") }
            return nil
        }
    }

    mutating func taskSpec(_ o: JSONObject, _ path: String) -> TaskSpec {
        var resource = TaskResource.function(FunctionReference(name: "-"))
        if let text = string(o, "Resource", path, required: true) {
            if let r = TaskResource.parse(text) {
                resource = r
                if case .lambdaInvoke = r {
                    if case .object(let p)? = o["Parameters"] {
                        if p["FunctionName"] == nil && p["FunctionName.$"] == nil {
                            fault("\(path).Parameters", "arn:aws:states:::lambda:invoke needs Parameters.FunctionName")
                        }
                    } else {
                        fault("\(path).Parameters", "arn:aws:states:::lambda:invoke needs Parameters with FunctionName and Payload")
                    }
                }
            } else {
                fault("\(path).Resource", "unsupported resource \"\(text)\" (swell:function:NAME[:QUALIFIER], a Lambda function ARN, or arn:aws:states:::lambda:invoke[.waitForTaskToken])")
            }
        }
        let timeout = source(o, "TimeoutSeconds", path, kind: .positiveInteger)
        let heartbeat = source(o, "HeartbeatSeconds", path, kind: .positiveInteger)
        if case .literal(let t)? = timeout, case .literal(let h)? = heartbeat, let ti = t.intValue, let hi = h.intValue, hi >= ti {
            fault("\(path).HeartbeatSeconds", "must be smaller than TimeoutSeconds")
        }
        return TaskSpec(resource: resource, timeout: timeout, heartbeat: heartbeat)
    }

    mutating func waitSpec(_ o: JSONObject, _ path: String) -> WaitSpec? {
        let given = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"].filter { o[$0] != nil }
        guard given.count == 1 else {
            fault(path, given.isEmpty ? "a Wait state needs one of Seconds, Timestamp, SecondsPath or TimestampPath" : "a Wait state takes only one of \(given.joined(separator: ", "))")
            return nil
        }
        switch given[0] {
        case "Seconds":
            return integer(o, "Seconds", path, minimum: 0).map { .seconds($0) }
        case "Timestamp":
            guard let text = string(o, "Timestamp", path) else { return nil }
            guard let t = Timestamp(parsing: text) else {
                fault("\(path).Timestamp", "\"\(text)\" is not an RFC 3339 timestamp such as 2016-03-14T01:59:00Z")
                return nil
            }
            return .timestamp(t)
        case "SecondsPath":
            return referencePath(o, "SecondsPath", path).map { .secondsPath($0) }
        default:
            return referencePath(o, "TimestampPath", path).map { .timestampPath($0) }
        }
    }

    mutating func mapSpec(_ o: JSONObject, _ path: String) -> MapSpec? {
        let itemsPath = o["ItemsPath"] != nil ? referencePath(o, "ItemsPath", path) : try? JSONPath("$")
        if o["ItemSelector"] != nil && o["Parameters"] != nil {
            fault("\(path).ItemSelector", "use ItemSelector or the legacy Parameters, not both")
        }
        let selectorField = o["ItemSelector"] != nil ? "ItemSelector" : "Parameters"
        let selector = o[selectorField].map { template($0, at: "\(path).\(selectorField)") }
        var processor: StateMachine?
        switch (o["ItemProcessor"], o["Iterator"]) {
        case (let p?, nil): processor = machine(p, at: "\(path).ItemProcessor", kind: .processor)
        case (nil, let p?): processor = machine(p, at: "\(path).Iterator", kind: .processor)
        case (nil, nil): fault(path, "a Map state needs ItemProcessor (or the legacy Iterator)")
        case (_?, _?): fault("\(path).Iterator", "use ItemProcessor or the legacy Iterator, not both")
        }
        let maxConcurrency = source(o, "MaxConcurrency", path, kind: .nonNegativeInteger)
        let percentage = source(o, "ToleratedFailurePercentage", path, kind: .percentage)
        let count = source(o, "ToleratedFailureCount", path, kind: .nonNegativeInteger)
        if let label = o["Label"], label.stringValue == nil { fault("\(path).Label", "must be a string") }
        guard let itemsPath, let processor else { return nil }
        return MapSpec(itemsPath: itemsPath, itemSelector: selector, processor: processor, maxConcurrency: maxConcurrency,
                       toleratedFailurePercentage: percentage, toleratedFailureCount: count)
    }

    // MARK: Choice

    mutating func choiceBody(_ o: JSONObject, _ path: String) -> State.Body {
        var rules: [ChoiceRule] = []
        if case .array(let list)? = o["Choices"], !list.isEmpty {
            for (i, item) in list.enumerated() {
                let rulePath = "\(path).Choices[\(i)]"
                guard case .object(let r) = item else {
                    fault(rulePath, "a choice rule must be an object")
                    continue
                }
                let next = string(r, "Next", rulePath, required: true)
                if let condition = condition(r, at: rulePath, topLevel: true), let next {
                    rules.append(ChoiceRule(condition: condition, next: next))
                }
            }
        } else {
            fault("\(path).Choices", o["Choices"] == nil ? "is required" : "must be a non-empty array of choice rules")
        }
        return .choice(choices: rules, defaultNext: string(o, "Default", path))
    }

    mutating func condition(_ r: JSONObject, at path: String, topLevel: Bool) -> Condition? {
        if !topLevel, r["Next"] != nil { fault("\(path).Next", "only a top-level choice rule may have Next") }
        let combinators = ["And", "Or", "Not"].filter { r[$0] != nil }
        let operators = r.keys.filter { Condition.operators[$0] != nil || Condition.TypeTest(rawValue: $0) != nil }
        let known: Set<String> = ["Next", "Variable", "Comment", "And", "Or", "Not"]
        for key in r.keys where !known.contains(key) && Condition.operators[key] == nil && Condition.TypeTest(rawValue: key) == nil {
            fault("\(path).\(key)", "unknown field in a choice rule")
        }
        guard combinators.count + operators.count == 1 else {
            fault(path, combinators.count + operators.count == 0 ? "a choice rule needs a comparison (e.g. StringEquals) or And, Or, Not" : "a choice rule takes exactly one of \((combinators + operators).joined(separator: ", "))")
            return nil
        }
        if let combinator = combinators.first {
            if r["Variable"] != nil { fault("\(path).Variable", "not allowed beside \(combinator)") }
            let value = r[combinator]!
            if combinator == "Not" {
                guard case .object(let inner) = value else {
                    fault("\(path).Not", "must be a choice rule object")
                    return nil
                }
                return condition(inner, at: "\(path).Not", topLevel: false).map { .not($0) }
            }
            guard case .array(let list) = value, !list.isEmpty else {
                fault("\(path).\(combinator)", "must be a non-empty array of choice rules")
                return nil
            }
            var inner: [Condition] = []
            for (i, item) in list.enumerated() {
                guard case .object(let o) = item else {
                    fault("\(path).\(combinator)[\(i)]", "must be a choice rule object")
                    continue
                }
                if let c = condition(o, at: "\(path).\(combinator)[\(i)]", topLevel: false) { inner.append(c) }
            }
            guard inner.count == list.count else { return nil }
            return combinator == "And" ? .and(inner) : .or(inner)
        }
        let op = operators[0]
        guard let variable = referencePath(r, "Variable", path, required: true) else { return nil }
        let operand = r[op]!
        if let test = Condition.TypeTest(rawValue: op) {
            guard case .bool(let expected) = operand else {
                fault("\(path).\(op)", "must be true or false")
                return nil
            }
            return .test(variable: variable, test, expected)
        }
        let comparison = Condition.operators[op]!
        if op.hasSuffix("Path") {
            guard let p = referencePath(r, op, path) else { return nil }
            return .compare(variable: variable, comparison, .path(p))
        }
        let ok: Bool
        switch comparison {
        case .string, .stringMatches: ok = operand.stringValue != nil
        case .numeric: ok = operand.numberValue != nil
        case .boolean: ok = operand.boolValue != nil
        case .timestamp: ok = operand.stringValue.flatMap(Timestamp.init(parsing:)) != nil
        }
        guard ok else {
            let expected: String
            switch comparison {
            case .string, .stringMatches: expected = "a string"
            case .numeric: expected = "a number"
            case .boolean: expected = "true or false"
            case .timestamp: expected = "an RFC 3339 timestamp string"
            }
            fault("\(path).\(op)", "must be \(expected)")
            return nil
        }
        return .compare(variable: variable, comparison, .literal(operand))
    }

    // MARK: Retry and Catch

    mutating func errorEquals(_ r: JSONObject, at path: String) -> [String]? {
        guard case .array(let list)? = r["ErrorEquals"], !list.isEmpty else {
            fault("\(path).ErrorEquals", r["ErrorEquals"] == nil ? "is required" : "must be a non-empty array of error names")
            return nil
        }
        var names: [String] = []
        for (i, item) in list.enumerated() {
            guard let name = item.stringValue, !name.isEmpty else {
                fault("\(path).ErrorEquals[\(i)]", "must be an error name")
                continue
            }
            if name.hasPrefix("States."), !ErrorName.predefined.contains(name) {
                fault("\(path).ErrorEquals[\(i)]", "unknown predefined error \"\(name)\"")
            }
            names.append(name)
        }
        if names.contains(ErrorName.all), names.count > 1 {
            fault("\(path).ErrorEquals", "States.ALL must appear alone")
        }
        return names
    }

    mutating func retriers(_ value: JSON?, at path: String) -> [Retrier] {
        guard let value else { return [] }
        guard case .array(let list) = value else {
            fault(path, "must be an array of retriers")
            return []
        }
        var out: [Retrier] = []
        for (i, item) in list.enumerated() {
            let p = "\(path)[\(i)]"
            guard case .object(let r) = item else {
                fault(p, "a retrier must be an object")
                continue
            }
            for key in r.keys where !["ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"].contains(key) {
                fault("\(p).\(key)", "unknown field in a retrier")
            }
            guard let names = errorEquals(r, at: p) else { continue }
            if names.contains(ErrorName.all), i != list.count - 1 {
                fault("\(p).ErrorEquals", "a retrier with States.ALL must be the last one")
            }
            var retrier = Retrier(errorEquals: names)
            if r["IntervalSeconds"] != nil, let v = integer(r, "IntervalSeconds", p, minimum: 1, maximum: 99_999_999) { retrier.intervalSeconds = v }
            if r["MaxAttempts"] != nil, let v = integer(r, "MaxAttempts", p, minimum: 0, maximum: 99_999_999) { retrier.maxAttempts = v }
            if r["MaxDelaySeconds"] != nil, let v = integer(r, "MaxDelaySeconds", p, minimum: 1, maximum: 31_622_400) { retrier.maxDelaySeconds = v }
            if let rate = r["BackoffRate"] {
                if let d = rate.numberValue?.doubleValue, d >= 1.0 {
                    retrier.backoffRate = d
                } else {
                    fault("\(p).BackoffRate", "must be a number greater than or equal to 1.0")
                }
            }
            if let jitter = r["JitterStrategy"] {
                if let j = jitter.stringValue.flatMap(Retrier.Jitter.init(rawValue:)) {
                    retrier.jitter = j
                } else {
                    fault("\(p).JitterStrategy", "must be FULL or NONE")
                }
            }
            out.append(retrier)
        }
        return out
    }

    mutating func catchers(_ value: JSON?, at path: String) -> [Catcher] {
        guard let value else { return [] }
        guard case .array(let list) = value else {
            fault(path, "must be an array of catchers")
            return []
        }
        var out: [Catcher] = []
        for (i, item) in list.enumerated() {
            let p = "\(path)[\(i)]"
            guard case .object(let c) = item else {
                fault(p, "a catcher must be an object")
                continue
            }
            for key in c.keys where !["ErrorEquals", "Next", "ResultPath", "Comment"].contains(key) {
                fault("\(p).\(key)", DefinitionReader.unsupported[key] ?? "unknown field in a catcher")
            }
            let names = errorEquals(c, at: p)
            if let names, names.contains(ErrorName.all), i != list.count - 1 {
                fault("\(p).ErrorEquals", "a catcher with States.ALL must be the last one")
            }
            let next = string(c, "Next", p, required: true)
            let resultPath = optionalPath(c, "ResultPath", p, reference: true)
            if let names, let next { out.append(Catcher(errorEquals: names, next: next, resultPath: resultPath)) }
        }
        return out
    }

    // MARK: Field readers

    mutating func string(_ o: JSONObject, _ key: String, _ path: String, required: Bool = false) -> String? {
        guard let v = o[key] else {
            if required { fault(join(path, key), "is required") }
            return nil
        }
        guard case .string(let s) = v else {
            fault(join(path, key), "must be a string")
            return nil
        }
        return s
    }

    mutating func integer(_ o: JSONObject, _ key: String, _ path: String, minimum: Int, maximum: Int = Int.max) -> Int? {
        guard let v = o[key]?.intValue, v >= minimum, v <= maximum else {
            let range = maximum == Int.max ? "\(minimum) or more" : "between \(minimum) and \(maximum)"
            fault(join(path, key), "must be an integer, \(range)")
            return nil
        }
        return v
    }

    /// `InputPath`/`OutputPath`/`ResultPath`: absent means `$`, `null` means nil.
    mutating func optionalPath(_ o: JSONObject, _ key: String, _ path: String, reference: Bool = false) -> JSONPath? {
        let dollar = try! JSONPath("$")
        guard let v = o[key] else { return dollar }
        if v.isNull { return nil }
        guard case .string(let text) = v else {
            fault(join(path, key), "must be a path string or null")
            return dollar
        }
        do {
            let p = try JSONPath(text)
            if reference, !p.isReferencePath {
                fault(join(path, key), "\"\(text)\" must be a reference path (only .name, ['name'] and [index])")
            }
            if p.root == .context, key == "ResultPath" {
                fault(join(path, key), "ResultPath cannot write into the context object")
            }
            return p
        } catch {
            fault(join(path, key), error.message)
            return dollar
        }
    }

    mutating func referencePath(_ o: JSONObject, _ key: String, _ path: String, required: Bool = false) -> JSONPath? {
        guard let text = string(o, key, path, required: required) else { return nil }
        do {
            let p = try JSONPath(text)
            guard p.isReferencePath else {
                fault(join(path, key), "\"\(text)\" must be a reference path (only .name, ['name'] and [index])")
                return nil
            }
            return p
        } catch {
            fault(join(path, key), error.message)
            return nil
        }
    }

    mutating func template(_ value: JSON, at path: String) -> PayloadTemplate {
        PayloadTemplate.parse(value, at: path, faults: &faults)
    }

    enum SourceKind { case string, positiveInteger, nonNegativeInteger, percentage }

    /// A field `X` with its `XPath` alternative: at most one of the two.
    mutating func source(_ o: JSONObject, _ key: String, _ path: String, kind: SourceKind) -> ValueSource? {
        let pathKey = key + "Path"
        switch (o[key], o[pathKey]) {
        case (nil, nil):
            return nil
        case (_?, _?):
            fault(join(path, pathKey), "use \(key) or \(pathKey), not both")
            return nil
        case (nil, _?):
            return referencePath(o, pathKey, path).map { .path($0) }
        case (let v?, nil):
            switch kind {
            case .string:
                guard v.stringValue != nil else {
                    fault(join(path, key), "must be a string")
                    return nil
                }
            case .positiveInteger:
                guard let n = v.intValue, n >= 1, n <= 99_999_999 else {
                    fault(join(path, key), "must be a positive integer")
                    return nil
                }
            case .nonNegativeInteger:
                guard let n = v.intValue, n >= 0 else {
                    fault(join(path, key), "must be an integer, 0 or more")
                    return nil
                }
            case .percentage:
                guard let d = v.numberValue?.doubleValue, d >= 0, d <= 100 else {
                    fault(join(path, key), "must be a number between 0 and 100")
                    return nil
                }
            }
            return .literal(v)
        }
    }
}
