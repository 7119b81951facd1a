import Testing
@testable import SwellWorkflow

struct JSONPathTests {
    let doc: JSON = [
        "store": [
            "book": [
                ["title": "A", "price": 8.95, "tags": ["x"]],
                ["title": "B", "price": 12.99],
                ["title": "C", "price": 8.99, "isbn": "1"],
            ],
            "name with space": "s",
        ],
        "vals": [0, 10, 20, 30, 40, 50],
    ]

    func select(_ path: String) throws -> JSON? { try JSONPath(path).select(in: doc) }

    @Test func definitePathsSelectOneNode() throws {
        #expect(try select("$") == doc)
        #expect(try select("$.store.book[1].title") == "B")
        #expect(try select("$['store']['name with space']") == "s")
        #expect(try select("$.vals[-1]") == 50)
        #expect(try select("$.missing") == nil)
        #expect(try select("$.vals[6]") == nil)
        #expect(try select("$.vals.x") == nil)
    }

    @Test func indefinitePathsSelectLists() throws {
        #expect(try select("$.vals[3:]") == [30, 40, 50])
        #expect(try select("$.vals[:2]") == [0, 10])
        #expect(try select("$.vals[0:6:2]") == [0, 20, 40])
        #expect(try select("$.vals[0,2]") == [0, 20])
        #expect(try select("$.store.book[*].title") == ["A", "B", "C"])
        #expect(try select("$..title") == ["A", "B", "C"])
        #expect(try select("$.missing[*]") == [])
    }

    @Test func filters() throws {
        #expect(try select("$.store.book[?(@.price < 10)].title") == ["A", "C"])
        #expect(try select("$.store.book[?(@.isbn)].title") == ["C"])
        #expect(try select("$.store.book[?(@.title == 'B' || @.price > 100)].price") == [12.99])
        #expect(try select("$.store.book[?(@.price < 10 && !(@.isbn))].title") == ["A"])
    }

    @Test func referencePathsAreOnlyMembersAndIndexes() throws {
        #expect(try JSONPath("$.a['b'][0]").isReferencePath)
        #expect(try !JSONPath("$.a[*]").isReferencePath)
        #expect(try !JSONPath("$..a").isReferencePath)
        #expect(try !JSONPath("$.a[-1]").isReferencePath)
        #expect(try JSONPath("$$.Execution.Id").root == .context)
    }

    @Test(arguments: ["", "a", "$.", "$[", "$.a[", "$..", "$.a[?(@.x ==)]", "$[1:2,3]"])
    func rejectsMalformedPaths(_ text: String) {
        #expect(throws: JSONPathError.self) { try JSONPath(text) }
    }

    @Test func settingCreatesMembersAndRefusesNonObjects() throws {
        let input: JSON = ["master": ["detail": [1, 2, 3]]]
        #expect(try JSONPath("$.master.detail").setting("x", in: input) == ["master": ["detail": "x"]])
        #expect(try JSONPath("$.a.b").setting(1, in: input) == ["master": ["detail": [1, 2, 3]], "a": ["b": 1]])
        #expect(try JSONPath("$.master.detail[1]").setting(9, in: input) == ["master": ["detail": [1, 9, 3]]])
        #expect(throws: JSONPathError.self) { try JSONPath("$.master.detail.x").setting(1, in: input) }
        #expect(throws: JSONPathError.self) { try JSONPath("$.x").setting(1, in: [1, 2]) }
        // Existing members keep their place.
        #expect(try JSONPath("$.a").setting(5, in: ["a": 1, "b": 2]).serialized() == #"{"a":5,"b":2}"#)
    }
}
