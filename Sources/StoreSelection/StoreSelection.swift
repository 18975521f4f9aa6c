import AuditLog
import Foundation
import Gateway
import Logging
import PostgresStorage
import Storage
import VangnetCore

// The one place that knows both stores: the program that composes a gateway (the CLI, the tests)
// chooses SQLite or PostgreSQL here from `gateway.database`, and the gateway gets `RecordStore`.

extension Gateway {
    /// A gateway on the store its configuration names: see ``GatewayConfiguration/openStore(auditSigning:logger:)``.
    package init(
        configuration: GatewayConfiguration,
        clock: any WallClock = SystemClock(),
        logger: Logger = Logger(label: "vangnet")
    ) async throws {
        try await self.init(
            configuration: configuration,
            openingStore: { signing in try await configuration.openStore(auditSigning: signing) },
            clock: clock,
            logger: logger
        )
    }
}

extension GatewayConfiguration {
    /// Opens the configured store: PostgreSQL for a `postgres://user@host/database?schema=s` URL
    /// (password in the URL or in `VANGNET_DATABASE_PASSWORD`), otherwise the SQLite file at the
    /// path (relative to the configuration file).
    package func openStore(
        auditSigning: AuditSigning?,
        logger: Logger = Logger(label: "vangnet.store")
    ) async throws -> any RecordStore {
        try await Self.openStore(
            databaseLocation,
            auditSigning: auditSigning,
            lifetimes: gateway.delivery.lifetimes,
            logger: logger
        )
    }

    /// Opens the store at `database`: a `postgres://` URL or a SQLite file path. With
    /// `existing`, a SQLite file that does not exist is an error rather than a new database;
    /// `readOnly` opens a SQLite file as evidence, changing nothing in it.
    package static func openStore(
        _ database: String,
        auditSigning: AuditSigning?,
        existing: Bool = false,
        readOnly: Bool = false,
        lifetimes: DeliveryLifetimes = DeliveryLifetimes(),
        logger: Logger = Logger(label: "vangnet.store")
    ) async throws -> any RecordStore {
        guard isPostgres(database) else {
            guard !(existing || readOnly) || FileManager.default.fileExists(atPath: database) else {
                throw ConfigurationError("no database at \(database)")
            }
            return SQLiteRecordStore(
                try SQLiteStore(path: database, auditSigning: auditSigning, readOnly: readOnly, lifetimes: lifetimes)
            )
        }
        let connection = try Result { try PostgresStore.configuration(url: database) }.mapError {
            ConfigurationError("gateway.database: \($0)")
        }.get()
        do {
            return try await PostgresStore(
                configuration: connection,
                auditSigning: auditSigning,
                lifetimes: lifetimes,
                logger: logger
            )
        } catch {
            let server = URLComponents(string: database).map { "\($0.host ?? "?"):\($0.port ?? 5432)" } ?? "?"
            throw ConfigurationError("gateway.database: PostgreSQL at \(server): \(error)")
        }
    }

    /// Opens the existing store at `database` for an operator command, runs `body` and closes it.
    /// `readOnly`: see ``openStore(_:auditSigning:existing:readOnly:logger:)``.
    package static func withStore<T>(
        _ database: String,
        readOnly: Bool = false,
        _ body: (any RecordStore) async throws -> T
    ) async throws -> T {
        try await closing(try await openStore(database, auditSigning: nil, existing: true, readOnly: readOnly), body)
    }

    /// Runs `body` on `store` and closes the store, whatever `body` does.
    private static func closing<T>(
        _ store: any RecordStore,
        _ body: (any RecordStore) async throws -> T
    ) async throws -> T {
        do {
            let result = try await body(store)
            await store.close()
            return result
        } catch {
            await store.close()
            throw error
        }
    }

    /// Opens this configuration's existing store for an operator command, runs `body` and closes
    /// it. What the command appends to the audit log is signed with the gateway's audit key (an
    /// unsigned entry would make the chain fail verification), so the command needs the keys.
    package func withOperatorStore<T>(_ body: (any RecordStore) async throws -> T) async throws -> T {
        let keys = try GatewayKeys.load(from: resolve(gateway.keyDirectory))
        let signing = AuditSigning(key: keys.audit, every: gateway.audit.checkpointEvery)
        return try await Self.closing(
            try await Self.openStore(databaseLocation, auditSigning: signing, existing: true),
            body
        )
    }
}
