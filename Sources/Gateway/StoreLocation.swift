import Foundation
import ServiceLifecycle
import Storage

extension GatewayConfiguration {
    /// Whether `gateway.database` names a PostgreSQL database (`postgres://…`) rather than a
    /// SQLite file.
    package var usesPostgres: Bool { Self.isPostgres(gateway.database) }

    /// Whether `database` is a PostgreSQL URL (`postgres://` or `postgresql://`) rather than a path.
    package static func isPostgres(_ database: String) -> Bool {
        database.hasPrefix("postgres://") || database.hasPrefix("postgresql://")
    }

    /// `gateway.database` as a place to open: the URL, or the SQLite path resolved against the
    /// configuration file.
    package var databaseLocation: String { usesPostgres ? gateway.database : resolve(gateway.database).path }
}

/// How a gateway opens its store, given the key its audit entries are signed with. The program
/// that composes the gateway chooses the store (module `StoreSelection`); the gateway itself
/// knows only ``RecordStore``.
package typealias StoreOpener = @Sendable (AuditSigning) async throws -> any RecordStore

/// Keeps the store open while the gateway serves and closes it when the service group stops
/// (listed first, so stopped last).
struct StoreService: Service {
    let store: any RecordStore

    func run() async throws {
        try? await gracefulShutdown()
        await store.close()
    }
}
