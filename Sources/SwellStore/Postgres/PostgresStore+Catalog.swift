import Foundation
import PostgresNIO

extension PostgresStore: CatalogWatching {
    public func catalogRevision() async throws -> Int64 {
        try await rows("SELECT revision FROM catalog_revision WHERE id = 1", [])[0].decode("revision", as: Int64.self)
    }

    public func watchCatalog(_ changed: @escaping @Sendable () -> Void) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: "swell_catalog") { notifications in
                for try await _ in notifications { changed() }
            }
        }
    }
}
