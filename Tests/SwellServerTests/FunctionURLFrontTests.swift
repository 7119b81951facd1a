import HTTPTypes
import Testing

@testable import SwellServer

/// The function-URL front's decisions, as values: which requests it takes, and the order of a
/// connection's requests and answers.
@Suite struct FunctionURLFrontTests {
    typealias Seq = RequestSequencer<String>

    // MARK: FunctionURLTarget

    @Test func aFunctionURLPathNamesNamespaceFunctionAndRest() {
        #expect(FunctionURLTarget(method: .get, path: "/fn/default/hello") == FunctionURLTarget(namespace: "default", name: "hello", rest: ""))
        #expect(FunctionURLTarget(method: .post, path: "/fn/a/b/c/d?x=1#f") == FunctionURLTarget(namespace: "a", name: "b", rest: "c/d"))
        #expect(FunctionURLTarget(method: .get, path: "/fn/a/b/?q") == FunctionURLTarget(namespace: "a", name: "b", rest: ""))
    }

    @Test func emptyComponentsAreSkippedAsTheRouterSkipsThem() {
        #expect(FunctionURLTarget(method: .get, path: "/fn//a//b//c/") == FunctionURLTarget(namespace: "a", name: "b", rest: "c"))
        #expect(FunctionURLTarget(method: .get, path: "/fn/a/b/%2F/x") == FunctionURLTarget(namespace: "a", name: "b", rest: "%2F/x"))
    }

    @Test func otherPathsAndMethodsAreLeftToTheRouter() {
        #expect(FunctionURLTarget(method: .get, path: "/fn/a") == nil)
        #expect(FunctionURLTarget(method: .get, path: "/fn/a/?b/c") == nil)
        #expect(FunctionURLTarget(method: .get, path: "/fnx/a/b") == nil)
        #expect(FunctionURLTarget(method: .get, path: "/v1/health") == nil)
        #expect(FunctionURLTarget(method: .get, path: "http://h/fn/a/b") == nil)
        #expect(FunctionURLTarget(method: .get, path: nil) == nil)
        #expect(FunctionURLTarget(method: .trace, path: "/fn/a/b") == nil)
        #expect(FunctionURLTarget(method: .connect, path: "/fn/a/b") == nil)
        for method in FunctionURLRoutes.methods {
            #expect(FunctionURLTarget(method: method, path: "/fn/a/b") != nil)
        }
    }

    @Test func theRoutePathIsTheRoutersName() {
        #expect(FunctionURLTarget(namespace: "a", name: "b", rest: "").routePath == "/fn/{ns}/{name}")
        #expect(FunctionURLTarget(namespace: "a", name: "b", rest: "x").routePath == "/fn/{ns}/{name}/**")
    }

    // MARK: RequestSequencer

    private func names(_ d: [(String, Seq.Route)]) -> [String] { d.map { "\($0.0)>\($0.1 == .pass ? "pass" : "serve")" } }
    private func names(_ d: (String, Seq.Route)?) -> [String] { names(d.map { [$0] } ?? []) }

    @Test func aLoneRequestGoesStraightToItsHandler() {
        var s = Seq()
        #expect(names(s.received("h1", .head(.serve, close: false))) == ["h1>serve"])
        #expect(names(s.received("b1", .body)) == ["b1>serve"])
        #expect(names(s.received("e1", .end)) == ["e1>serve"])
        #expect(s.currentRoute == .serve)
        #expect(s.responseEnded().isEmpty)
        #expect(s.currentRoute == nil)
        #expect(names(s.received("h2", .head(.pass, close: false))) == ["h2>pass"])
    }

    @Test func aPipelinedRequestWaitsForTheAnswerBeforeIt() {
        var s = Seq()
        _ = s.received("h1", .head(.pass, close: false))
        _ = s.received("e1", .end)
        // The next requests arrive before the application answered the first.
        #expect(s.received("h2", .head(.serve, close: false)) == nil)
        #expect(s.received("e2", .end) == nil)
        #expect(s.received("h3", .head(.pass, close: false)) == nil)
        #expect(s.received("e3", .end) == nil)
        #expect(s.isHolding)
        // The first answer releases the second request, which then blocks the third.
        #expect(names(s.responseEnded()) == ["h2>serve", "e2>serve"])
        #expect(s.isHolding)
        #expect(names(s.responseEnded()) == ["h3>pass", "e3>pass"])
        #expect(!s.isHolding)
        #expect(s.responseEnded().isEmpty)
    }

    @Test func anEarlyAnswerLeavesTheRestOfTheBodyToTheSameHandler() {
        var s = Seq()
        _ = s.received("h1", .head(.serve, close: false))
        _ = s.received("b1", .body)
        // Answered (413) before the body ended: the rest goes on to the front, which drops it.
        #expect(s.responseEnded().isEmpty)
        #expect(names(s.received("b2", .body)) == ["b2>serve"])
        #expect(names(s.received("e1", .end)) == ["e1>serve"])
        #expect(s.currentRoute == nil)
        #expect(names(s.received("h2", .head(.pass, close: false))) == ["h2>pass"])
    }

    @Test func errorsAndEventsKeepTheirPlace() {
        var s = Seq()
        // With nothing in progress: to the application.
        #expect(names(s.received("err", .other)) == ["err>pass"])
        _ = s.received("h1", .head(.serve, close: false))
        // While the front reads a request: to the front.
        #expect(names(s.received("err1", .other)) == ["err1>serve"])
        _ = s.received("e1", .end)
        // While it answers: after the answer, to whoever reads next.
        #expect(s.received("closed", .other) == nil)
        #expect(names(s.responseEnded()) == ["closed>pass"])
    }

    @Test func nothingIsDeliveredAfterARequestThatClosesTheConnection() {
        var s = Seq()
        _ = s.received("h1", .head(.serve, close: true))
        _ = s.received("e1", .end)
        #expect(s.received("h2", .head(.pass, close: false)) == nil)
        #expect(s.responseEnded().isEmpty)
        #expect(s.closed)
        #expect(!s.isHolding)
        #expect(s.received("h3", .head(.pass, close: false)) == nil)
    }

    @Test func strayPartsWithoutAHeadGoToTheApplication() {
        var s = Seq()
        #expect(names(s.received("b", .body)) == ["b>pass"])
        #expect(names(s.received("e", .end)) == ["e>pass"])
        #expect(s.responseEnded().isEmpty)
    }

    // MARK: HTTPDate

    @Test func datesAreIMFFixdates() {
        #expect(HTTPDate.format(epochSeconds: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(epochSeconds: 784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.format(epochSeconds: 951_868_799) == "Tue, 29 Feb 2000 23:59:59 GMT")
        #expect(HTTPDate.now.hasSuffix(" GMT"))
    }
}
