import Foundation
import SwellModel
import Testing

@Suite struct FunctionSpecTests {
    let sha = String(repeating: "a", count: 64)

    func parse(_ fields: [String: ConfigValue]) throws -> FunctionConfig {
        var object = fields
        if object["codeSha256"] == nil { object["codeSha256"] = .string(sha) }
        return try FunctionSpec.parse(.object(object), path: "functions.hello")
    }

    func error(_ fields: [String: ConfigValue]) -> SwellError? {
        do {
            _ = try parse(fields)
            return nil
        } catch let error as SwellError {
            return error
        } catch {
            return nil
        }
    }

    @Test func defaultsApply() throws {
        let c = try parse(["runtime": "nodejs20", "handler": "index.handler"])
        #expect(c.memory == 128 && c.timeout == 3 && c.concurrency == 1 && c.environment.isEmpty && c.url == nil)
    }

    @Test func fullEntryParses() throws {
        let c = try parse([
            "runtime": "python3", "handler": "app.main", "memory": 256, "timeout": 10, "concurrency": 4,
            "environment": .object(["GREETING": "hi", "N": 3]), "description": "d",
            "url": .object(["auth": "none"]),
        ])
        #expect(c.runtime == .python3 && c.memory == 256 && c.timeout == 10 && c.concurrency == 4)
        #expect(c.environment == ["GREETING": "hi", "N": "3"])
        #expect(c.url == URLConfig(auth: .none))
    }

    @Test func errorsNameTheField() {
        #expect(error(["runtime": "nodejs20", "handler": "index.handler", "memory": 5])?.field == "functions.hello.memory")
        #expect(error(["runtime": "nodejs20", "handler": "index.handler", "memory": 5])?.message.contains("between 128 and 10240") == true)
        #expect(error(["runtime": "java", "handler": "x.y"])?.field == "functions.hello.runtime")
        #expect(error(["handler": "x.y"])?.field == "functions.hello.runtime")
        #expect(error(["runtime": "nodejs20"])?.field == "functions.hello.handler")
        #expect(error(["runtime": "nodejs20", "handler": "nodot"])?.field == "functions.hello.handler")
        #expect(error(["runtime": "nodejs20", "handler": "../x.y"])?.field == "functions.hello.handler")
        #expect(error(["runtime": "nodejs20", "handler": "a.b", "timeout": 0])?.field == "functions.hello.timeout")
        #expect(error(["runtime": "nodejs20", "handler": "a.b", "concurrency": 1001])?.field == "functions.hello.concurrency")
        #expect(error(["runtime": "nodejs20", "handler": "a.b", "memroy": 256])?.field == "functions.hello.memroy")
        #expect(error(["runtime": "nodejs20", "handler": "a.b", "environment": .object(["AWS_REGION": "x"])])?.field == "functions.hello.environment.AWS_REGION")
        #expect(error(["runtime": "nodejs20", "handler": "a.b", "environment": .object(["1BAD": "x"])])?.field == "functions.hello.environment.1BAD")
        #expect(error(["runtime": "nodejs20", "handler": "a.b", "url": .object(["auth": "open"])])?.field == "functions.hello.url.auth")
        #expect(error(["runtime": "nodejs20", "handler": "a.b", "memory": "lots"])?.code == .invalidField)
        #expect(error(["runtime": "nodejs20", "handler": "a.b", "codeSha256": "xyz"])?.field == "functions.hello.codeSha256")
    }

    @Test func environmentSizeIsBounded() {
        let big = String(repeating: "x", count: 5000)
        #expect(error(["runtime": "nodejs20", "handler": "a.b", "environment": .object(["BIG": .string(big)])])?.field == "functions.hello.environment")
    }

    @Test func lambdaRuntimeNamesAreAliases() throws {
        #expect(try parse(["runtime": "nodejs20.x", "handler": "index.handler"]).runtime == .nodejs20)
        #expect(try parse(["runtime": "python3.12", "handler": "app.handler"]).runtime == .python3)
        #expect(try parse(["runtime": "provided.al2023"]).runtime == .provided)
        #expect(try parse(["runtime": "provided.al2", "handler": "app.handler"]).handler == "app.handler")
        #expect(throws: SwellError.self) { try parse(["runtime": "java21", "handler": "x.y"]) }
        #expect(RuntimeKind.python3.lambdaName == "python3.11")
    }

    @Test func providedDefaultsToBootstrap() throws {
        #expect(try parse(["runtime": "provided"]).handler == "bootstrap")
    }

