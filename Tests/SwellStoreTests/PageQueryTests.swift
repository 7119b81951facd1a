import Foundation
@testable import SwellStore
import Testing

@Suite struct PageQueryTests {
    @Test func filtersWindowAndCursorInOrder() {
        let q = TaskStore.listQuery(
            namespace: "ns", function: "f", state: nil, since: Date(timeIntervalSince1970: 10), until: nil,
            before: (Date(timeIntervalSince1970: 20), "t9"), limit: 5)
        #expect(q.sql == "SELECT * FROM tasks WHERE namespace = ? AND function = ? AND created_at >= ? AND (created_at < ? OR (created_at = ? AND id < ?)) ORDER BY created_at DESC, id DESC LIMIT ?")
        #expect(q.arguments == [.text("ns"), .text("f"), .real(10), .real(20), .real(20), .text("t9"), .integer(5)])
    }

    @Test func absentFiltersAddNothing() {
        let q = SQLiteWorkflowStore.executionsQuery(namespace: "ns", workflow: "wf", status: nil, before: nil, limit: 2)
        #expect(q.sql == "SELECT * FROM executions WHERE namespace = ? AND workflow = ? ORDER BY started_at DESC, id DESC LIMIT ?")
        #expect(q.arguments == [.text("ns"), .text("wf"), .integer(2)])
    }
}
