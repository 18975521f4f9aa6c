import AccessPolicy
import Foundation
import Records
import Storage
import VangnetCore

/// The gateway's configuration file (JSON): where it listens, its TLS material, keys, database,
/// limits, and the access policy. Relative paths are taken relative to the file's directory.
/// Documented in `docs/configuration.md`.
package struct GatewayConfiguration: Sendable, Codable {
    package var gateway: Settings
    package var policy: PolicyDocument
    /// The dataset definition files (relative to this file) the gateway validates batches with
    /// and the policy names fields of; absent: the shipped ones (config/datasets/).
    package var datasets: [String]?

    package struct Settings: Sendable, Codable {
        package var oin: OIN
        package var listen: Listen
        package var tls: TLSFiles
        /// Directory holding the gateway's keys (see ``GatewayKeys``).
        package var keyDirectory: String
        /// The store: a SQLite file (path relative to this file), or a PostgreSQL database as
        /// `postgres://user@host:port/database?schema=name` for several instances.
        package var database: String
        /// The key epoch pseudonyms are made under.
        package var pseudonymEpoch: UInt32
        package var limits: Limits
        package var audit: Audit
        /// How often the gateway removes records past their retention and brings the delivery
        /// index to the day, in seconds (default 3600).
        package var purgeEverySeconds: Int
        /// How long delivery keeps what snapshots and cursors need (``Delivery``).
        package var delivery: Delivery

        package init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            oin = try c.decode(OIN.self, forKey: .oin)
            listen = try c.decode(Listen.self, forKey: .listen)
            tls = try c.decode(TLSFiles.self, forKey: .tls)
            keyDirectory = try c.decode(String.self, forKey: .keyDirectory)
            database = try c.decode(String.self, forKey: .database)
            pseudonymEpoch = try c.decodeIfPresent(UInt32.self, forKey: .pseudonymEpoch) ?? 1
            limits = try c.decodeIfPresent(Limits.self, forKey: .limits) ?? Limits()
            audit = try c.decodeIfPresent(Audit.self, forKey: .audit) ?? Audit()
            purgeEverySeconds = try c.decodeIfPresent(Int.self, forKey: .purgeEverySeconds) ?? 3600
            guard purgeEverySeconds > 0 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .purgeEverySeconds,
                    in: c,
                    debugDescription: "must be at least 1"
                )
            }
            delivery = try c.decodeIfPresent(Delivery.self, forKey: .delivery) ?? Delivery()
        }

        package init(
            oin: OIN,
            listen: Listen,
            tls: TLSFiles,
            keyDirectory: String,
            database: String,
            pseudonymEpoch: UInt32 = 1,
            limits: Limits = Limits(),
            audit: Audit = Audit(),
            purgeEverySeconds: Int = 3600,
            delivery: Delivery = Delivery()
        ) {
            self.audit = audit
            self.delivery = delivery
            self.purgeEverySeconds = purgeEverySeconds
            self.oin = oin
            self.listen = listen
            self.tls = tls
            self.keyDirectory = keyDirectory
            self.database = database
            self.pseudonymEpoch = pseudonymEpoch
            self.limits = limits
        }
    }

    /// How long the delivery index keeps what a region's pull may still need.
    package struct Delivery: Sendable, Codable, Equatable {
        /// Hours a current-picture snapshot stays readable after an item in it was replaced
        /// (default 24): a snapshot continued later answers `snapshot_expired`.
        package var snapshotHours: Int
        /// Days a withdrawal is kept for changes cursors older than it (default 400): a changes
        /// cursor older than that answers `cursor_expired`, and the region pulls its current picture.
        package var changesDays: Int

        package init(snapshotHours: Int = 24, changesDays: Int = 400) {
            self.snapshotHours = snapshotHours
            self.changesDays = changesDays
        }

        package init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            snapshotHours = try c.decodeIfPresent(Int.self, forKey: .snapshotHours) ?? 24
            changesDays = try c.decodeIfPresent(Int.self, forKey: .changesDays) ?? 400
            guard snapshotHours > 0 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .snapshotHours,
                    in: c,
                    debugDescription: "must be at least 1"
                )
            }
            guard changesDays > 0 else {
                throw DecodingError.dataCorruptedError(
                    forKey: .changesDays,
                    in: c,
                    debugDescription: "must be at least 1"
                )
            }
        }

        /// As the stores take them.
        package var lifetimes: DeliveryLifetimes {
            DeliveryLifetimes(
                snapshotSeconds: Double(snapshotHours) * 3600,
                cursorSeconds: Double(changesDays) * 86_400
            )
        }
    }

    package struct Listen: Sendable, Codable {
        package var host: String
        /// 0 picks a free port (tests).
        package var port: Int
        package init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    package struct TLSFiles: Sendable, Codable {
        /// PEM server certificate (chain).
        package var certificate: String
        /// PEM private key of the server certificate.
        package var privateKey: String
        /// PEM CA bundle that client certificates must chain to.
        package var clientCA: String
        /// Optional certificate revocation list of the client CA (DER or PEM), checked at every
        /// handshake and request, and read again when the file changes.
        package var crl: String?
        /// How often (seconds) the CRL file is checked for a change.
        package var crlCheckSeconds: Int?
        /// When the list in force is past its nextUpdate: `false` (default) warns and audits
        /// `crl_expired` and goes on with it; `true` refuses every client until a current list is
        /// in place (fail closed, as PKIoverheid practice expects).
        package var crlFailClosed: Bool?
        package init(
            certificate: String,
            privateKey: String,
            clientCA: String,
            crl: String? = nil,
            crlCheckSeconds: Int? = nil,
            crlFailClosed: Bool? = nil
        ) {
            self.crlFailClosed = crlFailClosed
            self.certificate = certificate
            self.privateKey = privateKey
            self.clientCA = clientCA
            self.crl = crl
            self.crlCheckSeconds = crlCheckSeconds
        }
    }

    /// When the gateway signs audit checkpoints (with `audit-signing.key`).
    package struct Audit: Sendable, Codable {
        /// A checkpoint after every this many entries, in the transaction of the entry.
        package var checkpointEvery: Int
        /// And at least this often (seconds) while entries are being added.
        package var checkpointSeconds: Int

        package init(checkpointEvery: Int = 1000, checkpointSeconds: Int = 300) {
            self.checkpointEvery = checkpointEvery
            self.checkpointSeconds = checkpointSeconds
        }

        package init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Audit()
            checkpointEvery = try c.decodeIfPresent(Int.self, forKey: .checkpointEvery) ?? d.checkpointEvery
            checkpointSeconds = try c.decodeIfPresent(Int.self, forKey: .checkpointSeconds) ?? d.checkpointSeconds
            guard checkpointEvery > 0, checkpointSeconds > 0 else {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: decoder.codingPath,
                        debugDescription: "checkpointEvery and checkpointSeconds must be at least 1"
                    )
                )
            }
        }
    }

    package struct Limits: Sendable, Codable {
        /// Largest envelope accepted, in bytes.
        package var maxEnvelopeBytes: Int
        /// Most records in one batch.
        package var maxRecords: Int
        /// Longest record line, in bytes.
        package var maxRecordBytes: Int
        /// How far a batch's creation time may lie from the gateway's clock, in seconds.
        package var creationWindowSeconds: Int
        /// Most records in one pull page.
        package var maxPageSize: Int
        /// Longest time one upload may take, in seconds (a slow sender is cut off).
        package var maxUploadSeconds: Int
        /// Longest silence on a connection, in seconds, before it is closed.
        package var idleTimeoutSeconds: Int
        /// Longest time from a connection's start, or the end of its previous request, until a
        /// request's headers are complete (slow-loris), in seconds.
        package var headerTimeoutSeconds: Int
        /// Largest request head (all header lines together), in bytes.
        package var maxHeaderBytes: Int
        /// Longest time from a connection's start until its TLS handshake is complete, in seconds:
        /// much shorter than the header deadline, so silent connections leave quickly.
        package var handshakeTimeoutSeconds: Int
        /// Most connections still in their TLS handshake (not yet authenticated); when the table is
        /// full, the oldest of them gives way to a new one.
        package var maxHandshakes: Int
        /// Most authenticated connections open at once (counted apart from handshakes), and
        /// connections of either kind from one address.
        package var maxConnections: Int
        package var maxConnectionsPerAddress: Int
        /// Requests per minute one caller (OIN) may make on average; bursts up to a tenth of it.
        package var requestsPerMinute: Int

        package init(
            maxEnvelopeBytes: Int = 1 << 30,
            maxRecords: Int = 2_000_000,
            maxRecordBytes: Int = 16 * 1024,
            creationWindowSeconds: Int = 7 * 86400,
            maxPageSize: Int = 10_000,
            maxUploadSeconds: Int = 3600,
            idleTimeoutSeconds: Int = 60,
            headerTimeoutSeconds: Int = 10,
            maxHeaderBytes: Int = 16 * 1024,
            handshakeTimeoutSeconds: Int = 3,
            maxHandshakes: Int = 250,
            maxConnections: Int = 1000,
            maxConnectionsPerAddress: Int = 100,
            requestsPerMinute: Int = 3000
        ) {
            self.maxEnvelopeBytes = maxEnvelopeBytes
            self.maxRecords = maxRecords
            self.maxRecordBytes = maxRecordBytes
            self.creationWindowSeconds = creationWindowSeconds
            self.maxPageSize = maxPageSize
            self.maxUploadSeconds = maxUploadSeconds
            self.idleTimeoutSeconds = idleTimeoutSeconds
            self.headerTimeoutSeconds = headerTimeoutSeconds
            self.maxHeaderBytes = maxHeaderBytes
            self.handshakeTimeoutSeconds = handshakeTimeoutSeconds
            self.maxHandshakes = maxHandshakes
            self.maxConnections = maxConnections
            self.maxConnectionsPerAddress = maxConnectionsPerAddress
            self.requestsPerMinute = requestsPerMinute
        }

        /// Every limit is optional in the file; an absent one takes its default.
        package init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let d = Limits()
            maxEnvelopeBytes = try c.decodeIfPresent(Int.self, forKey: .maxEnvelopeBytes) ?? d.maxEnvelopeBytes
            maxRecords = try c.decodeIfPresent(Int.self, forKey: .maxRecords) ?? d.maxRecords
            maxRecordBytes = try c.decodeIfPresent(Int.self, forKey: .maxRecordBytes) ?? d.maxRecordBytes
            creationWindowSeconds =
                try c.decodeIfPresent(Int.self, forKey: .creationWindowSeconds) ?? d.creationWindowSeconds
            maxPageSize = try c.decodeIfPresent(Int.self, forKey: .maxPageSize) ?? d.maxPageSize
            maxUploadSeconds = try c.decodeIfPresent(Int.self, forKey: .maxUploadSeconds) ?? d.maxUploadSeconds
            idleTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .idleTimeoutSeconds) ?? d.idleTimeoutSeconds
            headerTimeoutSeconds =
                try c.decodeIfPresent(Int.self, forKey: .headerTimeoutSeconds) ?? d.headerTimeoutSeconds
            maxHeaderBytes = try c.decodeIfPresent(Int.self, forKey: .maxHeaderBytes) ?? d.maxHeaderBytes
            handshakeTimeoutSeconds =
                try c.decodeIfPresent(Int.self, forKey: .handshakeTimeoutSeconds) ?? d.handshakeTimeoutSeconds
            maxHandshakes = try c.decodeIfPresent(Int.self, forKey: .maxHandshakes) ?? d.maxHandshakes
            maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? d.maxConnections
            maxConnectionsPerAddress =
                try c.decodeIfPresent(Int.self, forKey: .maxConnectionsPerAddress) ?? d.maxConnectionsPerAddress
            requestsPerMinute = try c.decodeIfPresent(Int.self, forKey: .requestsPerMinute) ?? d.requestsPerMinute
        }
    }

    package init(gateway: Settings, policy: PolicyDocument, datasets: [String]? = nil) {
        self.gateway = gateway
        self.policy = policy
        self.datasets = datasets
    }

    /// The file it was read from (a reload reads it again).
    package private(set) var file: URL? = nil

    /// Where the file was read from; relative paths resolve against it.
    package var baseDirectory: URL? { file?.deletingLastPathComponent() }

    private enum CodingKeys: String, CodingKey { case gateway, policy, datasets }

    /// Reads and decodes a configuration file.
    /// - Throws: ``ConfigurationError`` with the place (path, line and column) and reason of the first problem.
    package static func load(from url: URL) throws -> GatewayConfiguration {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ConfigurationError("cannot read \(url.path): \(error.localizedDescription)")
        }
        func place(_ keys: [any CodingKey]) -> String {
            let path = JSONPath(keys.map { $0.intValue.map(JSONPath.Component.index) ?? .key($0.stringValue) })
            let at = path.location(in: Array(data)).map { ":\($0.line):\($0.column)" } ?? ""
            return "\(url.path)\(at): \(path)"
        }
        do {
            var configuration = try JSONDecoder().decode(GatewayConfiguration.self, from: data)
            configuration.file = url
            return configuration
        } catch let DecodingError.dataCorrupted(context) {
            throw ConfigurationError("\(place(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.keyNotFound(key, context) {
            throw ConfigurationError("\(place(context.codingPath)): \(key.stringValue) is missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw ConfigurationError("\(place(context.codingPath)): \(context.debugDescription)")
        } catch let DecodingError.valueNotFound(_, context) {
            throw ConfigurationError("\(place(context.codingPath)): \(context.debugDescription)")
        } catch {
            throw ConfigurationError("\(url.path): \(error)")
        }
    }

    /// The datasets this configuration names, read and checked: every definition file of
    /// `datasets` (several versions of one dataset among them), or the shipped datasets if it
    /// names none.
    /// - Throws: ``ConfigurationError`` listing every problem of every file, each with its line.
    package func loadDatasets() throws -> DatasetCatalog {
        guard let datasets else { return .shipped }
        var schemas: [DatasetSchema] = []
        var problems: [String] = []
        let bytes = file.flatMap { try? Data(contentsOf: $0) }.map(Array.init) ?? []
        func place(_ index: Int) -> String {
            let path = JSONPath([.key("datasets"), .index(index)])
            let at = path.location(in: bytes).map { ":\($0.line):\($0.column)" } ?? ""
            return "\(file?.path ?? "configuration")\(at): error: \(path)"
        }
        if datasets.isEmpty {
            problems.append("\(place(0)): names no dataset file; leave datasets out for the shipped ones")
        }
        for (index, path) in datasets.enumerated() {
            let schema: DatasetSchema
            do { schema = try DatasetSchema.load(definitionAt: resolve(path)) } catch let error
                as DatasetDefinitionError
            {
                problems += error.lines
                continue
            }
            if schemas.contains(where: { $0.id == schema.id && $0.version == schema.version }) {
                problems.append("\(place(index)): defines \(schema.id) version \(schema.version) again")
                continue
            }
            schemas.append(schema)
        }
        var catalog: DatasetCatalog?
        do { catalog = try DatasetCatalog(schemas) } catch {
            let at = file?.path ?? "configuration"
            problems += error.problems.map { "\(at): error: datasets: \($0)" }
        }
        guard let catalog, problems.isEmpty else {
            throw ConfigurationError(
                "the datasets have \(problems.count) problem(s):\n" + problems.joined(separator: "\n")
            )
        }
        return catalog
    }

    /// The policy's problems (errors first, then warnings), each placed in this file as
    /// `file:line:column: severity: path: message`.
    package func describe(_ problems: [PolicyProblem]) -> [String] {
        let bytes = file.flatMap { try? Data(contentsOf: $0) }.map(Array.init) ?? []
        return problems.sorted { ($0.severity == .error ? 0 : 1) < ($1.severity == .error ? 0 : 1) }.map { problem in
            let path = JSONPath([.key("policy")] + problem.path.components)
            let at = path.location(in: bytes).map { ":\($0.line):\($0.column)" } ?? ""
            return "\(file?.path ?? "policy")\(at): \(problem.severity.rawValue): \(path): \(problem.message)"
        }
    }

    /// Writes the configuration as readable JSON.
    package func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(self).write(to: url)
    }

    /// An absolute path for a path from the file.
    package func resolve(_ path: String) -> URL {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path) }
        return (baseDirectory ?? URL(fileURLWithPath: FileManager.default.currentDirectoryPath)).appendingPathComponent(
            path
        )
    }

}

/// The configuration cannot be used; the message says where and why.
package struct ConfigurationError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