    @Test func changedFieldsNameWhatDiffers() throws {
        let a = try parse(["runtime": "nodejs20", "handler": "a.b"])
        var b = a
        b.memory = 512
        b.codeSha256 = String(repeating: "b", count: 64)
        #expect(b.changedFields(from: a) == ["code", "memory"])
    }
}

@Suite struct QualifierAndAliasTests {
    @Test func qualifiersParse() throws {
        #expect(try Qualifier(parsing: nil) == .latest)
        #expect(try Qualifier(parsing: "$LATEST") == .latest)
        #expect(try Qualifier(parsing: "3") == .version(3))
        #expect(try Qualifier(parsing: "live") == .alias("live"))
        #expect(throws: SwellError.self) { try Qualifier(parsing: "0") }
        #expect(throws: SwellError.self) { try Qualifier(parsing: "..") }
    }

    @Test func aliasWeightsRoute() throws {
        let alias = try AliasConfig.parse(.object(["version": "1", "additionalVersionWeights": .object(["2": 0.25])]))
        #expect(alias.pick(0.0) == 2)
        #expect(alias.pick(0.2499) == 2)
        #expect(alias.pick(0.25) == 1)
        #expect(alias.pick(0.99) == 1)
    }

    @Test func aliasValidation() {
        #expect(throws: SwellError.self) { try AliasConfig.parse(.object(["version": "1", "additionalVersionWeights": .object(["2": 1.5])])) }
        #expect(throws: SwellError.self) { try AliasConfig.parse(.object(["version": "1", "additionalVersionWeights": .object(["1": 0.5])])) }
        #expect(throws: SwellError.self) { try AliasConfig.parse(.object([:])) }
    }

    @Test func principalsStayInTheirNamespace() throws {
        let dev = Principal(keyID: "k", namespace: "a", role: .developer)
        #expect(throws: SwellError.self) { try dev.authorize(namespace: "b", role: .invoker) }
        #expect(throws: SwellError.self) { try dev.authorize(namespace: "a", role: .admin) }
        try dev.authorize(namespace: "a", role: .developer)
        let root = Principal(keyID: "r", namespace: "default", role: .admin)
        try root.authorize(namespace: "b", role: .admin)
    }
}

@Suite struct FunctionSpecCollectsTests {
    @Test func everyFieldInErrorIsReported() {
        do {
            _ = try FunctionSpec.parse(
                ["runtime": "nodejs20", "handler": "nodot", "memory": 5, "timeout": 0, "memroy": 1, "url": .object(["auth": "open", "x": 1])],
                path: "functions.f")
            Issue.record("parsed")
        } catch {
            #expect(Set(error.problems.compactMap(\.field)) == [
                "functions.f.handler", "functions.f.memory", "functions.f.timeout", "functions.f.memroy", "functions.f.codeSha256",
                "functions.f.url.auth", "functions.f.url.x",
            ])
        }
    }
}

@Suite struct FunctionSpecGPUTests {
    let sha = String(repeating: "a", count: 64)

    func parse(_ gpu: ConfigValue) throws(SwellError) -> FunctionConfig {
        try FunctionSpec.parse(.object(["runtime": "nodejs20", "handler": "a.b", "codeSha256": .string(sha), "gpu": gpu]), path: "functions.infer")
    }

    func field(_ gpu: ConfigValue) -> String? {
        do {
            _ = try parse(gpu)
            return nil
        } catch {
            return error.field
        }
    }

    @Test func aShareParsesAndIsAbsentByDefault() throws {
        #expect(try parse(.object(["memory": 4096])).gpu == GPUShare(memory: 4096))
        let plain = try FunctionSpec.parse(.object(["runtime": "nodejs20", "handler": "a.b", "codeSha256": .string(sha)]), path: "f")
        #expect(plain.gpu == nil)
        #expect(try parse(.object(["memory": 4096])).changedFields(from: plain) == ["gpu"])
    }

    @Test func badSharesNameTheField() {
        #expect(field(.object([:])) == "functions.infer.gpu.memory")
        #expect(field(.object(["memory": 0])) == "functions.infer.gpu.memory")
        #expect(field(.object(["memory": 2_000_000])) == "functions.infer.gpu.memory")
        #expect(field(.object(["memory": "lots"])) == "functions.infer.gpu.memory")
        #expect(field(.object(["memory": 1024, "count": 2])) == "functions.infer.gpu.count")
        #expect(field(.int(4096)) == "functions.infer.gpu")
    }

    @Test func storedConfigsWithAndWithoutAShareDecode() throws {
        let config = try parse(.object(["memory": 512]))
        let data = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(FunctionConfig.self, from: data).gpu == GPUShare(memory: 512))
        var plain = config
        plain.gpu = nil
        let text = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
        #expect(!text.contains("gpu"))
    }
}
