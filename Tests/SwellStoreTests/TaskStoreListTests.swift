import Foundation
import GRDB
import Testing
@testable import SwellStore

struct TaskStoreListTests {
    /// The plan SQLite picks for the list query of a namespace without other filters.
    @Test func theNewestTasksOfANamespaceAreReadFromAnIndexWithoutSorting() throws {
        let store = try TaskStore.inMemory()
        let plan = try store.db.read { db in
            try Row.fetchAll(db, sql: """
                EXPLAIN QUERY PLAN SELECT * FROM tasks WHERE namespace = ? AND (created_at < ? OR (created_at = ? AND id < ?))
                ORDER BY created_at DESC, id DESC LIMIT ?
                """, arguments: ["default", 1.0, 1.0, "t", 50]).map { $0["detail"] as String }
        }
        #expect(plan.contains { $0.contains("tasks_by_namespace") }, "\(plan)")
        #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
    }
}
